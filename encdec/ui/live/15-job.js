// Chapter 15: a job, watched. The page asks the server's small job route how its job goes, once a second
// (plain JSON, no script run): its place in the queue, its progress, the loss curves, a few test digits
// with what the model makes of them now, and the code space as it forms. Stop is a POST to the same
// route. When the job has ended the view tells Python once, so the page can show what it made.

const clock = (seconds) => {
  if (!Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  return s < 3600 ? `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}` : `${Math.floor(s / 3600)}h${String(Math.floor(s % 3600 / 60)).padStart(2, "0")}`;
};

const fill = (template, values) => template.replace(/\{(\w+)(?::[^}]*)?\}/g, (m, k) => (k in values ? String(values[k]) : m));

function jobView(root, d, got, setStateValue) {
  const t = d.text, atlas = got.atlas;
  const line = el("div", {className: "caption status"}), bar = el("progress", {max: 1, value: 0, className: "bar"});
  const times = el("div", {className: "caption"}), stop = el("button", {textContent: t.stop});
  const curve = canvas(460, 200, "curve"), space = canvas(300, 300, "space"), spaceCaption = el("div", {className: "caption"});
  const inputs = canvas(1, 1, "digits"), outputs = canvas(1, 1, "digits"), guesses = el("div", {className: "caption"});
  const watching = el("div", {className: "job-live"}, el("div", {className: "left"}, curve, space, spaceCaption),
                      el("div", {className: "right"}, el("div", {className: "caption", textContent: t.preview}), inputs, outputs, guesses));
  watching.style.display = "none";
  root.replaceChildren(line, bar, times, el("div", {className: "controls"}, stop), watching);
  let ended = false, timer = 0, gone = false;
  stop.addEventListener("click", () => {
    stop.disabled = true;
    fetch(`${d.url}/stop`, {method: "POST"}).catch(() => {});
  });
  function render(job) {
    root.dataset.status = job.status;
    if (job.status === "queued") {
      line.textContent = fill(t.queued, {place: Math.max(1, job.place)});
      bar.value = 0;
    } else if (job.progress && job.progress.phase !== "done" && !(job.step && job.progress.fraction >= 1)) {
      const p = job.progress;
      line.textContent = fill(t.running, {epoch: p.epoch, epochs: p.epochs});
      bar.value = Math.min(1, p.fraction);
      times.textContent = fill(t.elapsed, {elapsed: clock(p.elapsed), remaining: clock(p.remaining)});
    } else if (job.step) {
      line.textContent = fill(t.stages[job.step.stage] || job.step.stage, job.step.values || {});
      bar.value = Math.min(1, job.step.fraction);
    }
    if (job.curve && job.curve.length) {
      watching.style.display = "";
      putCurve(curve, job.curve, job.progress ? job.progress.epochs : 1, [t.curve_train, t.curve_val]);
    }
    if (job.frame) {
      const fresh = viewOf(job.frame.labels.length, job.frame.xy, 300, 0.1);
      putPoints(space, job.frame.labels.length, job.frame.xy, job.frame.labels, fresh.toPx);
      spaceCaption.textContent = fill(t.frame, {epoch: job.frame.epoch.toFixed(2), loss: job.frame.loss.toFixed(4)});
      root.dataset.frames = String((+root.dataset.frames || 0) + 1);
    }
    if (job.preview && atlas) {
      const n = job.preview.length;
      putDigits(inputs, atlas, Array.from({length: n}, (_, i) => i));
      inputs.style.width = `${inputs.width * 3}px`;
      if (job.preview[0].length === 784) {
        outputs.width = n * 29 - 1;
        outputs.height = 28;
        const ctx = outputs.getContext("2d");
        ctx.fillStyle = "#fff";
        ctx.fillRect(0, 0, outputs.width, 28);
        job.preview.forEach((img, i) => putImage(ctx, img, i * 29, 0));
        outputs.style.width = `${outputs.width * 3}px`;
        guesses.textContent = "";
      } else {
        outputs.width = outputs.height = 1;
        guesses.textContent = job.preview.map((p) => d.classes[p.indexOf(Math.max(...p))]).join(" ");
      }
    }
    stop.style.display = ["queued", "running"].includes(job.status) ? "" : "none";
  }
  async function poll() {
    timer = 0;
    if (gone) return;
    try {
      const r = await fetch(d.url, {cache: "no-store"});
      const job = await r.json();
      if (gone) return;
      if (job.status === "gone") { line.textContent = t.gone; return; }
      render(job);
      if (["done", "stopped", "failed"].includes(job.status)) {
        if (!ended) { ended = true; setStateValue("ended", {token: d.token, status: job.status}); }
        return;
      }
    } catch (e) {
      line.textContent = t.lost;
    }
    timer = setTimeout(poll, d.every || 1000);
  }
  poll();
  return () => { gone = true; clearTimeout(timer); };
}
