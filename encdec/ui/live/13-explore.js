// Chapter 13: the map. Every point is a test (or training) digit's code placed in 2-D. The points are
// drawn as soon as their positions are here; when the model and the codes follow, the decoder draws the
// code of any place under the pointer (and a 2-number code's whole plane as a 20 x 20 grid). A click
// selects the nearest point, a lasso a cluster: their digits, reconstructions, codes and a chosen
// digit's nearest neighbours are shown here, colours change by label, prediction or reconstruction error,
// and the map downloads as CSV or PNG. Python hears of it only when a code is sent to the editor.

const SHOW = 24;     // selected digits shown as pictures
const TABLE = 50;    // selected digits listed with their codes

function inside(polygon, x, y) {
  let yes = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i], [xj, yj] = polygon[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) yes = !yes;
  }
  return yes;
}

function exploreView(root, d, positions, later, setStateValue) {
  const t = d.text, s = state.get(d.key) || {picked: null, seq: 0, chosen: [], focus: null, colour: "label", lasso: false};
  state.set(d.key, s);
  const size = 520, view = viewOf(positions.n, positions.xy, size);
  const board = canvas(size, size, "map"), decoded = canvas(28, 28, "seen big-panel");
  const probs = canvas(260, 150, "probs small"), where = el("div", {className: "caption", textContent: t.wait});
  const gridCanvas = d.grid ? canvas(20 * 28, 20 * 28, "grid") : null;
  const points = canvas(size, size);
  const legend = el("div", {className: "legend"}, ...d.classes.map((c, i) => el("span", {textContent: `● ${c}`, style: `color:${PALETTE[i]}`})));
  const colours = el("div", {className: "controls"}, el("span", {textContent: t.colour}));
  const modes = ["decode", "lasso"].map((m) => {
    const b = el("button", {textContent: t[`mode_${m}`], className: (m === "lasso") === s.lasso ? "on" : ""});
    b.addEventListener("click", () => { s.lasso = m === "lasso"; modes.forEach((x) => x.classList.toggle("on", x === b)); });
    return b;
  });
  const downloads = el("div", {className: "controls"},
    downloadButton(t.download_csv, `${d.name}-${d.split}-map.csv`, () => csvOf("index,x,y,label",
      Array.from({length: positions.n}, (_, i) => [i, positions.xy[2 * i].toFixed(5), positions.xy[2 * i + 1].toFixed(5), positions.labels[i]]))),
    downloadButton(t.download_png, `${d.name}-${d.split}-map.png`, () => pngOf(points, 2)));
  const panel = el("div", {className: "right"}, d.classifier ? probs : decoded, where,
                   el("div", {className: "caption", textContent: t.help}));
  const chosenBox = el("div", {className: "chosen"});
  root.replaceChildren(el("div", {className: "explore"},
                          el("div", {}, el("div", {className: "controls"}, ...modes), board, legend, colours, downloads), panel,
                          ...(gridCanvas ? [el("figure", {}, gridCanvas, el("figcaption", {textContent: t.grid}))] : [])),
                       chosenBox);
  let hover = null, updates = 0, model = null, mapped = null, codes = null, atlas = null, values = null, drag = null;

  function paintPoints() {
    const colouring = s.colour === "predicted" && values && values.predictions ? {labels: values.predictions}
      : s.colour === "error" && values && values.errors ? {values: values.errors} : {labels: positions.labels};
    putPoints(points, positions.n, positions.xy, colouring.labels || positions.labels, view.toPx, colouring.values || null);
    show();
  }
  function colourButtons() {
    const kinds = ["label", ...(values && values.predictions ? ["predicted"] : []), ...(values && values.errors ? ["error"] : [])];
    colours.replaceChildren(el("span", {textContent: t.colour}), ...kinds.map((c) => {
      const b = el("button", {textContent: t[`colour_${c}`], className: c === s.colour ? "on" : ""});
      b.addEventListener("click", () => { s.colour = c; colourButtons(); paintPoints(); });
      return b;
    }));
  }
  const show = painter(() => {
    const bctx = board.getContext("2d");
    bctx.drawImage(points, 0, 0);
    bctx.strokeStyle = "#000";
    for (const i of s.chosen.slice(0, 2000)) {
      const [px, py] = view.toPx(positions.xy[2 * i], positions.xy[2 * i + 1]);
      bctx.strokeRect(px - 2, py - 2, 4, 4);
    }
    if (drag && drag.length > 1) {
      bctx.beginPath();
      drag.forEach(([x, y], i) => (i ? bctx.lineTo(x, y) : bctx.moveTo(x, y)));
      bctx.stroke();
    }
    if (s.picked) {
      const [px, py] = view.toPx(...s.picked.where);
      bctx.fillStyle = "#000";
      bctx.beginPath(); bctx.arc(px, py, 6, 0, 2 * Math.PI); bctx.fill();
    }
    const spot = hover || (s.picked && s.picked.where);
    if (!spot || !model) return;
    const t0 = performance.now();
    const z = !hover && s.picked ? s.picked.code : codeAt(mapped, ...spot, d.k);
    const out = Array.from(model.decode(z));
    if (model.kind === "classifier") putProbabilities(probs, out, d.classes);
    else putImage(decoded.getContext("2d"), out);
    updates += 1;
    root.dataset.updates = String(updates);
    root.dataset.decodeMs = (performance.now() - t0).toFixed(2);
    where.textContent = `${t.at} (${spot[0].toFixed(2)}, ${spot[1].toFixed(2)})${!hover && s.picked ? " · " + t.kept : ""}`;
  });

  function chosenPanel() {
    root.dataset.chosen = String(s.chosen.length);
    if (!s.chosen.length || !atlas) {
      chosenBox.replaceChildren(el("div", {className: "caption", textContent: t.select_hint}));
      return;
    }
    const shown = s.chosen.slice(0, SHOW), digits = canvas(1, 1, "digits"), recon = canvas(1, 1, "digits");
    putDigits(digits, atlas, shown);
    digits.style.width = `${digits.width * 3}px`;
    const parts = [el("h4", {textContent: t.selected.replace("{n}", s.chosen.length)}), digits, el("div", {className: "caption", textContent: t.input})];
    if (model && codes && model.kind !== "classifier") {
      recon.width = shown.length * 29 - 1;
      recon.height = 28;
      const rctx = recon.getContext("2d");
      rctx.fillStyle = "#fff";
      rctx.fillRect(0, 0, recon.width, 28);
      shown.forEach((i, j) => putImage(rctx, model.decode(codeOf(codes, i)), j * 29, 0));
      recon.style.width = `${recon.width * 3}px`;
      parts.push(recon, el("div", {className: "caption", textContent: t.reconstruction}));
    }
    if (codes) {
      const head = el("tr", {}, el("th", {textContent: "#"}), el("th", {textContent: t.label}),
                      ...Array.from({length: codes.k}, (_, j) => el("th", {textContent: `z${j}`})));
      const rows = s.chosen.slice(0, TABLE).map((i) => el("tr", {}, el("td", {textContent: i}),
        el("td", {textContent: d.classes[positions.labels[i]]}), ...codeOf(codes, i).map((v) => el("td", {textContent: v.toFixed(3)}))));
      parts.push(el("div", {className: "table"}, el("table", {}, head, ...rows)));
      if (s.focus === null || !s.chosen.includes(s.focus)) s.focus = s.chosen[0];
      const focus = el("select", {}, ...s.chosen.slice(0, 200).map((i) => el("option", {value: i, textContent: `#${i}`})));
      focus.value = s.focus;
      const neighbours = canvas(1, 1, "digits");
      const near = nearest(codes.codes, codes.k, codes.n, codeOf(codes, s.focus), 8, s.focus).map(([, i]) => i);
      putDigits(neighbours, atlas, near);
      neighbours.style.width = `${neighbours.width * 3}px`;
      root.dataset.neighbours = JSON.stringify(near);
      focus.addEventListener("change", () => { s.focus = +focus.value; chosenPanel(); });
      const open = el("button", {textContent: t.open_editor});
      open.addEventListener("click", () => setStateValue("edit", {seq: ++s.seq, code: codeOf(codes, s.focus), index: s.focus}));
      parts.push(el("div", {className: "controls"}, el("span", {textContent: t.focus}), focus),
                 el("div", {className: "caption", textContent: t.neighbours.replace("{i}", s.focus)}), neighbours,
                 el("div", {className: "controls"}, open));
    }
    chosenBox.replaceChildren(...parts);
  }

  const boardAt = (e) => {
    const r = board.getBoundingClientRect();
    return [(e.clientX - r.left) * (size / r.width), (e.clientY - r.top) * (size / r.height)];
  };
  function nearestPoint(px, py) {
    const [x, y] = view.toMap(px, py);
    const [best] = nearest(positions.xy, 2, positions.n, [x, y], 1);
    const [bx, by] = view.toPx(positions.xy[2 * best[1]], positions.xy[2 * best[1] + 1]);
    return Math.hypot(bx - px, by - py) < 8 ? best[1] : null;
  }
  board.addEventListener("pointerdown", (e) => {
    if (!s.lasso) return;
    try { board.setPointerCapture(e.pointerId); } catch (err) { /* nothing to capture */ }
    drag = [boardAt(e)];
  });
  board.addEventListener("pointermove", (e) => {
    if (drag) { drag.push(boardAt(e)); show(); return; }
    hover = view.toMap(...boardAt(e));
    show();
  });
  board.addEventListener("pointerleave", () => { hover = null; show(); });
  board.addEventListener("pointerup", (e) => {
    if (!drag) return;
    const polygon = drag;
    drag = null;
    if (polygon.length > 3) {
      s.chosen = [];
      for (let i = 0; i < positions.n; i++) {
        const [px, py] = view.toPx(positions.xy[2 * i], positions.xy[2 * i + 1]);
        if (inside(polygon, px, py)) s.chosen.push(i);
      }
      chosenPanel();
    }
    show();
  });
  board.addEventListener("click", (e) => {
    const [px, py] = boardAt(e), hit = nearestPoint(px, py);
    if (hit !== null && (s.lasso || !model)) { s.chosen = [hit]; chosenPanel(); }
    if (!model || s.lasso) { show(); return; }
    const place = view.toMap(px, py), z = codeAt(mapped, ...place, d.k);
    s.picked = {where: place, code: z};
    if (hit !== null) { s.chosen = [hit]; chosenPanel(); }
    show();
    root.dataset.picked = JSON.stringify(z.map((v) => Number(v.toFixed(5))));
  });
  let timer = 0, gone = false;
  const gridStep = (gctx, cell) => {                     // a 2-number code: the classic picture of its whole plane
    const until = performance.now() + 8;
    for (; cell < 400 && performance.now() < until; cell++) {
      const gx = cell % 20, gy = Math.floor(cell / 20);
      const x = view.lo[0] + (gx + 0.5) / 20 * view.extent[0], y = view.lo[1] + (19 - gy + 0.5) / 20 * view.extent[1];
      putImage(gctx, model.decode([x, y]), gx * 28, gy * 28);
    }
    if (cell < 400) timer = requestAnimationFrame(() => gridStep(gctx, cell));
  };
  paintPoints();
  colourButtons();
  chosenPanel();
  show.now();
  root.dataset.points = String(positions.n);             // every point is on the board
  later.then((got) => {
    if (gone) return;
    ({model, codes, atlas} = got);
    values = {...(got.clf_values || {}), ...(got.values || {})};  // an autoencoder's colours: a classifier's predictions
    if (codes) mapped = {...positions, k: codes.k, codes: codes.codes};
    if (model && codes) {
      where.textContent = "";
      root.dataset.live = "1";
      if (gridCanvas) timer = requestAnimationFrame(() => gridStep(gridCanvas.getContext("2d"), 0));
    }
    colourButtons();
    chosenPanel();
    show.now();
  }).catch(() => { where.textContent = t.gone; });
  return () => { gone = true; show.cancel(); cancelAnimationFrame(timer); };
}
