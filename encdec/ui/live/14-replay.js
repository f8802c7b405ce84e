// Chapter 14: the code space as a model trained, replayed: a slider over the recorded epochs and a
// play button, every frame on the same bounds so that what moves, moved. Two replays side by side (the
// lesson) share one slider.

/** A frame's points: {n, xy (2n), labels} of frame f of a frames blob. */
const frameOf = (frames, f) => ({n: frames.n, xy: frames.xy.subarray(2 * frames.n * f, 2 * frames.n * (f + 1)), labels: frames.labels});

/** Bounds over every frame of a recording, so a replay never rescales. */
function framesView(frames, size) {
  return viewOf(frames.n * frames.count, frames.xy, size, 0.05);
}

/** One canvas per recording, one slider for all: `records` are frames blobs, `names` their captions. */
function replayView(root, d, got) {
  const t = d.text, records = d.blobs_order.map((name) => got[name]).filter(Boolean);
  if (!records.length) { root.replaceChildren(el("div", {className: "caption", textContent: t.none})); return null; }
  const size = d.size || 360, boards = records.map(() => canvas(size, size, "replay"));
  const views = records.map((r) => framesView(r, size));
  const longest = records.reduce((a, r) => Math.max(a, r.count), 0);
  const slider = el("input", {type: "range", min: 0, max: longest - 1, step: 1, value: longest - 1, className: "epochs"});
  const play = el("button", {textContent: t.play}), caption = el("div", {className: "caption"});
  const titles = records.map(() => el("div", {className: "caption"}));
  root.replaceChildren(el("div", {className: "replays"}, ...boards.map((b, i) => el("figure", {}, b,
                         el("figcaption", {}, el("b", {textContent: d.names[i] || ""}), titles[i])))),
                       el("div", {className: "controls"}, play, slider, caption));
  function draw(step) {
    records.forEach((r, i) => {
      const f = Math.min(r.count - 1, Math.round(step * (r.count - 1) / Math.max(1, longest - 1)));
      const fr = frameOf(r, f);
      putPoints(boards[i], fr.n, fr.xy, fr.labels, views[i].toPx);
      titles[i].textContent = t.title.replace("{epoch}", r.when[2 * f].toFixed(2)).replace("{loss}", r.when[2 * f + 1].toFixed(4));
    });
    root.dataset.frame = String(step);
    caption.textContent = t.help;
  }
  slider.addEventListener("input", () => draw(+slider.value));
  let timer = 0;
  play.addEventListener("click", () => {
    clearInterval(timer);
    let step = +slider.value >= longest - 1 ? 0 : +slider.value;
    timer = setInterval(() => {
      slider.value = step;
      draw(step);
      if (++step >= longest) clearInterval(timer);
    }, Math.max(40, 6000 / longest));
  });
  draw(longest - 1);
  return () => clearInterval(timer);
}
