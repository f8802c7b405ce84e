// The models of this app, run in the page. This file is one chapter of the element's module: live.py
// joins the chapters of encdec/ui/live/ in the order of their names into the one ES module the page
// loads (no bundler, no build step), so a chapter uses what earlier chapters define.
//
// Chapter 1: tensors and layers. A tensor is {data: Float32Array, shape: [...]}, row-major like
// PyTorch's; one function per layer kind that encdec/nets.py uses, each compared with PyTorch in the
// browser tests.

const DTYPES = {F32: Float32Array, U8: Uint8Array};

/** Parse a safetensors file (Uint8Array) into {metadata, tensors: name -> tensor}; F32 and U8 tensors
 * are views on one aligned copy of the bytes. The header is read once. */
export function parseSafetensors(bytes) {
  const buffer = bytes.slice().buffer;                   // a fresh, aligned copy
  const n = Number(new DataView(buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, n)));
  const tensors = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const Kind = DTYPES[t.dtype];
    if (!Kind) throw new Error(`tensor ${name} is ${t.dtype}, not F32 or U8`);
    const [begin, end] = t.data_offsets;
    tensors[name] = {data: new Kind(buffer, 8 + n + begin, (end - begin) / Kind.BYTES_PER_ELEMENT), shape: t.shape};
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
