// The models of this app, run in the page: a forward pass for exactly the layers encdec/nets.py and
// encdec/models.py use, and the views that redraw while the hand moves (the code editor, its
// traversal, interpolation and arithmetic rows). No framework, no build step: Python reads this
// file and hands it to st.components.v2 as text. The Python side stays the reference: every layer
// function below is compared with PyTorch in the browser tests.
//
// A tensor here is {data: Float32Array, shape: [...]}, row-major like PyTorch's.

// ---- weights: a safetensors blob ---------------------------------------------------------------

/** Parse a safetensors file (Uint8Array) into {metadata, tensors: name -> tensor}. Float32 only. */
export function parseSafetensors(bytes) {
  const buffer = bytes.slice().buffer;                   // a fresh, aligned copy
  const view = new DataView(buffer);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, n)));
  const tensors = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    if (t.dtype !== "F32") throw new Error(`tensor ${name} is ${t.dtype}, not F32`);
    const [begin, end] = t.data_offsets;
    tensors[name] = {data: new Float32Array(buffer, 8 + n + begin, (end - begin) / 4), shape: t.shape};
  }
  return {metadata: header.__metadata__ || {}, tensors};
}

// ---- layers: one function per kind ---------------------------------------------------------------

/** x (..., in) -> (..., out); W (out, in), b (out) or null. */
export function linear(x, W, b) {
  const [out, inn] = W.shape, rows = x.data.length / inn, w = W.data;
  const y = new Float32Array(rows * out);
  for (let r = 0; r < rows; r++) {
    const xo = r * inn;
    for (let o = 0; o < out; o++) {
      const wo = o * inn;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, i = 0;
      for (; i + 3 < inn; i += 4) {                      // four sums at once: the CPU overlaps them
        s0 += w[wo + i] * x.data[xo + i];
        s1 += w[wo + i + 1] * x.data[xo + i + 1];
        s2 += w[wo + i + 2] * x.data[xo + i + 2];
        s3 += w[wo + i + 3] * x.data[xo + i + 3];
      }
      for (; i < inn; i++) s0 += w[wo + i] * x.data[xo + i];
      y[r * out + o] = s0 + s1 + s2 + s3 + (b ? b.data[o] : 0);
    }
  }
  return {data: y, shape: [...x.shape.slice(0, -1), out]};
}

/** x (Cin, H, W) -> (Cout, Ho, Wo); W (Cout, Cin, k, k). Each output position's input patch is
 * gathered once (zeros outside the image), then every output channel is a dot product with it. */
export function conv2d(x, W, b, stride, pad) {
  const [cin, h, w] = x.shape, [cout, , k] = W.shape, xd = x.data, wd = W.data;
  const ho = Math.floor((h + 2 * pad - k) / stride) + 1, wo = Math.floor((w + 2 * pad - k) / stride) + 1;
  const n = cin * k * k, positions = ho * wo, patches = new Float32Array(positions * n);
  for (let oy = 0; oy < ho; oy++) {
    for (let ox = 0; ox < wo; ox++) {
      let p = (oy * wo + ox) * n;
      for (let ci = 0; ci < cin; ci++) {
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * stride - pad + ky, row = (ci * h + iy) * w;
          for (let kx = 0; kx < k; kx++, p++) {
            const ix = ox * stride - pad + kx;
            if (iy >= 0 && iy < h && ix >= 0 && ix < w) patches[p] = xd[row + ix];
          }
        }
      }
    }
  }
  const y = new Float32Array(cout * positions);
  for (let co = 0; co < cout; co++) {
    const wo0 = co * n, bias = b ? b.data[co] : 0;
    for (let pos = 0; pos < positions; pos++) {
      const p0 = pos * n;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, i = 0;
      for (; i + 3 < n; i += 4) {
        s0 += wd[wo0 + i] * patches[p0 + i];
        s1 += wd[wo0 + i + 1] * patches[p0 + i + 1];
        s2 += wd[wo0 + i + 2] * patches[p0 + i + 2];
        s3 += wd[wo0 + i + 3] * patches[p0 + i + 3];
      }
      for (; i < n; i++) s0 += wd[wo0 + i] * patches[p0 + i];
      y[co * positions + pos] = s0 + s1 + s2 + s3 + bias;
    }
  }
  return {data: y, shape: [cout, ho, wo]};
}

const packed = new WeakMap();  // weights -> their per-class copies, made once per model

function classWeights(W, stride, ry, rx, kys, kxs) {
  if (!packed.has(W)) packed.set(W, new Map());
  const cache = packed.get(W), name = `${stride}:${ry}:${rx}`;
  if (!cache.has(name)) {
    const [cin, cout, k] = W.shape, taps = kys.length * kxs.length, n = cin * taps, wc = new Float32Array(cout * n);
    for (let co = 0; co < cout; co++) {
      for (let ci = 0; ci < cin; ci++) {
        for (let a = 0; a < kys.length; a++) {
          for (let c = 0; c < kxs.length; c++) wc[co * n + ci * taps + a * kxs.length + c] = W.data[((ci * cout + co) * k + kys[a]) * k + kxs[c]];
        }
      }
    }
    cache.set(name, wc);
  }
  return cache.get(name);
}

/** x (Cin, H, W) -> (Cout, Ho, Wo); W (Cin, Cout, k, k), as PyTorch's ConvTranspose2d: output o gets
 * input i through kernel tap t when o = i * stride - pad + t. Outputs are taken one parity class at a
 * time (o + pad = class mod stride), whose taps are the same for all its outputs, so each output is a
 * dot product of a gathered patch with that class's weights. */
export function convTranspose2d(x, W, b, stride, pad) {
  const [cin, h, w] = x.shape, [, cout, k] = W.shape, xd = x.data;
  const ho = (h - 1) * stride - 2 * pad + k, wo = (w - 1) * stride - 2 * pad + k;
  const y = new Float32Array(cout * ho * wo);
  const tapsOf = (r) => Array.from({length: k}, (_, t) => t).filter((t) => (((r - t) % stride) + stride) % stride === 0);
  for (let ry = 0; ry < stride; ry++) {
    for (let rx = 0; rx < stride; rx++) {
      const kys = tapsOf(ry), kxs = tapsOf(rx), taps = kys.length * kxs.length, n = cin * taps;
      const wc = classWeights(W, stride, ry, rx, kys, kxs);  // this class's weights, (Cout, Cin, taps)
      const patch = new Float32Array(n);
      for (let oy = (((ry - pad) % stride) + stride) % stride; oy < ho; oy += stride) {
        for (let ox = (((rx - pad) % stride) + stride) % stride; ox < wo; ox += stride) {
          let p = 0;
          for (let ci = 0; ci < cin; ci++) {
            for (const ky of kys) {
              const iy = (oy + pad - ky) / stride, row = (ci * h + iy) * w;
              for (const kx of kxs) {
                const ix = (ox + pad - kx) / stride;
                patch[p++] = iy >= 0 && iy < h && ix >= 0 && ix < w ? xd[row + ix] : 0;
              }
            }
          }
          for (let co = 0; co < cout; co++) {
            const w0 = co * n;
            let s0 = 0, s1 = 0, s2 = 0, s3 = 0, i = 0;
            for (; i + 3 < n; i += 4) {
              s0 += wc[w0 + i] * patch[i];
              s1 += wc[w0 + i + 1] * patch[i + 1];
              s2 += wc[w0 + i + 2] * patch[i + 2];
              s3 += wc[w0 + i + 3] * patch[i + 3];
            }
            for (; i < n; i++) s0 += wc[w0 + i] * patch[i];
            y[(co * ho + oy) * wo + ox] = s0 + s1 + s2 + s3 + (b ? b.data[co] : 0);
          }
        }
      }
    }
  }
  return {data: y, shape: [cout, ho, wo]};
}

/** BatchNorm in eval mode: per channel (x - mean) / sqrt(var + eps) * gamma + beta; x (C, ...). */
export function batchNorm(x, gamma, beta, mean, variance, eps) {
  const c = x.shape[0], per = x.data.length / c, y = new Float32Array(x.data.length);
  for (let i = 0; i < c; i++) {
    const scale = gamma.data[i] / Math.sqrt(variance.data[i] + eps), shift = beta.data[i] - mean.data[i] * scale;
    for (let j = i * per; j < (i + 1) * per; j++) y[j] = x.data[j] * scale + shift;
  }
  return {data: y, shape: x.shape};
}

const map = (x, f) => ({data: x.data.map(f), shape: x.shape});
export const relu = (x) => map(x, (v) => (v > 0 ? v : 0));
export const sigmoid = (x) => map(x, (v) => 1 / (1 + Math.exp(-v)));
export const tanh = (x) => map(x, Math.tanh);

/** Softmax over the last dimension. */
export function softmax(x) {
  const n = x.shape[x.shape.length - 1], y = new Float32Array(x.data.length);
  for (let r = 0; r < x.data.length; r += n) {
    let top = -Infinity, sum = 0;
    for (let i = 0; i < n; i++) top = Math.max(top, x.data[r + i]);
    for (let i = 0; i < n; i++) sum += (y[r + i] = Math.exp(x.data[r + i] - top));
    for (let i = 0; i < n; i++) y[r + i] /= sum;
  }
  return {data: y, shape: x.shape};
}

/** One LSTM layer over a sequence x (T, I) from state (h, c) (Float32Arrays of H), in PyTorch's
 * gate order i, f, g, o: c' = f c + i g, h' = o tanh(c'). Returns the hidden states (T, H). */
export function lstmLayer(x, Wih, Whh, bih, bhh, h, c) {
  const [T, I] = x.shape, H = Whh.shape[1], G = 4 * H;
  h = Float32Array.from(h);
  c = Float32Array.from(c);
  const out = new Float32Array(T * H), gates = new Float32Array(G);
  for (let t = 0; t < T; t++) {
    for (let g = 0; g < G; g++) {
      const wi = g * I, wh = g * H, xt = t * I, wih = Wih.data, whh = Whh.data, xs = x.data;
      let s0 = bih.data[g] + bhh.data[g], s1 = 0, s2 = 0, s3 = 0, i = 0, j = 0;
      for (; i + 1 < I; i += 2) { s0 += wih[wi + i] * xs[xt + i]; s1 += wih[wi + i + 1] * xs[xt + i + 1]; }
      for (; i < I; i++) s0 += wih[wi + i] * xs[xt + i];
      for (; j + 1 < H; j += 2) { s2 += whh[wh + j] * h[j]; s3 += whh[wh + j + 1] * h[j + 1]; }
      for (; j < H; j++) s2 += whh[wh + j] * h[j];
      gates[g] = s0 + s1 + s2 + s3;
    }
    for (let j = 0; j < H; j++) {
      const ig = 1 / (1 + Math.exp(-gates[j])), fg = 1 / (1 + Math.exp(-gates[H + j]));
      const gg = Math.tanh(gates[2 * H + j]), og = 1 / (1 + Math.exp(-gates[3 * H + j]));
      c[j] = fg * c[j] + ig * gg;
      h[j] = og * Math.tanh(c[j]);
      out[t * H + j] = h[j];
    }
  }
  return {data: out, shape: [T, H]};
}

/** Stacked LSTM layers named like PyTorch's (prefix.weight_ih_l0 ...); initial states per layer. */
export function lstm(x, w, prefix, layers, h0, c0) {
  for (let l = 0; l < layers; l++) {
    x = lstmLayer(x, w[`${prefix}.weight_ih_l${l}`], w[`${prefix}.weight_hh_l${l}`], w[`${prefix}.bias_ih_l${l}`],
                  w[`${prefix}.bias_hh_l${l}`], h0[l], c0[l]);
  }
  return x;
}

/** nets.deskew: the digit (1, 28, 28) made upright by its moments and its centre of mass moved to
 * the middle; bilinear, zeros outside, the slant at most `limit` either way. */
export function deskew(x, limit = 1) {
  const img = x.data, out = new Float32Array(784);
  let mass = 0, cy = 0, cx = 0;
  for (let i = 0; i < 784; i++) { mass += img[i]; cy += img[i] * Math.floor(i / 28); cx += img[i] * (i % 28); }
  if (mass <= 1e-6) return {data: Float32Array.from(img), shape: x.shape};
  cy /= mass; cx /= mass;
  let variance = 0, cov = 0;
  for (let i = 0; i < 784; i++) {
    const dy = Math.floor(i / 28) - cy, dx = (i % 28) - cx;
    variance += img[i] * dy * dy; cov += img[i] * dy * dx;
  }
  const alpha = Math.max(-limit, Math.min(limit, cov / mass / Math.max(variance / mass, 1e-6)));
  const at = (r, c) => (r >= 0 && r < 28 && c >= 0 && c < 28 ? img[r * 28 + c] : 0);
  for (let i = 0; i < 28; i++) {
    const sr = i + cy - 13.5, r0 = Math.floor(sr), fr = sr - r0;
    for (let j = 0; j < 28; j++) {
      const sc = j + alpha * (i - 13.5) + cx - 13.5, c0 = Math.floor(sc), fc = sc - c0;
      out[i * 28 + j] = (1 - fr) * ((1 - fc) * at(r0, c0) + fc * at(r0, c0 + 1)) + fr * ((1 - fc) * at(r0 + 1, c0) + fc * at(r0 + 1, c0 + 1));
    }
  }
  return {data: out, shape: x.shape};
}

// ---- plans: what Python's encdec/webmodel.py describes, run op by op ----------------------------------

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

/** A model from its blob: encode(pixels 784) -> code, decode(code) -> 784 pixels or 10 probabilities. */
export function makeModel(bytes) {
  const {metadata, tensors} = parseSafetensors(bytes);
  const plan = JSON.parse(metadata.plan);
  return {
    id: metadata.id, plan, kind: plan.kind, codeDim: plan.code_dim,
    encode: (pixels) => runPlan(plan.encoder, tensors, {data: Float32Array.from(pixels), shape: [1, 28, 28]}).data,
    decode: (code) => runPlan(plan.decoder, tensors, {data: Float32Array.from(code), shape: [code.length]}).data,
  };
}

/** A map from its blob: positions (N, 2) and labels; the codes of its points come in a blob of their own. */
export function makeMap(bytes) {
  const {metadata, tensors} = parseSafetensors(bytes);
  return {id: metadata.id, n: tensors.xy.shape[0], xy: tensors.xy.data, labels: tensors.labels.data,
          raw: metadata.raw === "1"};
}

/** The codes (N, k) of a map's points, from their blob. */
export function makeCodes(bytes) {
  const {metadata, tensors} = parseSafetensors(bytes);
  return {id: metadata.id, k: tensors.codes.shape[1], codes: tensors.codes.data};
}

// Models and maps are shared by every view on the page (one module instance serves all mounts).
const shared = new Map();                                // id -> {value, waiting: [resolve...]}
function entry(id) {
  if (!shared.has(id)) shared.set(id, {value: null, waiting: []});
  return shared.get(id);
}
function register(bytes) {
  const kind = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true)))))
    .__metadata__.kind;
  const value = (kind === "map" ? makeMap : kind === "codes" ? makeCodes : makeModel)(bytes), e = entry(value.id);
  if (!e.value) {
    e.value = value;
    e.waiting.splice(0).forEach((resolve) => resolve(value));
  }
}
function ready(id) {
  if (!id) return Promise.resolve(null);
  const e = entry(id);
  return e.value ? Promise.resolve(e.value) : new Promise((resolve) => e.waiting.push(resolve));
}

// ---- pictures --------------------------------------------------------------------------------------

/** Draw a 28x28 image (values in [0, 1]) into a canvas at (x, y) of its 2-D context. */
function putImage(ctx, pixels, x = 0, y = 0) {
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = Math.max(0, Math.min(255, Math.round(pixels[i] * 255)));
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, x, y);
}

function putDataUrl(ctx, url, x = 0, y = 0) {
  const img = new Image();
  img.onload = () => ctx.drawImage(img, x, y);
  img.src = url;
}

/** Class probabilities as bars into a canvas; the most likely one in red. */
function putProbabilities(canvas, probs, names) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height, n = probs.length;
  const top = probs.indexOf(Math.max(...probs)), bw = w / n;
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px sans-serif";
  ctx.textAlign = "center";
  for (let i = 0; i < n; i++) {
    const bh = probs[i] * (h - 30);
    ctx.fillStyle = i === top ? "#d62728" : "#1f77b4";
    ctx.fillRect(i * bw + 3, h - 16 - bh, bw - 6, bh);
    ctx.fillStyle = "#444";
    ctx.fillText(String(names[i]).slice(0, 7), i * bw + bw / 2, h - 3);
  }
  ctx.fillText(`${names[top]} ${(100 * probs[top]).toFixed(0)}%`, Math.min(w - 30, Math.max(30, top * bw + bw / 2)),
               Math.max(11, h - 20 - probs[top] * (h - 30)));
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const c of children) node.append(c);
  return node;
}

function canvas(width, height, cls) {
  return el("canvas", {width, height, className: cls});
}

/** Redraw inside requestAnimationFrame, once per frame, only when asked to. */
function painter(draw) {
  let pending = 0, frames = 0;
  const ask = () => {
    if (!pending) pending = requestAnimationFrame(() => { pending = 0; frames += 1; draw(); });
  };
  ask.frames = () => frames;
  ask.cancel = () => { if (pending) cancelAnimationFrame(pending); pending = 0; };
  ask.now = () => { ask.cancel(); frames += 1; draw(); };
  return ask;
}

/** Send to Python on release, at most every 250 ms: each send in a new turn reruns the script. */
function throttled(send, gap = 250) {
  let last = 0, timer = 0, value;
  const fire = () => { timer = 0; last = performance.now(); send(value); };
  const push = (v) => {
    value = v;
    if (timer) return;
    const wait = last + gap - performance.now();
    if (wait <= 0) fire(); else timer = setTimeout(fire, wait);
  };
  push.cancel = () => timer && clearTimeout(timer);
  return push;
}

const interpolate = (a, b, steps, method) => {
  const out = [];
  const dot = a.reduce((s, v, i) => s + v * b[i], 0), na = Math.hypot(...a), nb = Math.hypot(...b);
  const omega = Math.acos(Math.max(-1, Math.min(1, dot / Math.max(na * nb, 1e-12))));
  for (let s = 0; s < steps; s++) {
    const t = s / (steps - 1);
    if (method === "slerp" && Math.abs(omega) > 1e-4) {
      const p = Math.sin((1 - t) * omega) / Math.sin(omega), q = Math.sin(t * omega) / Math.sin(omega);
      out.push(a.map((v, i) => p * v + q * b[i]));
    } else out.push(a.map((v, i) => (1 - t) * v + t * b[i]));
  }
  return out;
};

// ---- drawings: the same steps as encdec/digitize.py, in the page ----------------------------------------

/** A canvas's RGBA pixels (light strokes on a dark or transparent background) -> ink in [0, 1]. */
export function inkFromCanvas(rgba, width, height) {
  const ink = new Float32Array(width * height);
  for (let i = 0; i < ink.length; i++) {
    ink[i] = ((rgba[4 * i] + rgba[4 * i + 1] + rgba[4 * i + 2]) / 3 / 255) * (rgba[4 * i + 3] / 255);
  }
  return ink;
}

/** Pillow's resampling weights for one axis (its Resample.c): a filter stretched by the scale when
 * shrinking, so a downscale averages every input pixel it covers. */
function resampleWeights(inSize, outSize, filter, support) {
  const scale = inSize / outSize, fs = Math.max(scale, 1), reach = support * fs, out = [];
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - reach + 0.5), 0), hi = Math.min(Math.trunc(center + reach + 0.5), inSize);
    const w = [];
    let total = 0;
    for (let i = lo; i < hi; i++) { const v = filter((i - center + 0.5) / fs); w.push(v); total += v; }
    out.push({lo, w: w.map((v) => (total ? v / total : 0))});
  }
  return out;
}
const sinc = (x) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));
const LANCZOS = [(x) => (Math.abs(x) < 3 ? sinc(x) * sinc(x / 3) : 0), 3];
const BILINEAR = [(x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0), 1];

/** Resize a float image (h, w) to (nh, nw) as Pillow does for mode "F": rows first, then columns. */
export function resize(img, h, w, nh, nw, [filter, support]) {
  const across = resampleWeights(w, nw, filter, support), down = resampleWeights(h, nh, filter, support);
  const tmp = new Float64Array(h * nw), out = new Float32Array(nh * nw);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < nw; x++) {
      const {lo, w: ws} = across[x];
      let s = 0;
      for (let i = 0; i < ws.length; i++) s += ws[i] * img[y * w + lo + i];
      tmp[y * nw + x] = s;
    }
  }
  for (let y = 0; y < nh; y++) {
    const {lo, w: ws} = down[y];
    for (let x = 0; x < nw; x++) {
      let s = 0;
      for (let i = 0; i < ws.length; i++) s += ws[i] * tmp[(lo + i) * nw + x];
      out[y * nw + x] = s;
    }
  }
  return out;
}

const MIN_INK = 0.001;  // digitize.MIN_INK: below this share of inked canvas, a drawing counts as empty

/** digitize.to_mnist: crop to the ink, scale the longer side to 20 pixels, centre the mass in 28x28.
 * Returns 784 values in [0, 1], or null for an empty drawing (or a speck). */
export function toMnist(ink, h, w) {
  let inked = 0, top = h, bottom = -1, left = w, right = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (ink[y * w + x] > 0.1) {
        inked += 1;
        if (y < top) top = y;
        if (y > bottom) bottom = y;
        if (x < left) left = x;
        if (x > right) right = x;
      }
    }
  }
  if (inked / (h * w) < MIN_INK) return null;
  const ch = bottom - top + 1, cw = right - left + 1, crop = new Float32Array(ch * cw);
  for (let y = 0; y < ch; y++) for (let x = 0; x < cw; x++) crop[y * cw + x] = Math.min(1, Math.max(0, ink[(top + y) * w + left + x]));
  const scale = 20 / Math.max(ch, cw);
  const nh = Math.max(1, Math.round(ch * scale)), nw = Math.max(1, Math.round(cw * scale));
  const small = resize(crop, ch, cw, nh, nw, scale > 1 ? BILINEAR : LANCZOS).map((v) => Math.min(1, Math.max(0, v)));
  const frame = new Float32Array(784), y0 = Math.floor((28 - nh) / 2), x0 = Math.floor((28 - nw) / 2);
  for (let y = 0; y < nh; y++) for (let x = 0; x < nw; x++) frame[(y0 + y) * 28 + x0 + x] = small[y * nw + x];
  let mass = 0, my = 0, mx = 0;
  for (let i = 0; i < 784; i++) { mass += frame[i]; my += frame[i] * Math.floor(i / 28); mx += frame[i] * (i % 28); }
  if (mass <= 0) return null;
  const dy = 13.5 - my / mass, dx = 13.5 - mx / mass, out = new Float32Array(784);
  for (let y = 0; y < 28; y++) {                       // scipy.ndimage.shift(order=1, mode="constant")
    const sy = y - dy;
    if (sy < 0 || sy > 27) continue;
    const ya = Math.floor(sy), yb = Math.min(ya + 1, 27), fy = sy - ya;
    for (let x = 0; x < 28; x++) {
      const sx = x - dx;
      if (sx < 0 || sx > 27) continue;
      const xa = Math.floor(sx), xb = Math.min(xa + 1, 27), fx = sx - xa;
      const v = (1 - fy) * ((1 - fx) * frame[ya * 28 + xa] + fx * frame[ya * 28 + xb]) +
                fy * ((1 - fx) * frame[yb * 28 + xa] + fx * frame[yb * 28 + xb]);
      out[y * 28 + x] = Math.min(1, Math.max(0, v));
    }
  }
  return out;
}

/** Strokes (lists of [x, y] points) drawn white on black by a round pen, as the Draw page's box draws them. */
export function drawStrokes(ctx, strokes, width) {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  ctx.strokeStyle = ctx.fillStyle = "#fff";
  ctx.lineCap = ctx.lineJoin = "round";
  for (const {points, pen} of strokes) {
    ctx.lineWidth = pen || width;
    if (points.length === 1) {
      ctx.beginPath();
      ctx.arc(points[0][0], points[0][1], ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
      continue;
    }
    ctx.beginPath();
    ctx.moveTo(points[0][0], points[0][1]);
    for (const [x, y] of points.slice(1)) ctx.lineTo(x, y);
    ctx.stroke();
  }
}

/** One drawing turned into the 28x28 the models see (null when empty). */
export function digitOf(ctx) {
  const {width, height} = ctx.canvas;
  return toMnist(inkFromCanvas(ctx.getImageData(0, 0, width, height).data, width, height), height, width);
}

// ---- views ---------------------------------------------------------------------------------------------

const CELL_C = 40;        // width of a traversal cell that shows a class and its probability
const state = new Map();  // per mounted view (its key): what the hand has set, kept across reruns

/** The code editor: one slider per code dimension, the decoded picture redrawn on every frame in
 * which the code changed, and a traversal grid that catches up frame by frame. Without a model
 * (one the page cannot run) the same editor shows the pictures Python drew after the last release. */
function editorView(root, d, model, setStateValue) {
  const t = d.text, k = d.start.length;
  const mine = state.get(d.key);
  const fresh = !mine || mine.version !== d.version || mine.model !== d.model_key;
  const s = fresh ? {code: d.code.slice(), version: d.version, model: d.model_key, focus: null, seq: 0} : mine;
  state.set(d.key, s);
  // What Python hears: the code, the version of the start it edits, and a count of releases.
  const send = throttled((code) => setStateValue("edit", {version: s.version, seq: ++s.seq, code}));

  const picture = d.classifier ? canvas(300, 190, "probs") : canvas(28, 28, "big");
  const right = el("div", {className: "right"}, picture, el("div", {className: "caption", textContent: d.classifier ? t.probabilities : t.edited}));
  const list = el("div", {className: "sliders"});
  const more = el("details", {}, el("summary", {textContent: t.more}));
  const resetAll = el("button", {textContent: t.reset_all, className: "reset-all"});
  const left = el("div", {className: "left"}, resetAll, list);
  const trav = el("div", {className: "traversal"});
  root.replaceChildren(el("div", {className: "editor"}, left, right), el("h4", {textContent: t.traversal}), trav);

  const inputs = {}, values = {};
  const order = () => (s.focus === null ? d.order : [s.focus, ...d.order.filter((x) => x !== s.focus)]);
  const shownDims = () => order().slice(0, d.shown);
  function row(dim) {
    const lo = Math.min(d.low[dim], d.start[dim], s.code[dim]), hi = Math.max(d.high[dim], d.start[dim], s.code[dim]);
    const input = el("input", {type: "range", min: lo, max: hi, step: (hi - lo) / 400, value: s.code[dim]});
    input.dataset.dim = dim;
    const value = el("span", {className: "value", textContent: s.code[dim].toFixed(2)});
    const reset = el("button", {textContent: "↺", title: t.reset_help, className: "reset"});
    input.addEventListener("input", () => {
      s.code[dim] = +input.value;
      value.textContent = (+input.value).toFixed(2);
      lastInput = performance.now();
      redraw();
    });
    input.addEventListener("change", () => send(s.code.slice()));
    reset.addEventListener("click", () => set(dim, d.start[dim]));
    inputs[dim] = input;
    values[dim] = value;
    const label = el("span", {className: "label", textContent: `${s.focus === dim ? "▶ " : ""}${t.dim.replace("{d}", dim)} · ${t.start} ${d.start[dim].toFixed(2)}`});
    return el("div", {className: "row"}, label, input, value, reset);
  }
  function set(dim, v) {
    s.code[dim] = v;
    inputs[dim].value = v;
    values[dim].textContent = v.toFixed(2);
    redraw();
    send(s.code.slice());
  }
  function layout() {
    const dims = order();
    list.replaceChildren(...dims.slice(0, d.shown).map(row));
    more.replaceChildren(el("summary", {textContent: t.more.replace("{n}", dims.length - d.shown)}), ...dims.slice(d.shown).map(row));
    if (dims.length > d.shown) list.append(more);
  }
  resetAll.addEventListener("click", () => {
    d.start.forEach((v, i) => { s.code[i] = v; inputs[i].value = v; values[i].textContent = v.toFixed(2); });
    redraw();
    send(s.code.slice());
  });

  // The traversal: each row sweeps one dimension around the current code (the middle column).
  const strips = [];
  function travLayout() {
    strips.length = 0;
    trav.replaceChildren(...shownDims().map((dim) => {
      const strip = canvas(d.steps * (d.classifier ? CELL_C : 29) - 1, d.classifier ? 36 : 28, d.classifier ? "strip classes" : "strip");
      const edit = el("button", {textContent: `${t.edit} ${dim}`, className: "edit"});
      edit.addEventListener("click", () => { s.focus = dim; layout(); travLayout(); travRestart(); });
      strips.push({dim, strip});
      return el("div", {className: "trow"}, edit, strip);
    }));
  }
  // The grid catches up one picture at a time, within a few ms per frame, and waits while the hand
  // moves: the picture under the hand always comes first.
  let version = 0, lastInput = 0, travTimer = 0, cursor = 0;
  const sweepCode = (dim, j) => {
    const z = s.code.slice();
    z[dim] = s.code[dim] + (d.high[dim] - d.low[dim]) * (j / (d.steps - 1) - 0.5);
    return z;
  };
  function drawCell(entry, j) {
    const ctx = entry.strip.getContext("2d");
    if (!model) {                                        // server mode: Python drew this row
      const url = d.server.traversal[entry.dim];
      if (url && j === 0) putDataUrl(ctx, url);
      return;
    }
    const out = model.decode(sweepCode(entry.dim, j)), middle = j === (d.steps - 1) / 2;
    if (d.classifier) {
      const top = out.indexOf(Math.max(...out));
      ctx.fillStyle = "#fff";
      ctx.fillRect(j * CELL_C, 0, CELL_C - 1, entry.strip.height);
      ctx.fillStyle = middle ? "#d62728" : "#333";
      ctx.font = "12px sans-serif";
      ctx.fillText(String(d.classes[top]).slice(0, 5), j * CELL_C + 3, 15);
      ctx.fillText(`${Math.round(out[top] * 100)}%`, j * CELL_C + 3, 31);
    } else putImage(ctx, out, j * 29, 0);
    if (middle) {
      ctx.strokeStyle = "#d62728";
      ctx.strokeRect(j * (d.classifier ? CELL_C : 29) + 0.5, 0.5, (d.classifier ? CELL_C : 28) - 1, entry.strip.height - 1);
    }
  }
  function travWork() {
    travTimer = 0;
    if (performance.now() - lastInput < 150) { travTimer = requestAnimationFrame(travWork); return; }
    const until = performance.now() + 6, total = strips.length * d.steps;
    while (cursor < total && performance.now() < until) {
      drawCell(strips[Math.floor(cursor / d.steps)], cursor % d.steps);
      cursor += 1;
    }
    if (cursor < total) travTimer = requestAnimationFrame(travWork);
  }
  function travRestart() {
    version += 1;
    cursor = 0;
    if (!travTimer) travTimer = requestAnimationFrame(travWork);
  }

  let decodeMs = 0;
  const draw = painter(() => {
    if (!model) {                                        // server mode: the pictures of the last release
      if (d.server.probs) putProbabilities(picture, d.server.probs, d.classes);
      else if (d.server.image) putDataUrl(picture.getContext("2d"), d.server.image);
      travRestart();
      return;
    }
    const t0 = performance.now();
    const out = model.decode(s.code);
    decodeMs = performance.now() - t0;
    if (d.classifier) putProbabilities(picture, Array.from(out), d.classes);
    else putImage(picture.getContext("2d"), out);
    root.dataset.frames = String(draw.frames());
    root.dataset.decodeMs = decodeMs.toFixed(2);
    travRestart();
  });
  function redraw() { draw(); }
  layout();
  travLayout();
  redraw();
  return () => { draw.cancel(); send.cancel(); if (travTimer) cancelAnimationFrame(travTimer); };
}

/** A row of decoded codes: interpolation from A to B (steps and path set here, live), or A, B, C and A - B + C. */
function rowView(root, d, model) {
  const t = d.text, s = state.get(d.key) || {steps: d.steps, method: d.method};
  state.set(d.key, s);
  const strip = canvas(1, 1, "row");
  const labels = el("div", {className: "row-labels"});
  const controls = el("div", {className: "controls"});
  root.replaceChildren(controls, strip, labels);
  const draw = painter(() => {
    const codes = d.view === "interpolation" ? interpolate(d.codes[0], d.codes[1], s.steps, s.method) : d.codes;
    const names = d.view === "interpolation" ? codes.map((_, i) => (i / (codes.length - 1)).toFixed(2)) : d.names;
    const outs = codes.map((z) => model.decode(z));
    const cell = d.classifier ? 60 : 29;
    strip.width = codes.length * cell - 1;
    strip.height = d.classifier ? 60 : 28;
    const ctx = strip.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, strip.width, strip.height);
    outs.forEach((out, j) => {
      if (d.classifier) {
        const top = out.indexOf(Math.max(...out));
        ctx.fillStyle = "#333";
        ctx.font = "12px sans-serif";
        ctx.fillText(String(d.classes[top]).slice(0, 8), j * cell + 2, 24);
        ctx.fillText(`${Math.round(out[top] * 100)}%`, j * cell + 2, 44);
      } else putImage(ctx, out, j * cell, 0);
    });
    strip.style.width = `${strip.width * (d.classifier ? 1 : 3)}px`;
    labels.replaceChildren(...names.map((n) => el("span", {textContent: n, style: `width:${cell * (d.classifier ? 1 : 3)}px`})));
    root.dataset.frames = String(draw.frames());
  });
  if (d.view === "interpolation") {
    const steps = el("input", {type: "range", min: 3, max: 16, step: 1, value: s.steps});
    const stepsLabel = el("span", {textContent: `${t.steps}: ${s.steps}`});
    steps.addEventListener("input", () => { s.steps = +steps.value; stepsLabel.textContent = `${t.steps}: ${s.steps}`; draw(); });
    const paths = ["linear", "slerp"].map((m) => {
      const b = el("button", {textContent: t[m], className: m === s.method ? "on" : ""});
      b.addEventListener("click", () => { s.method = m; paths.forEach((p) => p.classList.toggle("on", p === b)); draw(); });
      return b;
    });
    controls.replaceChildren(stepsLabel, steps, el("span", {textContent: `${t.path}:`}), ...paths);
  }
  draw();
  return () => draw.cancel();
}

/** Code values as bars (a canvas), positive up. */
function putCodeBars(canvas, code) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height, n = code.length;
  const top = Math.max(1e-6, ...code.map(Math.abs)), bw = w / n;
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = "#ccc";
  ctx.fillRect(0, h / 2, w, 1);
  ctx.fillStyle = "#1f77b4";
  code.forEach((v, i) => {
    const bh = (v / top) * (h / 2 - 2);
    ctx.fillRect(i * bw + 1, bh > 0 ? h / 2 - bh : h / 2, Math.max(1, bw - 2), Math.abs(bh));
  });
}

/** Draw a digit: the page turns the ink into the 28x28 the models see at every frame of a stroke, and runs
 * the chosen model's encoder and a classifier; Python hears the 28x28 when the pen lifts. */
function drawView(root, d, model, classifier, setStateValue) {
  const t = d.text, s = state.get(d.key) || {strokes: [], pen: d.pen, seq: 0};
  state.set(d.key, s);
  const board = canvas(280, 280, "board"), ctx = board.getContext("2d", {willReadFrequently: true});
  const undo = el("button", {textContent: t.undo}), clear = el("button", {textContent: t.clear});
  const pen = el("input", {type: "range", min: 6, max: 40, step: 1, value: s.pen, className: "pen"});
  const seen = canvas(28, 28, "seen"), code = canvas(260, 90, "code"), recon = canvas(28, 28, "seen recon");
  const probs = canvas(300, 150, "probs small"), verdict = el("div", {className: "verdict"});
  const right = el("div", {className: "right"},
    el("div", {className: "pair"}, el("figure", {}, seen, el("figcaption", {textContent: t.seen})),
       ...(!model || model.kind === "classifier" ? [] : [el("figure", {}, recon, el("figcaption", {textContent: t.reconstruction}))])),
    ...(model ? [el("div", {className: "caption", textContent: t.code}), code] : []),
    ...(classifier ? [verdict, probs] : [el("div", {className: "caption", textContent: t.no_classifier})]));
  root.replaceChildren(el("div", {className: "draw"},
    el("div", {className: "left"}, board, el("div", {className: "controls"}, undo, clear, el("span", {textContent: t.pen}), pen),
       el("div", {className: "caption", textContent: t.help})), right));
  let updates = 0, digit = null;
  // The box is drawn incrementally while a stroke grows (only its new segments), and in full after an
  // undo, a clear or a new mount: the same ink either way, a round pen's segments joined by round caps.
  let inked = -1, last = null;
  function ink() {
    const stroke = s.strokes[s.strokes.length - 1];
    if (inked < 0 || stroke !== last || !stroke) {
      drawStrokes(ctx, s.strokes, s.pen);
      last = stroke;
      inked = stroke ? stroke.points.length : 0;
      return;
    }
    const p = stroke.points;
    if (inked < p.length) {
      ctx.strokeStyle = "#fff";
      ctx.lineCap = ctx.lineJoin = "round";
      ctx.lineWidth = stroke.pen;
      ctx.beginPath();
      ctx.moveTo(...p[inked - 1]);
      for (let i = inked; i < p.length; i++) ctx.lineTo(...p[i]);
      ctx.stroke();
      inked = p.length;
    }
  }
  const update = painter(() => {
    const t0 = performance.now();
    ink();
    digit = digitOf(ctx);
    for (const c of [seen, recon]) c.getContext("2d").clearRect(0, 0, 28, 28);
    if (!digit) {
      code.getContext("2d").clearRect(0, 0, code.width, code.height);
      probs.getContext("2d").clearRect(0, 0, probs.width, probs.height);
      verdict.textContent = s.strokes.length ? t.speck : "";
      root.dataset.prediction = "";
    } else {
      putImage(seen.getContext("2d"), digit);
      if (model) {                                       // a model the page cannot run: Python answers on lift
        const z = model.encode(digit);
        putCodeBars(code, Array.from(z));
        if (model.kind !== "classifier") putImage(recon.getContext("2d"), model.decode(z));
      }
      if (classifier) {
        const p = Array.from(classifier.decode(classifier.encode(digit))), top = p.indexOf(Math.max(...p));
        putProbabilities(probs, p, d.classes);
        verdict.textContent = t.live.replace("{label}", d.classes[top]).replace("{p}", Math.round(100 * p[top]));
        root.dataset.prediction = String(d.classes[top]);
      }
    }
    updates += 1;
    root.dataset.updates = String(updates);
    root.dataset.updateMs = (performance.now() - t0).toFixed(2);
  });
  const send = () => setStateValue("digit", {seq: ++s.seq, pixels: digit ? Array.from(digit, (v) => Math.round(v * 1e4) / 1e4) : null});
  let drawing = false;
  const at = (e) => {
    const r = board.getBoundingClientRect();
    return [(e.clientX - r.left) * (board.width / r.width), (e.clientY - r.top) * (board.height / r.height)];
  };
  board.addEventListener("pointerdown", (e) => {
    try { board.setPointerCapture(e.pointerId); } catch (err) { /* a synthetic pointer has nothing to capture */ }
    drawing = true;
    s.strokes.push({points: [at(e)], pen: s.pen});
    update();
  });
  board.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    for (const ev of e.getCoalescedEvents ? e.getCoalescedEvents() : [e]) s.strokes[s.strokes.length - 1].points.push(at(ev));
    update();
  });
  const lift = () => {
    if (!drawing) return;
    drawing = false;
    update.cancel();
    update.now();
    send();
  };
  board.addEventListener("pointerup", lift);
  board.addEventListener("pointercancel", lift);
  undo.addEventListener("click", () => { s.strokes.pop(); inked = -1; update.now(); send(); });
  clear.addEventListener("click", () => { s.strokes = []; inked = -1; update.now(); send(); });
  pen.addEventListener("input", () => { s.pen = +pen.value; });
  update.now();
  return () => update.cancel();
}

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/** The code of any place on a map: the inverse-distance-weighted mean of the codes of its k nearest points
 * (a place on a point is that point's code); on a 2-number code's own plane, the place itself.
 * `mapped`: the map's positions (n, xy, raw) with the codes of its points (k, codes). */
export function codeAt(mapped, x, y, k = 8) {
  if (mapped.raw) return [x, y];
  const best = [];                                       // (distance, index), the k nearest, sorted
  for (let i = 0; i < mapped.n; i++) {
    const dx = mapped.xy[2 * i] - x, dy = mapped.xy[2 * i + 1] - y, dist = dx * dx + dy * dy;
    if (best.length < k || dist < best[best.length - 1][0]) {
      best.push([dist, i]);
      best.sort((a, b) => a[0] - b[0]);
      if (best.length > k) best.pop();
    }
  }
  const out = new Array(mapped.k).fill(0);
  let total = 0;
  for (const [dist, i] of best) {
    const w = 1 / Math.max(Math.sqrt(dist), 1e-9);
    total += w;
    for (let j = 0; j < mapped.k; j++) out[j] += w * mapped.codes[i * mapped.k + j];
  }
  return out.map((v) => v / total);
}

/** Decode anywhere on the map: the picture the decoder makes of the place under the pointer, live.
 * The points are drawn as soon as the map's positions are here; decoding starts when `later` brings
 * the model and the codes of the points (the server may still be computing them). */
function exploreView(root, d, positions, later, setStateValue) {
  const t = d.text, s = state.get(d.key) || {picked: null, seq: 0};
  state.set(d.key, s);
  const size = 520, board = canvas(size, size, "map"), decoded = canvas(28, 28, "seen big-panel");
  const probs = canvas(260, 150, "probs small"), where = el("div", {className: "caption", textContent: t.wait});
  const gridCanvas = d.grid ? canvas(20 * 28, 20 * 28, "grid") : null;
  let lo = [Infinity, Infinity], hi = [-Infinity, -Infinity];
  for (let i = 0; i < positions.n; i++) for (let a = 0; a < 2; a++) {
    lo[a] = Math.min(lo[a], positions.xy[2 * i + a]);
    hi[a] = Math.max(hi[a], positions.xy[2 * i + a]);
  }
  const pad = 0.04, span = [hi[0] - lo[0] || 1, hi[1] - lo[1] || 1];
  lo = [lo[0] - pad * span[0], lo[1] - pad * span[1]];
  const extent = [span[0] * (1 + 2 * pad), span[1] * (1 + 2 * pad)];
  const toPx = (x, y) => [(x - lo[0]) / extent[0] * size, size - (y - lo[1]) / extent[1] * size];
  const toMap = (px, py) => [lo[0] + px / size * extent[0], lo[1] + (size - py) / size * extent[1]];
  const points = document.createElement("canvas");      // the points, drawn once
  points.width = points.height = size;
  const pctx = points.getContext("2d");
  pctx.fillStyle = "#fff";
  pctx.fillRect(0, 0, size, size);
  for (let i = 0; i < positions.n; i++) {
    const [px, py] = toPx(positions.xy[2 * i], positions.xy[2 * i + 1]);
    pctx.fillStyle = PALETTE[positions.labels[i] % 10];
    pctx.fillRect(px - 1, py - 1, 2, 2);
  }
  const legend = el("div", {className: "legend"}, ...d.classes.map((c, i) => el("span", {textContent: `● ${c}`, style: `color:${PALETTE[i]}`})));
  const panel = el("div", {className: "right"}, d.classifier ? probs : decoded, where,
                   el("div", {className: "caption", textContent: t.help}));
  root.replaceChildren(el("div", {className: "explore"}, el("div", {}, board, legend), panel,
                          ...(gridCanvas ? [el("figure", {}, gridCanvas, el("figcaption", {textContent: t.grid}))] : [])));
  let hover = null, updates = 0, model = null, mapped = null;
  const show = painter(() => {
    const bctx = board.getContext("2d");
    bctx.drawImage(points, 0, 0);
    const place = hover || s.picked;
    if (s.picked) {
      const [px, py] = toPx(...s.picked.where);
      bctx.fillStyle = "#000";
      bctx.beginPath(); bctx.arc(px, py, 6, 0, 2 * Math.PI); bctx.fill();
    }
    if (!place || !model) return;
    const t0 = performance.now();
    const z = place === s.picked ? s.picked.code : codeAt(mapped, ...place, d.k);
    const out = Array.from(model.decode(z));
    if (model.kind === "classifier") putProbabilities(probs, out, d.classes);
    else putImage(decoded.getContext("2d"), out);
    updates += 1;
    root.dataset.updates = String(updates);
    root.dataset.decodeMs = (performance.now() - t0).toFixed(2);
    where.textContent = `${t.at} (${place[0].toFixed(2)}, ${place[1].toFixed(2)})${place === s.picked ? " · " + t.kept : ""}`;
  });
  show.now();
  root.dataset.points = String(positions.n);             // every point is on the board
  const mapAt = (e) => {
    const r = board.getBoundingClientRect();
    return toMap((e.clientX - r.left) * (size / r.width), (e.clientY - r.top) * (size / r.height));
  };
  board.addEventListener("pointermove", (e) => { hover = mapAt(e); show(); });
  board.addEventListener("pointerleave", () => { hover = null; show(); });
  board.addEventListener("click", (e) => {
    if (!model) return;
    const place = mapAt(e), z = codeAt(mapped, ...place, d.k);
    s.picked = {where: place, code: z};
    show();
    setStateValue("picked", {seq: ++s.seq, code: z, where: place});
  });
  let timer = 0, gone = false;
  const gridStep = (gctx, cell) => {                     // a 2-number code: the classic picture of its whole plane
    const until = performance.now() + 8;
    for (; cell < 400 && performance.now() < until; cell++) {
      const gx = cell % 20, gy = Math.floor(cell / 20);
      const x = lo[0] + (gx + 0.5) / 20 * extent[0], y = lo[1] + (19 - gy + 0.5) / 20 * extent[1];
      putImage(gctx, model.decode([x, y]), gx * 28, gy * 28);
    }
    if (cell < 400) timer = requestAnimationFrame(() => gridStep(gctx, cell));
  };
  later.then(([m, codes]) => {
    if (gone) return;
    model = m;
    mapped = {...positions, k: codes.k, codes: codes.codes};
    where.textContent = "";
    root.dataset.live = "1";
    if (gridCanvas) timer = requestAnimationFrame(() => gridStep(gridCanvas.getContext("2d"), 0));
    show.now();
  });
  return () => { gone = true; show.cancel(); cancelAnimationFrame(timer); };
}

/** A classroom server's workspace key: made here once (192 random bits), kept in this browser's
 * localStorage, told to Python when it does not know it yet. A key from a personal link replaces it. */
const KEY_NAME = "encdec-workspace";
function workspaceView(root, d, setStateValue) {
  let key = d.adopt || null;
  try { key = key || localStorage.getItem(KEY_NAME); } catch (e) { /* storage refused: a key for this tab only */ }
  if (!/^[A-Za-z0-9_-]{32,64}$/.test(key || "")) {
    const bytes = crypto.getRandomValues(new Uint8Array(24));
    key = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  try { localStorage.setItem(KEY_NAME, key); } catch (e) { /* a private window may keep nothing */ }
  root.dataset.ready = "1";
  if (!d.known) setStateValue("browser_key", key);
}

// ---- the component -------------------------------------------------------------------------------------

export default function (component) {
  const {data, parentElement, setStateValue, key} = component;
  if (data instanceof Uint8Array) {                      // a model's weights or a map: kept for every view of this page
    register(data);
    return;
  }
  const d = {...data, key};
  const root = parentElement.querySelector(".live") || parentElement.appendChild(el("div", {className: "live"}));
  root.dataset.view = d.view;
  if (d.view === "workspace") return workspaceView(root, d, setStateValue);
  if (d.view === "editor" && d.server) return editorView(root, d, null, setStateValue);
  let cleanup = null, gone = false;
  if (d.view === "explore") {                            // the map is drawn before the model and codes are here
    ready(d.map_key).then((positions) => {
      if (gone) return;
      root.dataset.ready = "1";
      cleanup = exploreView(root, d, positions, Promise.all([ready(d.model_key), ready(d.codes_key)]), setStateValue);
    });
    return () => { gone = true; if (cleanup) cleanup(); };
  }
  Promise.all([ready(d.model_key), ready(d.classifier_key)]).then(([model, classifier]) => {
    if (gone) return;
    root.dataset.ready = "1";
    const views = {editor: () => editorView(root, d, model, setStateValue), draw: () => drawView(root, d, model, classifier, setStateValue)};
    cleanup = (views[d.view] || (() => rowView(root, d, model)))();
  });
  return () => { gone = true; if (cleanup) cleanup(); };
}
