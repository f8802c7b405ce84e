// Chapter 2: plans and blobs. A model is what Python's encdec/webmodel.py describes: a list of
// operations for the encoder and one for the decoder, each naming PyTorch's own weights; the page runs
// them one after the other. Models, maps, codes and the test digits reach the page as safetensors blobs
// fetched from the server's /encdec/blob/ route, once per page, kept by the browser across reloads.

const zeros = (n) => new Float32Array(n);
const OPS = {
  deskew: (x) => deskew(x),
  linear: (x, op, w) => linear(x, w[op.weight], op.bias ? w[op.bias] : null),
  conv2d: (x, op, w) => conv2d(x, w[op.weight], op.bias ? w[op.bias] : null, op.stride, op.padding),
  conv_transpose2d: (x, op, w) => convTranspose2d(x, w[op.weight], op.bias ? w[op.bias] : null, op.stride, op.padding),
  batchnorm: (x, op, w) => batchNorm(x, w[op.weight], w[op.bias], w[op.mean], w[op.var], op.eps),
  relu: (x) => relu(x),
  tanh: (x) => tanh(x),
  sigmoid: (x) => sigmoid(x),
  softmax: (x) => softmax(x),
  reshape: (x, op) => ({data: x.data, shape: op.shape}),
  take: (x, op) => ({data: x.data.slice(0, op.n), shape: [op.n]}),   // a VAE's code: the mean half
  last: (x) => ({data: x.data.slice(x.data.length - x.shape[1]), shape: [x.shape[1]]}),
  lstm: (x, op, w) => lstm(x, w, op.prefix, op.layers, Array(op.layers).fill(zeros(op.hidden)),
                           Array(op.layers).fill(zeros(op.hidden))),
  lstm_decoder: (x, op, w) => {                          // nets.LSTMDecoder: the code sets the state and feeds every step
    const H = op.hidden, L = op.layers, s = tanh(linear(x, w[op.init_weight], w[op.init_bias])).data;
    const h0 = [], c0 = [];
    for (let l = 0; l < L; l++) {                       // init(z).view(2, L, H): h of each layer, then c of each layer
      h0.push(s.slice(l * H, (l + 1) * H));
      c0.push(s.slice((L + l) * H, (L + l + 1) * H));
    }
    const k = x.data.length, seq = new Float32Array(op.steps * k);
    for (let t = 0; t < op.steps; t++) seq.set(x.data, t * k);
    return lstm({data: seq, shape: [op.steps, k]}, w, op.prefix, L, h0, c0);
  },
};

export function runPlan(ops, w, x) {
  for (const op of ops) {
    const f = OPS[op.op];
    if (!f) throw new Error(`unknown layer ${op.op}`);
    x = f(x, op, w);
  }
  return x;
}

/** A model from its parsed blob: encode(pixels 784) -> code, decode(code) -> 784 pixels or 10 probabilities. */
function modelOf(metadata, tensors) {
  const plan = JSON.parse(metadata.plan);
  return {
    id: metadata.id, plan, kind: plan.kind, codeDim: plan.code_dim,
    encode: (pixels) => runPlan(plan.encoder, tensors, {data: Float32Array.from(pixels), shape: [1, 28, 28]}).data,
    decode: (code) => runPlan(plan.decoder, tensors, {data: Float32Array.from(code), shape: [code.length]}).data,
  };
}

/** What each kind of blob becomes: a model; a map's positions (n, xy) and labels; a split's codes (n, k);
 * the digits of a split as 8-bit pictures (n, 784) with their labels; per-point values (a classifier's
 * predictions, reconstruction errors); a training's frames of the code space. */
const KINDS = {
  model: modelOf,
  map: (m, t) => ({n: t.xy.shape[0], xy: t.xy.data, labels: t.labels.data, raw: m.raw === "1", method: m.method}),
  codes: (m, t) => ({n: t.codes.shape[0], k: t.codes.shape[1], codes: t.codes.data}),
  atlas: (m, t) => ({n: t.images.shape[0], images: t.images.data, labels: t.labels.data}),
  values: (m, t) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.data])),
  frames: (m, t) => ({count: t.xy.shape[0], n: t.xy.shape[1], xy: t.xy.data, labels: t.labels.data, when: t.when.data}),
};

function parsed(bytes) {
  const {metadata, tensors} = parseSafetensors(bytes);
  const make = KINDS[metadata.kind];
  if (!make) throw new Error(`unknown blob ${metadata.kind}`);
  return make(metadata, tensors);
}

/** A model straight from its blob's bytes (the tests compare it with PyTorch). */
export function makeModel(bytes) {
  return parsed(bytes);
}

const fetched = new Map();  // address -> Promise of what its blob holds, shared by every view of the page

/** What the blob at `url` holds (null for no url); fetched once, kept by the browser's own cache. */
export function blob(url) {
  if (!url) return Promise.resolve(null);
  if (!fetched.has(url)) {
    fetched.set(url, fetch(url, {cache: "force-cache"}).then((r) => {
      if (!r.ok) throw new Error(`${r.status}`);
      return r.arrayBuffer();
    }).then((b) => parsed(new Uint8Array(b))));
    fetched.get(url).catch(() => fetched.delete(url));   // a later view may try again
  }
  return fetched.get(url);
}

/** Several blobs at once, by name: {model: url, codes: url} -> Promise of {model, codes}. */
export function blobs(urls) {
  const names = Object.keys(urls || {});
  return Promise.all(names.map((n) => blob(urls[n]))).then((values) => Object.fromEntries(names.map((n, i) => [n, values[i]])));
}
