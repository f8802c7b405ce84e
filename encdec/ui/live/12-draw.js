// Chapter 12: draw a digit. The page turns the ink into the 28x28 the models see at every frame of a
// stroke and runs the encoder, the decoder and a classifier (its three likeliest classes shown, so a
// close call is seen); when the pen lifts it places the code on the map, marks it with a star and shows
// the nearest test digits in code space. Python hears of a drawing only when the person sends its code
// to the editor. A picture uploaded to Python arrives as `d.uploaded` (784 values) and is read the same way.

const UNSURE = 0.6;  // below this top probability the verdict is a guess

function drawView(root, d, got, setStateValue) {
  const t = d.text, model = got.model, classifier = got.classifier;
  const s = state.get(d.key) || {strokes: [], pen: d.pen, seq: 0};
  state.set(d.key, s);
  const board = canvas(280, 280, "board"), ctx = board.getContext("2d", {willReadFrequently: true});
  const undo = el("button", {textContent: t.undo}), clear = el("button", {textContent: t.clear});
  const pen = el("input", {type: "range", min: 6, max: 40, step: 1, value: s.pen, className: "pen"});
  const seen = canvas(28, 28, "seen"), code = canvas(260, 90, "code"), recon = canvas(28, 28, "seen recon");
  const probs = canvas(300, 150, "probs small"), verdict = el("div", {className: "verdict"});
  const top3 = el("div", {className: "top3"}), edit = el("button", {textContent: t.edit, className: "primary"});
  edit.disabled = true;
  const mapBoard = canvas(420, 420, "map small-map"), near = canvas(1, 1, "digits");
  const placed = el("div", {className: "placed"}, el("div", {className: "caption", textContent: t.on_map}), mapBoard,
                    el("div", {className: "caption", textContent: t.neighbours}), near);
  placed.style.display = "none";
  const right = el("div", {className: "right"},
    el("div", {className: "pair"}, el("figure", {}, seen, el("figcaption", {textContent: d.uploaded ? t.seen_upload : t.seen})),
       ...(!model || model.kind === "classifier" ? [] : [el("figure", {}, recon, el("figcaption", {textContent: t.reconstruction}))])),
    ...(model ? [el("div", {className: "caption", textContent: t.code}), code] : []),
    ...(classifier ? [verdict, top3, probs] : [el("div", {className: "caption", textContent: t.no_classifier})]), edit);
  root.replaceChildren(el("div", {className: "draw"},
    el("div", {className: "left"}, board, el("div", {className: "controls"}, undo, clear, el("span", {textContent: t.pen}), pen),
       el("div", {className: "caption", textContent: t.help})), right, placed));

  // The map the digit lands on: the model's test map, drawn once, with the codes of its points.
  let view = null, points = null;
  if (got.map && got.codes) {
    view = viewOf(got.map.n, got.map.xy, 420);
    points = canvas(420, 420);
    putPoints(points, got.map.n, got.map.xy, got.map.labels, view.toPx);
  }
  let updates = 0, digit = null, z = null;
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
    if (d.uploaded && !s.strokes.length) {
      drawStrokes(ctx, [], s.pen);
      digit = Float32Array.from(d.uploaded);
    } else {
      ink();
      digit = digitOf(ctx);
    }
    for (const c of [seen, recon]) c.getContext("2d").clearRect(0, 0, 28, 28);
    z = null;
    if (!digit) {
      code.getContext("2d").clearRect(0, 0, code.width, code.height);
      probs.getContext("2d").clearRect(0, 0, probs.width, probs.height);
      verdict.textContent = s.strokes.length ? t.speck : t.empty;
      top3.textContent = "";
      root.dataset.prediction = "";
    } else {
      putImage(seen.getContext("2d"), digit);
      if (model) {
        z = Array.from(model.encode(digit));
        putCodeBars(code, z);
        if (model.kind !== "classifier") putImage(recon.getContext("2d"), model.decode(z));
      }
      if (classifier) {
        const p = Array.from(classifier.decode(classifier.encode(digit))), best = topClasses(p, 3);
        putProbabilities(probs, p, d.classes);
        const [label, share] = [d.classes[best[0][0]], best[0][1]];
        verdict.textContent = (share >= UNSURE ? t.sure : t.unsure).replace("{label}", label).replace("{p}", Math.round(100 * share));
        verdict.classList.toggle("unsure", share < UNSURE);
        top3.textContent = best.map(([c, q]) => `${d.classes[c]} ${(100 * q).toFixed(0)}%`).join(" · ");
        root.dataset.prediction = String(label);
        root.dataset.top3 = JSON.stringify(best.map(([c, q]) => [c, Number(q.toFixed(4))]));
      }
    }
    edit.disabled = z === null;
    updates += 1;
    root.dataset.updates = String(updates);
    root.dataset.updateMs = (performance.now() - t0).toFixed(2);
  });
  function lifted() {                                    // where the digit lands, and its nearest test digits
    if (!z || !view) { placed.style.display = "none"; return; }
    const mapped = {n: got.map.n, xy: got.map.xy, raw: got.map.raw, k: got.codes.k, codes: got.codes.codes};
    const where = place(mapped, z, d.place_k), mctx = mapBoard.getContext("2d");
    mctx.drawImage(points, 0, 0);
    const [px, py] = view.toPx(...where);
    mctx.fillStyle = "#000";
    mctx.beginPath();
    for (let i = 0; i < 10; i++) {
      const r = i % 2 ? 5 : 13, a = -Math.PI / 2 + i * Math.PI / 5;
      mctx.lineTo(px + r * Math.cos(a), py + r * Math.sin(a));
    }
    mctx.closePath();
    mctx.fill();
    mctx.strokeStyle = "#fff";
    mctx.stroke();
    const nearestDigits = nearest(got.codes.codes, got.codes.k, got.codes.n, z, 8).map(([, i]) => i);
    putDigits(near, got.atlas, nearestDigits);
    near.style.width = `${near.width * 3}px`;
    placed.style.display = "";
    root.dataset.placed = JSON.stringify(where.map((v) => Number(v.toFixed(4))));
    root.dataset.neighbours = JSON.stringify(nearestDigits);
  }
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
    update.now();
    lifted();
  };
  board.addEventListener("pointerup", lift);
  board.addEventListener("pointercancel", lift);
  undo.addEventListener("click", () => { s.strokes.pop(); inked = -1; update.now(); lifted(); });
  clear.addEventListener("click", () => { s.strokes = []; inked = -1; update.now(); lifted(); });
  pen.addEventListener("input", () => { s.pen = +pen.value; });
  edit.addEventListener("click", () => { if (z) setStateValue("edit", {seq: ++s.seq, code: z}); });
  update.now();
  lifted();
  return () => update.cancel();
}
