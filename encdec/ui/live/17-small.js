// Chapter 17: small pictures Python asks for by value (no blobs): a code or any values as bars, class
// probabilities as bars. They cost the server a few numbers of JSON, where a chart would cost a figure.

function barsView(root, d) {
  const c = canvas(d.width || 420, d.height || 120, "bars");
  root.replaceChildren(c, ...(d.caption ? [el("div", {className: "caption", textContent: d.caption})] : []));
  putBars(c, d.values, d.marks || null, d.labels || null);
  return null;
}

function probsView(root, d) {
  const c = canvas(d.width || 300, d.height || 170, "probs small");
  const best = topClasses(d.probs, 3);
  root.replaceChildren(c, el("div", {className: "caption top3", textContent: best.map(([i, p]) => `${d.classes[i]} ${(100 * p).toFixed(0)}%`).join(" · ")}));
  putProbabilities(c, d.probs, d.classes);
  return null;
}

/** A map's points alone (its positions blob), coloured by class, with a legend. */
function pointsView(root, d, got) {
  const size = d.size || 420, c = canvas(size, size, "map small-map"), m = got.map, view = viewOf(m.n, m.xy, size);
  putPoints(c, m.n, m.xy, m.labels, view.toPx);
  root.replaceChildren(c, el("div", {className: "legend"}, ...d.classes.map((name, i) => el("span", {textContent: `● ${name}`, style: `color:${PALETTE[i]}`}))));
  root.dataset.points = String(m.n);
  return null;
}
