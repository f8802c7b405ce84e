// Chapter 20: the lesson. The article's argument in steps, one screen each: a few sentences, one live
// element the hand works, a small task the page checks itself with the models it runs. Arrow keys and
// buttons move; the address keeps the step and its state (?step=, and what the step shows); ?present=1
// shows it large for a projector. On a classroom server the teacher leads: the teacher's page posts its
// step to the server's follow route, the students' pages read it twice a second and move along, and
// a student can stop following and rejoin. Steps themselves are chapter 21.

const FOLLOW_AGAIN = 2000;  // ms before a follower asks again after an error, or while no lesson is led
const LESSON_LINK = ["z", "xy", "f", "aa", "ab", "ac"];  // what the steps keep in the address (pages/lesson.py reads them)

/** A small box to draw a digit in; `changed(digit or null)` after every stroke. */
function miniBoard(size, changed, textOf) {
  const board = canvas(280, 280, "board"), ctx = board.getContext("2d", {willReadFrequently: true});
  board.style.width = board.style.height = `${size}px`;
  let strokes = [], drawing = false;
  const clear = el("button", {textContent: textOf("clear")});
  const redraw = () => { drawStrokes(ctx, strokes, 18); changed(digitOf(ctx)); };
  const at = (e) => {
    const r = board.getBoundingClientRect();
    return [(e.clientX - r.left) * (280 / r.width), (e.clientY - r.top) * (280 / r.height)];
  };
  board.addEventListener("pointerdown", (e) => {
    try { board.setPointerCapture(e.pointerId); } catch (err) { /* nothing to capture */ }
    drawing = true;
    strokes.push({points: [at(e)], pen: 18});
    redraw();
  });
  board.addEventListener("pointermove", (e) => { if (drawing) { strokes[strokes.length - 1].points.push(at(e)); redraw(); } });
  const lift = () => { drawing = false; };
  board.addEventListener("pointerup", lift);
  board.addEventListener("pointercancel", lift);
  clear.addEventListener("click", () => { strokes = []; redraw(); });
  drawStrokes(ctx, strokes, 18);
  return el("div", {className: "mini-board"}, board, el("div", {className: "controls"}, clear));
}

/** A picture's ink: the sum of its pixels (a bolder digit has more). */
const inkOf = (pixels) => pixels.reduce((a, v) => a + v, 0);

/** What the classifier reads in a picture: [top class, its probability, all probabilities]. */
function readBy(classifier, pixels) {
  const p = Array.from(classifier.decode(classifier.encode(pixels)));
  const top = p.indexOf(Math.max(...p));
  return [top, p[top], p];
}

function lessonView(root, d, got, setStateValue) {
  const t = d.text, n = LESSON_STEPS.length;
  const s = state.get(d.key) || {step: Math.max(0, Math.min(n - 1, d.step)), done: new Set(), states: {...(d.states || {})},
                                  following: !!d.follow && !d.teacher, seq: -1};
  state.set(d.key, s);
  root.classList.toggle("present", !!d.present);
  const title = el("h2", {className: "lesson-title"}), body = el("div", {className: "lesson-body"});
  const stage = el("div", {className: "lesson-stage"}), task = el("div", {className: "lesson-task"});
  const prev = el("button", {textContent: "←"}), next = el("button", {textContent: "→"});
  const dots = el("span", {className: "dots"});
  const follow = el("button", {className: "follow"});
  const badge = el("span", {className: "caption lead"});
  const bar = el("div", {className: "controls lesson-nav"}, prev, dots, next,
                 ...(d.follow && !d.teacher ? [follow] : []), ...(d.teacher ? [badge] : []));
  root.replaceChildren(bar, title, body, stage, task);
  let current = null;

  function link() {                                      // this step and its state, nothing of the other steps
    const params = Object.fromEntries(LESSON_LINK.map((k) => [k, null]));
    for (const [k, v] of Object.entries(current ? current.state() : {})) params[k] = String(v);
    own("lesson", {step: String(s.step + 1), ...params});
  }
  const tellClass = throttled(() => {                    // the teacher's page moves the class's lesson
    fetch("/encdec/follow", {method: "POST", headers: {"Content-Type": "application/json"},
                             body: JSON.stringify({key: d.teacher, step: s.step, state: current ? current.state() : {}})}).catch(() => {});
  }, 300);
  function changed() {
    s.states[s.step] = current ? current.state() : {};
    link();
    if (d.teacher) tellClass();
  }
  function markDone() {
    if (s.done.has(s.step)) return;
    s.done.add(s.step);
    paintTask();
    root.dataset.done = JSON.stringify([...s.done].sort((a, b) => a - b));
  }
  function paintTask() {
    const st = t.steps[s.step], finished = s.done.has(s.step);
    task.replaceChildren(el("b", {textContent: finished ? "✓ " : "☐ "}), el("span", {textContent: finished ? st.done : st.task}));
    task.classList.toggle("finished", finished);
  }
  function paintNav() {
    dots.replaceChildren(...LESSON_STEPS.map((_, i) => {
      const b = el("button", {textContent: String(i + 1), className: `dot${i === s.step ? " on" : ""}${s.done.has(i) ? " done" : ""}`});
      b.addEventListener("click", () => go(i));
      return b;
    }));
    prev.disabled = s.step === 0;
    next.disabled = s.step === n - 1;
    follow.textContent = s.following ? t.stop_following : t.follow;
    follow.classList.toggle("on", s.following);
    badge.textContent = t.leading;
  }
  function go(step, given = null) {
    if (current && current.cleanup) current.cleanup();
    s.step = Math.max(0, Math.min(n - 1, step));
    if (given) s.states[s.step] = given;
    const st = t.steps[s.step];
    title.textContent = `${t.step_of.replace("{i}", s.step + 1).replace("{n}", n)} · ${st.title}`;
    body.replaceChildren(...st.body.map((p) => el("p", {textContent: p})));
    current = LESSON_STEPS[s.step]({d, got, t: st, words: t, done: markDone, changed, saved: s.states[s.step] || {}});
    stage.replaceChildren(current.node);
    root.dataset.step = String(s.step + 1);
    paintTask();
    paintNav();
    changed();
  }
  prev.addEventListener("click", () => go(s.step - 1));
  next.addEventListener("click", () => go(s.step + 1));
  follow.addEventListener("click", () => { s.following = !s.following; s.seq = -1; paintNav(); if (s.following) look(); });
  const keys = (e) => {
    if (["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement && document.activeElement.tagName)) return;
    if (e.key === "ArrowRight") go(s.step + 1);
    if (e.key === "ArrowLeft") go(s.step - 1);
  };
  document.addEventListener("keydown", keys);
  let timer = 0, gone = false, asking = null;
  async function look() {                                 // a student's page follows the teacher's
    clearTimeout(timer);
    if (asking) asking.abort();
    if (gone || !s.following) return;
    const mine = asking = new AbortController();
    let wait = 0;
    try {                                                 // answered when the teacher moves past s.seq (or after a while)
      const led = await (await fetch(`/encdec/follow?after=${s.seq}`, {cache: "no-store", signal: mine.signal})).json();
      if (!gone && s.following && led.seq !== s.seq) {
        s.seq = led.seq;                                  // before any lesson is led too: the next answer waits for one
        if (led.led && (led.step !== s.step || JSON.stringify(led.state) !== JSON.stringify(current ? current.state() : {}))) {
          go(led.step, led.state);
        }
        root.dataset.followed = String(led.seq);
      }
    } catch (e) {
      if (mine.signal.aborted) return;                    // stopped following, or asked again already
      wait = FOLLOW_AGAIN;                                // the server is busy or restarting: ask again soon
    }
    if (asking === mine) timer = setTimeout(look, wait);
  }
  go(s.step, s.states[s.step]);
  if (s.following) look();
  return () => { gone = true; clearTimeout(timer); if (asking) asking.abort(); tellClass.cancel(); document.removeEventListener("keydown", keys); if (current && current.cleanup) current.cleanup(); };
}
