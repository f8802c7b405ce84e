// Chapter 4: pictures. Small helpers every view draws with: digits, class probabilities, code values
// and rankings as bars, a map's points, a loss curve; elements and canvases; redrawing once per
// animation frame; sending to Python at most every 250 ms; downloads made in the page.

export const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                        "#bcbd22", "#17becf"];

/** Draw a 28x28 image (values in [0, 1], or 0..255 with `bytes`) into a 2-D context at (x, y). */
export function putImage(ctx, pixels, x = 0, y = 0, bytes = false) {
  const img = ctx.createImageData(28, 28), scale = bytes ? 1 : 255;
  for (let i = 0; i < 784; i++) {
    const v = Math.max(0, Math.min(255, Math.round(pixels[i] * scale)));
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, x, y);
}

export function putDataUrl(ctx, url, x = 0, y = 0) {
  const img = new Image();
  img.onload = () => ctx.drawImage(img, x, y);
  img.src = url;
}

/** Digit `i` of an atlas (a split's pictures, 784 bytes each). */
export const atlasImage = (atlas, i) => atlas.images.subarray(784 * i, 784 * (i + 1));

/** A row of digits of an atlas, each 28x28 with a pixel between them. */
export function putDigits(canvas, atlas, indices, perRow = indices.length) {
  const rows = Math.max(1, Math.ceil(indices.length / perRow));
  canvas.width = Math.max(1, Math.min(indices.length, perRow) * 29 - 1);
  canvas.height = rows * 29 - 1;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  indices.forEach((i, j) => putImage(ctx, atlasImage(atlas, i), (j % perRow) * 29, Math.floor(j / perRow) * 29, true));
}

/** The `n` most likely classes, most likely first: [[class index, probability], ...]. */
export function topClasses(probs, n = 3) {
  return Array.from(probs, (p, i) => [i, p]).sort((a, b) => b[1] - a[1]).slice(0, n);
}

/** Class probabilities as bars into a canvas; the most likely one in red. */
export function putProbabilities(canvas, probs, names) {
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

/** Values as bars (a canvas), positive up; `marks` (the same length) drawn as ticks over them. */
export function putBars(canvas, values, marks = null, labels = null) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height - (labels ? 12 : 0), n = values.length;
  const all = marks ? [...values, ...marks] : values;
  const top = Math.max(1e-6, ...all.map(Math.abs)), bw = w / n, mid = marks || values.some((v) => v < 0) ? h / 2 : h - 1;
  const scale = (mid === h / 2 ? h / 2 - 2 : h - 4) / top;
  ctx.clearRect(0, 0, w, canvas.height);
  ctx.fillStyle = "#ccc";
  ctx.fillRect(0, mid, w, 1);
  ctx.fillStyle = "#1f77b4";
  values.forEach((v, i) => {
    const bh = v * scale;
    ctx.fillRect(i * bw + 1, bh > 0 ? mid - bh : mid, Math.max(1, bw - 2), Math.abs(bh));
  });
  if (marks) {
    ctx.fillStyle = "#000";
    marks.forEach((v, i) => ctx.fillRect(i * bw + 1, mid - v * scale - 1, Math.max(1, bw - 2), 2));
  }
  if (labels) {
    ctx.fillStyle = "#444";
    ctx.font = "10px sans-serif";
    ctx.textAlign = "center";
    labels.forEach((l, i) => { if (bw > 14 || i % 4 === 0) ctx.fillText(String(l), i * bw + bw / 2, canvas.height - 1); });
  }
}
export const putCodeBars = (canvas, code) => putBars(canvas, Array.from(code));

/** Points (n, xy) coloured by `labels` (or by `values` on a blue-to-yellow scale) within the bounds of a
 * view (`toPx`), drawn once into a canvas of `size` pixels. */
export function putPoints(canvas, n, xy, labels, toPx, values = null) {
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  let lo = Infinity, hi = -Infinity;
  if (values) for (let i = 0; i < n; i++) { lo = Math.min(lo, values[i]); hi = Math.max(hi, values[i]); }
  for (let i = 0; i < n; i++) {
    const [px, py] = toPx(xy[2 * i], xy[2 * i + 1]);
    if (values) {
      const t = (values[i] - lo) / (hi - lo || 1);
      ctx.fillStyle = `rgb(${Math.round(68 + 185 * t)},${Math.round(1 + 230 * t)},${Math.round(84 + 50 * (1 - t))})`;
    } else ctx.fillStyle = PALETTE[labels[i] % 10];
    ctx.fillRect(px - 1, py - 1, 2, 2);
  }
}

/** The bounds of points (n, xy) with a margin, and the maps between them and a square of `size` pixels. */
export function viewOf(n, xy, size, pad = 0.04) {
  let lo = [Infinity, Infinity], hi = [-Infinity, -Infinity];
  for (let i = 0; i < n; i++) for (let a = 0; a < 2; a++) {
    lo[a] = Math.min(lo[a], xy[2 * i + a]);
    hi[a] = Math.max(hi[a], xy[2 * i + a]);
  }
  const span = [hi[0] - lo[0] || 1, hi[1] - lo[1] || 1];
  lo = [lo[0] - pad * span[0], lo[1] - pad * span[1]];
  const extent = [span[0] * (1 + 2 * pad), span[1] * (1 + 2 * pad)];
  return {lo, extent, size, toPx: (x, y) => [(x - lo[0]) / extent[0] * size, size - (y - lo[1]) / extent[1] * size],
          toMap: (px, py) => [lo[0] + px / size * extent[0], lo[1] + (size - py) / size * extent[1]]};
}

/** A loss curve: points (fraction of the training, train loss or null, validation loss or null). */
export function putCurve(canvas, curve, epochs, names) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const values = curve.flatMap(([, a, b]) => [a, b]).filter((v) => v !== null && Number.isFinite(v));
  if (!values.length) return;
  const lo = Math.min(...values), hi = Math.max(...values), y = (v) => h - 14 - (v - lo) / (hi - lo || 1) * (h - 24);
  const x = (f) => 30 + f * (w - 40);
  [[1, "#1f77b4"], [2, "#ff7f0e"]].forEach(([col, colour]) => {
    const pts = curve.filter((p) => p[col] !== null);
    ctx.strokeStyle = ctx.fillStyle = colour;
    ctx.beginPath();
    pts.forEach((p, i) => (i ? ctx.lineTo(x(p[0]), y(p[col])) : ctx.moveTo(x(p[0]), y(p[col]))));
    ctx.stroke();
    if (col === 2) pts.forEach((p) => ctx.fillRect(x(p[0]) - 2, y(p[col]) - 2, 4, 4));
  });
  ctx.fillStyle = "#444";
  ctx.font = "11px sans-serif";
  ctx.fillText(hi.toPrecision(3), 0, 12);
  ctx.fillText(lo.toPrecision(3), 0, h - 14);
  ctx.fillText(`0 … ${epochs}`, w / 2, h - 1);
  ctx.fillStyle = "#1f77b4";
  ctx.fillText(`— ${names[0]}`, w - 190, 12);
  ctx.fillStyle = "#ff7f0e";
  ctx.fillText(`— ${names[1]}`, w - 95, 12);
}

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

export function canvas(width, height, cls) {
  return el("canvas", {width, height, className: cls});
}

/** Redraw inside requestAnimationFrame, once per frame, only when asked to. */
export function painter(draw) {
  let pending = 0, frames = 0;
  const ask = () => {
    if (!pending) pending = requestAnimationFrame(() => { pending = 0; frames += 1; draw(); });
  };
  ask.frames = () => frames;
  ask.cancel = () => { if (pending) cancelAnimationFrame(pending); pending = 0; };
  ask.now = () => { ask.cancel(); frames += 1; draw(); };
  return ask;
}

/** Send to Python at most every 250 ms: each send in a new turn of the event loop reruns the script. */
export function throttled(send, gap = 250) {
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

/** A button that downloads what `make()` gives (a Blob) under `name`, made only when pressed. */
export function downloadButton(label, name, make) {
  const b = el("button", {textContent: label, className: "download"});
  b.addEventListener("click", async () => {
    const data = await make();
    const a = el("a", {href: URL.createObjectURL(data), download: name});
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  });
  return b;
}

/** A canvas enlarged `scale` times without blur, as a PNG Blob. */
export function pngOf(source, scale = 1) {
  const big = canvas(source.width * scale, source.height * scale);
  const ctx = big.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(source, 0, 0, big.width, big.height);
  return new Promise((resolve) => big.toBlob(resolve, "image/png"));
}

export const csvOf = (header, rows) => new Blob([header + "\n" + rows.map((r) => r.join(",")).join("\n") + "\n"],
                                               {type: "text/csv"});
