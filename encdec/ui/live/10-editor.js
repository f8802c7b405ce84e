// Chapter 10: the code editor. Where to start (a test digit, a random one of a class, the mean code,
// zeros, a code sent from elsewhere), one slider per code dimension, the decoded picture redrawn in
// every frame of a drag, a traversal grid that catches up frame by frame, the code and its dimensions'
// effect as bars, and the downloads: all in the page, and the address follows (?start=, ?z=). Python
// hears of an edit only when the page cannot run the model (it then draws the pictures after each release).

const CELL_C = 40;        // width of a traversal cell that shows a class and its probability
const state = new Map();  // per mounted view (its key): what the hand has set, kept across reruns

/** A code as the short text a link carries (?z=), as Python's urlstate.code_to_text writes it. */
export const codeText = (code) => code.map((v) => String(Number(v.toFixed(3)))).join(",");

function startParam(start) {
  return start.kind === "test" ? `test-${start.index}` : start.kind;
}

function editorView(root, d, got, setStateValue) {
  const t = d.text, model = got.model, codes = got.codes, atlas = got.atlas, k = d.low.length;
  const mine = state.get(d.key);
  const fresh = !mine || mine.version !== d.version || mine.model !== d.model_id;
  const s = fresh ? {version: d.version, model: d.model_id, focus: null, seq: 0, start: {...d.start},
                     code: null, digit: d.start.kind === "test" ? atlas.labels[d.start.index] : 0} : mine;
  state.set(d.key, s);
  const startCode = () => {
    if (s.start.kind === "test") return codeOf(codes, s.start.index);
    if (s.start.kind === "mean") return d.mean.slice();
    if (s.start.kind === "zeros") return new Array(k).fill(0);
    return d.custom.slice();
  };
  let base = startCode();
  if (s.code === null) s.code = (d.code || base).slice();
  // What Python hears only when it draws the pictures itself (a model the page cannot run).
  const send = throttled((code) => setStateValue("edit", {version: s.version, seq: ++s.seq, code}));
  const linked = throttled(() => own(d.page, {start: startParam(s.start), z: codeText(s.code)}), 250);

  // -- where to start ------------------------------------------------------------------------------------
  const kinds = ["test", "mean", "zeros", ...(d.custom ? ["code"] : [])];
  const radios = kinds.map((kind) => {
    const b = el("button", {textContent: t[`start_${kind}`], className: kind === s.start.kind ? "on" : ""});
    b.addEventListener("click", () => restart({kind, index: s.start.index}));
    return b;
  });
  const index = el("input", {type: "number", min: 0, max: atlas.n - 1, value: s.start.index, className: "index"});
  index.addEventListener("change", () => {
    const i = Math.max(0, Math.min(atlas.n - 1, Math.round(+index.value) || 0));
    restart({kind: "test", index: i});
  });
  const digit = el("select", {className: "digit"}, ...d.classes.map((c, i) => el("option", {value: i, textContent: c})));
  digit.value = s.digit;
  const pick = el("button", {textContent: t.start_pick, title: t.start_random});
  pick.addEventListener("click", () => {
    s.digit = +digit.value;
    const pool = [];
    for (let i = 0; i < atlas.n; i++) if (atlas.labels[i] === s.digit) pool.push(i);
    restart({kind: "test", index: pool[Math.floor(Math.random() * pool.length)]});
  });
  const testControls = el("span", {className: "controls"}, el("span", {textContent: t.start_index}), index,
                          el("span", {textContent: t.start_digit}), digit, pick);
  const input = canvas(28, 28, "seen"), recon = canvas(28, 28, "seen");
  const startRow = el("div", {className: "start"}, el("div", {className: "controls"}, el("b", {textContent: t.start}), ...radios),
                      testControls, el("div", {className: "pair"},
                        el("figure", {}, input, el("figcaption", {textContent: t.input})),
                        ...(d.classifier ? [] : [el("figure", {}, recon, el("figcaption", {textContent: t.reconstruction}))])));

  // -- the sliders and the picture -------------------------------------------------------------------------
  const picture = d.classifier ? canvas(300, 190, "probs") : canvas(28, 28, "big");
  const chart = canvas(420, 110, "bars"), ranking = canvas(420, 110, "bars");
  const downloads = el("div", {className: "controls"},
    ...(d.classifier ? [] : [downloadButton(t.download_png, `${d.name}-decoded.png`, () => pngOf(picture, 8)),
                             downloadButton(t.download_grid, `${d.name}-traversal.png`, () => gridPng())]),
    downloadButton(t.download_csv, `${d.name}-code.csv`, () => csvOf("dimension,value",
                   s.code.map((v, i) => [i, Number(v.toPrecision(6))]))));
  const right = el("div", {className: "right"}, picture,
                   el("div", {className: "caption", textContent: d.classifier ? t.probabilities : t.edited}), downloads);
  const list = el("div", {className: "sliders"});
  const more = el("details", {}, el("summary", {textContent: t.more}));
  const resetAll = el("button", {textContent: t.reset_all, className: "reset-all"});
  const left = el("div", {className: "left"}, resetAll, list);
  const trav = el("div", {className: "traversal"});
  root.replaceChildren(startRow, el("div", {className: "editor"}, left, right),
                       el("div", {className: "caption", textContent: t.code_chart}), chart,
                       el("h4", {textContent: t.traversal}), trav,
                       el("details", {}, el("summary", {textContent: t.dims_ranked}), ranking));
  putBars(ranking, d.order.map((i) => d.effect[i]), null, d.order.map((i) => i));

  const inputs = {}, values = {};
  const order = () => (s.focus === null ? d.order : [s.focus, ...d.order.filter((x) => x !== s.focus)]);
  const shownDims = () => order().slice(0, d.shown);
  function row(dim) {
    const lo = Math.min(d.low[dim], base[dim], s.code[dim]), hi = Math.max(d.high[dim], base[dim], s.code[dim]);
    const slider = el("input", {type: "range", min: lo, max: hi, step: (hi - lo) / 400, value: s.code[dim]});
    slider.dataset.dim = dim;
    const value = el("span", {className: "value", textContent: s.code[dim].toFixed(2)});
    const reset = el("button", {textContent: "↺", title: t.reset_help, className: "reset"});
    slider.addEventListener("input", () => {
      s.code[dim] = +slider.value;
      value.textContent = (+slider.value).toFixed(2);
      lastInput = performance.now();
      draw();
    });
    slider.addEventListener("change", released);
    reset.addEventListener("click", () => set(dim, base[dim]));
    inputs[dim] = slider;
    values[dim] = value;
    const label = el("span", {className: "label",
                              textContent: `${s.focus === dim ? "▶ " : ""}${t.dim.replace("{d}", dim)} · ${t.code_start} ${base[dim].toFixed(2)}`});
    return el("div", {className: "row"}, label, slider, value, reset);
  }
  function released() {
    linked();
    putBars(chart, s.code, base);
    root.dataset.releases = String((+root.dataset.releases || 0) + 1);
    if (!model) send(s.code.slice());
  }
  function set(dim, v) {
    s.code[dim] = v;
    inputs[dim].value = v;
    values[dim].textContent = v.toFixed(2);
    draw();
    released();
  }
  function layout() {
    const dims = order();
    list.replaceChildren(...dims.slice(0, d.shown).map(row));
    more.replaceChildren(el("summary", {textContent: t.more.replace("{n}", dims.length - d.shown)}), ...dims.slice(d.shown).map(row));
    if (dims.length > d.shown) list.append(more);
  }
  function restart(start) {
    s.start = start;
    base = startCode();
    s.code = base.slice();
    radios.forEach((b, i) => b.classList.toggle("on", kinds[i] === start.kind));
    index.value = start.kind === "test" ? start.index : index.value;
    if (start.kind === "test") { s.digit = atlas.labels[start.index]; digit.value = s.digit; }
    pictures();
    layout();
    travLayout();
    draw();
    released();
  }
  resetAll.addEventListener("click", () => {
    base.forEach((v, i) => { s.code[i] = v; inputs[i].value = v; values[i].textContent = v.toFixed(2); });
    draw();
    released();
  });
  function pictures() {
    testControls.style.display = s.start.kind === "test" ? "" : "none";
    const ictx = input.getContext("2d");
    ictx.clearRect(0, 0, 28, 28);
    input.parentElement.style.display = s.start.kind === "test" ? "" : "none";
    if (s.start.kind === "test") putImage(ictx, atlasImage(atlas, s.start.index), 0, 0, true);
    if (!d.classifier && model) putImage(recon.getContext("2d"), model.decode(base));
  }

  // -- the traversal: each row sweeps one dimension around the current code (the middle column) ------------
  const strips = [];
  const cellWidth = d.classifier ? CELL_C : 29;
  function travLayout() {
    strips.length = 0;
    trav.replaceChildren(...shownDims().map((dim) => {
      const strip = canvas(d.steps * cellWidth - 1, d.classifier ? 36 : 28, d.classifier ? "strip classes" : "strip");
      const edit = el("button", {textContent: `${t.edit} ${dim}`, className: "edit"});
      edit.addEventListener("click", () => { s.focus = dim; layout(); travLayout(); travRestart(); });
      strips.push({dim, strip});
      return el("div", {className: "trow"}, edit, strip);
    }));
  }
  // The grid catches up one picture at a time, within a few ms per frame, and waits while the hand moves.
  let lastInput = 0, travTimer = 0, cursor = 0;
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
      ctx.strokeRect(j * cellWidth + 0.5, 0.5, cellWidth - (d.classifier ? 1 : 2), entry.strip.height - 1);
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
    cursor = 0;
    if (!travTimer) travTimer = requestAnimationFrame(travWork);
  }
  async function gridPng() {                             // the whole traversal at once, as one picture
    while (cursor < strips.length * d.steps) { drawCell(strips[Math.floor(cursor / d.steps)], cursor % d.steps); cursor += 1; }
    const all = canvas(strips[0].strip.width, strips.length * 30 - 2);
    const ctx = all.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, all.width, all.height);
    strips.forEach(({strip}, r) => ctx.drawImage(strip, 0, r * 30));
    return pngOf(all, 3);
  }

  const draw = painter(() => {
    if (!model) {                                        // server mode: the pictures of the last release
      if (d.server.probs) putProbabilities(picture, d.server.probs, d.classes);
      else if (d.server.image) putDataUrl(picture.getContext("2d"), d.server.image);
      travRestart();
      return;
    }
    const t0 = performance.now();
    const out = model.decode(s.code);
    if (d.classifier) putProbabilities(picture, Array.from(out), d.classes);
    else putImage(picture.getContext("2d"), out);
    root.dataset.frames = String(draw.frames());
    root.dataset.decodeMs = (performance.now() - t0).toFixed(2);
    travRestart();
  });
  pictures();
  layout();
  travLayout();
  draw();
  putBars(chart, s.code, base);
  own(d.page, {start: startParam(s.start), z: codeText(s.code)});
  return () => { draw.cancel(); send.cancel(); linked.cancel(); if (travTimer) cancelAnimationFrame(travTimer); };
}
