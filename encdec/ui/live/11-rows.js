// Chapter 11: rows of decoded codes. Interpolation from test digit A to test digit B (steps and path set
// here), and arithmetic A - B + C on three test digits' codes: the digits are chosen, shown, encoded
// and decoded in the page, and the address keeps the choice (?ia=&ib=&is=&ip=, ?aa=&ab=&ac=).

function rowView(root, d, got) {
  const t = d.text, model = got.model, codes = got.codes, atlas = got.atlas, arith = d.view === "arithmetic";
  const s = state.get(d.key) || {picks: d.picks.slice(), steps: d.steps, method: d.method};
  state.set(d.key, s);
  const names = arith ? ["aa", "ab", "ac"] : ["ia", "ib"];
  const inputs = s.picks.map((v, j) => {
    const input = el("input", {type: "number", min: 0, max: atlas.n - 1, value: v, className: "index"});
    input.addEventListener("change", () => {
      s.picks[j] = Math.max(0, Math.min(atlas.n - 1, Math.round(+input.value) || 0));
      input.value = s.picks[j];
      draw();
    });
    return input;
  });
  const faces = s.picks.map(() => canvas(28, 28, "seen small"));
  const pickers = el("div", {className: "controls"}, ...inputs.flatMap((input, j) => [
    el("figure", {}, faces[j], el("figcaption", {textContent: d.labels[j]}), input)]));
  const strip = canvas(1, 1, "row");
  const labels = el("div", {className: "row-labels"});
  const controls = el("div", {className: "controls"});
  root.replaceChildren(pickers, controls, strip, labels);
  const link = () => own(d.page, Object.fromEntries([...names.map((n, j) => [n, String(s.picks[j])]),
                                                      ...(arith ? [] : [["is", String(s.steps)], ["ip", s.method]])]));
  const draw = painter(() => {
    s.picks.forEach((i, j) => putImage(faces[j].getContext("2d"), atlasImage(atlas, i), 0, 0, true));
    const terms = s.picks.map((i) => codeOf(codes, i));
    const row = arith ? [...terms, terms[0].map((v, j) => v - terms[1][j] + terms[2][j])]
                      : interpolate(terms[0], terms[1], s.steps, s.method);
    const captions = arith ? d.names : row.map((_, i) => (i / (row.length - 1)).toFixed(2));
    const outs = row.map((z) => model.decode(z));
    const cell = d.classifier ? 60 : 29;
    strip.width = row.length * cell - 1;
    strip.height = d.classifier ? 60 : 28;
    const ctx = strip.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, strip.width, strip.height);
    outs.forEach((out, j) => {
      if (d.classifier) {
        const top = out.indexOf(Math.max(...out));
        ctx.fillStyle = "#333";
        ctx.font = "12px sans-serif";
        ctx.fillText(String(d.classes[top]).slice(0, 8), j * cell + 2, 24);
        ctx.fillText(`${Math.round(out[top] * 100)}%`, j * cell + 2, 44);
      } else putImage(ctx, out, j * cell, 0);
    });
    strip.style.width = `${strip.width * (d.classifier ? 1 : 3)}px`;
    labels.replaceChildren(...captions.map((n) => el("span", {textContent: n, style: `width:${cell * (d.classifier ? 1 : 3)}px`})));
    root.dataset.frames = String(draw.frames());
    root.dataset.result = JSON.stringify(row[row.length - 1].map((v) => Number(v.toFixed(5))));
    link();
  });
  if (!arith) {
    const steps = el("input", {type: "range", min: 3, max: 16, step: 1, value: s.steps});
    const stepsLabel = el("span", {textContent: `${t.steps}: ${s.steps}`});
    steps.addEventListener("input", () => { s.steps = +steps.value; stepsLabel.textContent = `${t.steps}: ${s.steps}`; draw(); });
    const paths = ["linear", "slerp"].map((m) => {
      const b = el("button", {textContent: t[m], className: m === s.method ? "on" : ""});
      b.addEventListener("click", () => { s.method = m; paths.forEach((p) => p.classList.toggle("on", p === b)); draw(); });
      return b;
    });
    controls.replaceChildren(stepsLabel, steps, el("span", {textContent: `${t.path}:`}), ...paths);
  }
  draw.now();
  return () => draw.cancel();
}
