// Chapter 21: the lesson's steps. Each takes {d, got, t (its words), done, changed, saved} and returns
// {node, state(), cleanup}: `state()` is what its link (and the teacher's lead) carries, `saved` what it
// starts from, `done()` marks its task as done when the page sees it done.

const big = (cls = "seen lesson-pic") => canvas(28, 28, cls);

/** Step 1: an encoder maps 784 numbers to a short code. Draw a digit; its code appears. */
function encoderStep({d, got, t, done}) {
  const pic = big(), bars = canvas(360, 120, "bars"), model = got.enc;
  const count = el("div", {className: "caption"});
  const show = (pixels) => {
    putImage(pic.getContext("2d"), pixels);
    const z = Array.from(model.encode(pixels));
    putBars(bars, z);
    count.textContent = t.count.replace("{k}", z.length);
  };
  show(Float32Array.from(atlasImage(got.atlas, 0), (v) => v / 255));
  const board = miniBoard(200, (digit) => { if (digit) { show(digit); done(); } }, (w) => t[w] || w);
  return {node: el("div", {className: "lesson-row"}, board, el("figure", {}, pic, el("figcaption", {textContent: t.input})),
                   el("div", {className: "arrow", textContent: "→"}), el("figure", {}, bars, count)), state: () => ({})};
}

/** Step 2: what the numbers of a code are. Move them until the classifier reads the picture as another class. */
function numbersStep({d, got, t, done, changed, saved}) {
  const L = d.lesson.numbers, ae = got.ae, clf = got.clf, k = L.start.length;
  const code = saved.z ? saved.z.split(",").map(Number) : L.start.slice();
  const pic = big(), probs = canvas(300, 150, "probs small"), reading = el("div", {className: "verdict"});
  const rows = el("div", {className: "sliders"});
  const draw = painter(() => {
    const out = ae.decode(code);
    putImage(pic.getContext("2d"), out);
    const [top, p, all] = readBy(clf, out);
    putProbabilities(probs, all, d.classes);
    reading.textContent = t.reads.replace("{label}", d.classes[top]).replace("{p}", Math.round(100 * p));
    root.dataset.reads = String(top);
    if (top === L.target) done();
  });
  const root = el("div", {className: "lesson-row"});
  for (const dim of L.order) {
    const slider = el("input", {type: "range", min: Math.min(L.low[dim], code[dim]), max: Math.max(L.high[dim], code[dim]),
                                step: (L.high[dim] - L.low[dim]) / 300, value: code[dim]});
    slider.dataset.dim = dim;
    slider.addEventListener("input", () => { code[dim] = +slider.value; draw(); });
    slider.addEventListener("change", changed);
    rows.append(el("div", {className: "row"}, el("span", {className: "label", textContent: t.dim.replace("{d}", dim)}), slider));
  }
  const reset = el("button", {textContent: t.reset});
  reset.addEventListener("click", () => { L.start.forEach((v, i) => { code[i] = v; }); rows.querySelectorAll("input").forEach((x) => { x.value = code[+x.dataset.dim]; }); draw(); changed(); });
  root.append(el("div", {}, rows, reset), el("figure", {}, pic, el("figcaption", {textContent: t.decoded})), el("div", {}, reading, probs));
  draw.now();
  return {node: root, state: () => ({z: codeText(code)}), cleanup: () => draw.cancel()};
}

/** A 2-D place a step keeps: from its link ("x,y"), or null. */
const placeOf = (text) => (text ? text.split(",").map(Number) : null);

/** Steps 3 and 4: a map whose every place the decoder draws; the classifier reads what it draws. */
function mapStep(kind) {
  return ({d, got, t, done, changed, saved}) => {
    const plane = kind === "plane", model = plane ? got.plane : got.ae, positions = plane ? got.plane_map : got.ae_map;
    const mapped = plane ? {...positions, raw: true} : {...positions, k: got.ae_codes.k, codes: got.ae_codes.codes};
    const size = 420, view = viewOf(positions.n, positions.xy, size), board = canvas(size, size, "map lesson-map");
    const points = canvas(size, size), pic = big(), reading = el("div", {className: "verdict"});
    putPoints(points, positions.n, positions.xy, positions.labels, view.toPx);
    let kept = placeOf(saved.xy), hover = null;
    const show = painter(() => {
      const bctx = board.getContext("2d");
      bctx.drawImage(points, 0, 0);
      const spot = hover || kept;
      if (kept) {
        const [px, py] = view.toPx(...kept);
        bctx.fillStyle = "#000";
        bctx.beginPath(); bctx.arc(px, py, 6, 0, 2 * Math.PI); bctx.fill();
      }
      if (!spot) return;
      const out = model.decode(codeAt(mapped, spot[0], spot[1], d.lesson.k));
      putImage(pic.getContext("2d"), out);
      const [top, p] = readBy(got.clf, out);
      reading.textContent = t.reads.replace("{label}", d.classes[top]).replace("{p}", Math.round(100 * p));
      const target = d.lesson.plane.target;
      if (plane ? top === target && p >= 0.8 : p < 0.5) done();
    });
    const at = (e) => {
      const r = board.getBoundingClientRect();
      return view.toMap((e.clientX - r.left) * (size / r.width), (e.clientY - r.top) * (size / r.height));
    };
    board.addEventListener("pointermove", (e) => { hover = at(e); show(); });
    board.addEventListener("pointerleave", () => { hover = null; show(); });
    board.addEventListener("click", (e) => { kept = at(e); hover = null; show(); changed(); });
    show.now();
    return {node: el("div", {className: "lesson-row"}, board, el("div", {}, el("figure", {}, pic, el("figcaption", {textContent: t.decoded})), reading)),
            state: () => (kept ? {xy: kept.map((v) => Number(v.toFixed(4))).join(",")} : {}), cleanup: () => show.cancel()};
  };
}

/** Step 5: a classifier is an encoder and a decoder, shown on the same digit. Draw one it misreads. */
function classifierStep({d, got, t, done}) {
  const clf = got.clf, pic = big(), code = canvas(260, 110, "bars"), probs = canvas(300, 150, "probs small");
  const reading = el("div", {className: "verdict"}), target = d.lesson.classifier.target;
  const show = (pixels, drawn) => {
    putImage(pic.getContext("2d"), pixels);
    const z = Array.from(clf.encode(pixels)), p = Array.from(clf.decode(z)), top = p.indexOf(Math.max(...p));
    putBars(code, z);
    putProbabilities(probs, p, d.classes);
    reading.textContent = t.reads.replace("{label}", d.classes[top]).replace("{p}", Math.round(100 * p[top]));
    if (drawn && top !== target) done();
  };
  show(Float32Array.from(atlasImage(got.atlas, d.lesson.classifier.index), (v) => v / 255), false);
  const board = miniBoard(200, (digit) => { if (digit) show(digit, true); }, (w) => t[w] || w);
  return {node: el("div", {className: "lesson-row"}, board,
                   el("figure", {}, pic, el("figcaption", {textContent: t.input})), el("div", {className: "arrow", textContent: t.encoder}),
                   el("figure", {}, code, el("figcaption", {textContent: t.code})), el("div", {className: "arrow", textContent: t.decoder}),
                   el("div", {}, probs, reading)), state: () => ({})};
}

/** Step 6: the loss decides what the code keeps: an autoencoder's and a classifier's code space forming side by side. */
function lossStep({d, got, t, done, changed, saved}) {
  const records = [got.frames_ae, got.frames_clf];
  if (records.some((r) => !r)) return {node: el("div", {className: "caption", textContent: t.missing}), state: () => ({})};
  const size = 320, boards = records.map(() => canvas(size, size, "replay")), views = records.map((r) => framesView(r, size));
  const captions = records.map(() => el("div", {className: "caption"}));
  const longest = Math.max(...records.map((r) => r.count));
  const slider = el("input", {type: "range", min: 0, max: longest - 1, step: 1, value: Math.min(+saved.f || 0, longest - 1)});
  const play = el("button", {textContent: t.play});
  let played = false;
  function draw(step) {
    records.forEach((r, i) => {
      const f = Math.min(r.count - 1, Math.round(step * (r.count - 1) / Math.max(1, longest - 1))), fr = frameOf(r, f);
      putPoints(boards[i], fr.n, fr.xy, fr.labels, views[i].toPx);
      captions[i].textContent = t.epoch.replace("{epoch}", r.when[2 * f].toFixed(1));
    });
    if (played && step === longest - 1) done();
  }
  let timer = 0;
  slider.addEventListener("input", () => { played = true; draw(+slider.value); });
  slider.addEventListener("change", changed);
  play.addEventListener("click", () => {
    clearInterval(timer);
    let step = 0;
    played = true;
    timer = setInterval(() => { slider.value = step; draw(step); if (++step >= longest) { clearInterval(timer); changed(); } },
                        Math.max(30, 5000 / longest));
  });
  draw(+slider.value);
  const names = d.lesson.loss.names;
  return {node: el("div", {}, el("div", {className: "lesson-row"}, ...boards.map((b, i) => el("figure", {}, b,
                     el("figcaption", {}, el("b", {textContent: names[i]}), captions[i])))), el("div", {className: "controls"}, play, slider)),
          state: () => ({f: +slider.value}), cleanup: () => clearInterval(timer)};
}

/** Step 7: reuse a frozen encoder with a new decoder: a linear probe on the code against pixels and PCA. */
function transferStep({d, t, done}) {
  const rows = d.lesson.probe;
  if (!rows) return {node: el("div", {className: "caption", textContent: t.missing}), state: () => ({})};
  const inputs = ["code", "pixels", "pca"], chart = canvas(480, 200, "bars");
  const ctx = chart.getContext("2d"), w = chart.width / rows.length;
  ctx.font = "12px sans-serif";
  rows.forEach((r, i) => {
    inputs.forEach((name, j) => {
      const h = r[name] * 160;
      ctx.fillStyle = PALETTE[j];
      ctx.fillRect(i * w + 12 + j * (w - 24) / 3, 175 - h, (w - 24) / 3 - 4, h);
    });
    ctx.fillStyle = "#333";
    ctx.fillText(String(r.labels_per_class || t.all), i * w + w / 2 - 12, 195);
  });
  const best = inputs.reduce((a, b) => (rows[0][b] > rows[0][a] ? b : a));
  const answer = el("div", {className: "verdict"});
  const choices = inputs.map((name, j) => {
    const b = el("button", {textContent: t[`probe_${name}`], style: `border-color:${PALETTE[j]}`});
    b.addEventListener("click", () => {
      const right = name === best;
      answer.textContent = right ? t.right : t.wrong;
      if (right) done();
    });
    return b;
  });
  return {node: el("div", {}, chart, el("div", {className: "caption", textContent: t.axis}), el("div", {className: "controls"}, ...choices), answer),
          state: () => ({})};
}

/** Step 8: arithmetic on codes, like king - man + woman: a bold 3 - a thin 3 + a thin 7 makes a bold 7. */
function arithmeticStep({d, got, t, done, changed, saved}) {
  const ae = got.ae, picks = ["aa", "ab", "ac"].map((k, j) => (saved[k] !== undefined ? +saved[k] : d.lesson.arith.picks[j]));
  const inputs = picks.map((v, j) => {
    const input = el("input", {type: "number", min: 0, max: got.atlas.n - 1, value: v, className: "index"});
    input.addEventListener("change", () => { picks[j] = Math.max(0, Math.min(got.atlas.n - 1, Math.round(+input.value) || 0)); input.value = picks[j]; draw(); changed(); });
    return input;
  });
  const faces = picks.map(() => big("seen small")), row = canvas(4 * 29 - 1, 28, "row");
  row.style.width = `${row.width * 3}px`;
  const verdict = el("div", {className: "verdict"});
  function draw() {
    picks.forEach((i, j) => putImage(faces[j].getContext("2d"), atlasImage(got.atlas, i), 0, 0, true));
    const [a, b, c] = picks.map((i) => codeOf(got.ae_codes, i)), z = a.map((v, j) => v - b[j] + c[j]);
    const outs = [a, b, c, z].map((code) => ae.decode(code)), rctx = row.getContext("2d");
    rctx.fillStyle = "#fff";
    rctx.fillRect(0, 0, row.width, row.height);
    outs.forEach((out, j) => putImage(rctx, out, j * 29, 0));
    const ratio = inkOf(outs[3]) / Math.max(1e-6, inkOf(outs[2]));
    verdict.textContent = t.bolder.replace("{r}", ratio.toFixed(2));
    if (ratio >= 1.25 && picks[2] !== d.lesson.arith.picks[2]) done();   // the same difference, on a C of one's own
  }
  draw();
  return {node: el("div", {}, el("div", {className: "controls"}, ...inputs.map((input, j) => el("figure", {}, faces[j],
                     el("figcaption", {textContent: ["A", "B", "C"][j]}), input))),
                   row, el("div", {className: "row-labels"}, ...["A", "B", "C", "A − B + C"].map((x) => el("span", {textContent: x, style: "width:87px"}))),
                   verdict),
          state: () => ({aa: picks[0], ab: picks[1], ac: picks[2]})};
}

const LESSON_STEPS = [encoderStep, numbersStep, mapStep("plane"), mapStep("map"), classifierStep, lossStep, transferStep,
                      arithmeticStep];
