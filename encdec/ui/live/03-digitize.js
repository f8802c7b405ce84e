// Chapter 3: drawings. The same steps as encdec/digitize.py, in the page: a canvas's ink, cropped,
// shrunk to 20 pixels as Pillow does, and its centre of mass moved to the middle of 28x28 (a test checks
// that the page and Python agree).

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
