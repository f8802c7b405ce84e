// Chapter 5: code maths in the page, each the twin of a Python function that a test compares it with:
// interpolation (latent.interpolate), the code of a place on a map (projection.code_at), the place of a
// new code (projection.place) and the nearest codes (projection.nearest).

/** Codes from a to b (steps, k); "slerp" follows the great circle (latent.interpolate). */
export function interpolate(a, b, steps, method) {
  const out = [];
  const dot = a.reduce((s, v, i) => s + v * b[i], 0), na = Math.hypot(...a), nb = Math.hypot(...b);
  const omega = Math.acos(Math.max(-1, Math.min(1, dot / Math.max(na * nb, 1e-12))));
  for (let s = 0; s < steps; s++) {
    const t = s / (steps - 1);
    if (method === "slerp" && Math.abs(omega) >= 1e-4) {
      const p = Math.sin((1 - t) * omega) / Math.sin(omega), q = Math.sin(t * omega) / Math.sin(omega);
      out.push(a.map((v, i) => p * v + q * b[i]));
    } else out.push(a.map((v, i) => (1 - t) * v + t * b[i]));
  }
  return out;
}

/** The `k` nearest of n points (rows of `values`, `dim` numbers each) to `query`: [[squared distance,
 * index], ...], nearest first; `skip` leaves one index out. */
export function nearest(values, dim, n, query, k, skip = -1) {
  const best = [];
  for (let i = 0; i < n; i++) {
    if (i === skip) continue;
    let d = 0;
    for (let j = 0; j < dim; j++) { const t = values[i * dim + j] - query[j]; d += t * t; }
    if (best.length < k || d < best[best.length - 1][0]) {
      best.push([d, i]);
      best.sort((a, b) => a[0] - b[0]);
      if (best.length > k) best.pop();
    }
  }
  return best;
}

/** The mean of rows of `values` (dim numbers each) at `near` ([[squared distance, index]...]), each weighted
 * by 1 / distance, the distance at least `floor` (a row at distance 0 is the answer). */
function weighted(values, dim, near, floor) {
  const out = new Array(dim).fill(0);
  let total = 0;
  for (const [d, i] of near) {
    const w = 1 / Math.max(Math.sqrt(d), floor);
    total += w;
    for (let j = 0; j < dim; j++) out[j] += w * values[i * dim + j];
  }
  return out.map((v) => v / total);
}

/** The code of any place (x, y) on a map: the inverse-distance-weighted mean of the codes of its k nearest
 * points; on a 2-number code's own plane, the place itself. `mapped`: {n, xy, raw, k, codes}. */
export function codeAt(mapped, x, y, k = 8) {
  if (mapped.raw) return [x, y];
  return weighted(mapped.codes, mapped.k, nearest(mapped.xy, 2, mapped.n, [x, y], k), 1e-9);
}

/** Where a new code goes on a map: the inverse-distance-weighted mean of the map positions of its k nearest
 * codes (how UMAP starts its own transform); on a 2-number code's own plane, the code itself. */
export function place(mapped, code, k = 10) {
  if (mapped.raw) return [code[0], code[1]];
  return weighted(mapped.xy, 2, nearest(mapped.codes, mapped.k, mapped.n, code, k), 1e-6);
}

/** Code i of a split's codes as a plain array. */
export const codeOf = (codes, i) => Array.from(codes.codes.subarray(codes.k * i, codes.k * (i + 1)));
