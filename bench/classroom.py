"""A class on one server, measured by hand: `python -m bench.classroom` prints markdown and writes
bench/classroom.md. Loopback only; every run is bounded in students and seconds.

- one browser (Chromium): the web server's CPU for each thing a person does (a page load, as the first
  visitor of a model and as the next one; a slider release, a drawing, map hover, click and lasso, an
  interpolation or arithmetic change), and what the page sent for it (websocket messages to Python,
  HTTP requests to the server);
- a class (bench/student.py, Streamlit's own protocol): students at a classroom pace (per minute: 2 page
  loads, 20 slider releases and 4 drawings; the gestures send what the one-browser run saw the page
  send), the server's CPU per student-minute, the students one core serves at that pace, and with the
  server pinned to one core (`taskset -c 0`) and 30 students: page loads' p50 and p95 and failures;
- followers of a lesson: students' pages following the teacher's moves, the server's CPU per follower
  per second and how fast a move reaches them.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench.chromium import CHROMIUM, FLAGS, Server, draw_with_mouse, open_page, pct, run_report, server_cpu, three

HERE = Path(__file__).resolve().parent
PACE = {"loads": 2, "releases": 20, "drawings": 4}   # per student and minute
PAGES = [("home", ""), ("lesson", ""), ("editor", "model=mnist-cnn-ae-16"), ("map", "model=mnist-cnn-ae-16"),
         ("draw", "model=mnist-cnn-ae-16"), ("classifier", "model=mnist-cnn-clf"), ("transfer", ""), ("models", ""),
         ("train", "")]
QUIET = 1.5   # seconds after an action before its CPU is read (anything it set off has finished by then)



class Meter:
    """Server CPU and what one page sends, around one action."""

    def __init__(self, server, page, idle_rate: float):
        self.server, self.idle_rate = server, idle_rate
        self.messages = self.requests = 0
        page.on("websocket", lambda ws: ws.on("framesent", lambda _: self._count("messages")))
        page.on("request", lambda r: self._count("requests") if r.url.startswith(server.url + "/encdec/") else None)

    def _count(self, what):
        setattr(self, what, getattr(self, what) + 1)

    def around(self, action) -> dict:
        """Do `action()`, wait until the server is quiet, and say what it cost."""
        self.messages = self.requests = 0
        cpu, start = server_cpu(self.server.proc.pid), time.perf_counter()
        action()
        time.sleep(QUIET)
        used = server_cpu(self.server.proc.pid) - cpu - self.idle_rate * (time.perf_counter() - start)
        return {"cpu_ms": max(0.0, 1000 * used), "messages": self.messages, "requests": self.requests}


def idle_rate(server, seconds: float = 6.0) -> float:
    cpu = server_cpu(server.proc.pid)
    time.sleep(seconds)
    return (server_cpu(server.proc.pid) - cpu) / seconds


def _drag(page, selector: str, x_from: float, x_to: float, y: float = 0.5) -> None:
    box = page.locator(selector).first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * x_from, box["y"] + box["height"] * y)
    page.mouse.down()
    for j in range(1, 21):
        page.mouse.move(box["x"] + box["width"] * (x_from + (x_to - x_from) * j / 20), box["y"] + box["height"] * y)
    page.mouse.up()


def gestures(page, meter) -> dict:
    """Each gesture a few times on an open page; the median cost of each."""
    out = {}
    editor, explore, draw = '.live[data-view="editor"]', '.live[data-view="explore"]', '.live[data-view="draw"]'
    open_page(page, f"{meter.server.url}/editor?model=mnist-cnn-ae-16")
    page.locator(f"{editor} canvas.strip").first.wait_for(timeout=120_000)
    out["slider release (code editor)"] = [meter.around(lambda i=i: _drag(page, f"{editor} input[type=range] >> nth={i % 3}",
                                                                           0.3, 0.7 - 0.1 * (i % 2))) for i in range(5)]
    interp = page.locator('.live[data-view="interpolation"] input').first
    arith = page.locator('.live[data-view="arithmetic"] input').first

    def change(locator, value):
        locator.fill(str(value))
        locator.dispatch_event("change")
    out["interpolation change"] = [meter.around(lambda i=i: change(interp, 10 + i)) for i in range(3)]
    out["arithmetic change"] = [meter.around(lambda i=i: change(arith, 20 + i)) for i in range(3)]

    open_page(page, f"{meter.server.url}/draw?model=mnist-cnn-ae-16")
    board = page.locator(f"{draw} canvas.board")
    board.wait_for(timeout=120_000)

    def drawing():
        page.locator(f"{draw} button", has_text="Clear").click()
        draw_with_mouse(page, board, three())
    out["a finished drawing (Draw)"] = [meter.around(drawing) for _ in range(3)]

    open_page(page, f"{meter.server.url}/map?model=mnist-cnn-ae-16")
    page.wait_for_selector(f'{explore}[data-live="1"]', timeout=120_000)
    board = page.locator(f"{explore} canvas.map")
    board.scroll_into_view_if_needed()
    box = board.bounding_box()

    def hover():
        for j in range(30):
            page.mouse.move(box["x"] + box["width"] * (0.1 + 0.027 * j), box["y"] + box["height"] * (0.2 + 0.02 * j))
    out["map hover (30 places)"] = [meter.around(hover) for _ in range(3)]
    out["map click"] = [meter.around(lambda j=j: page.mouse.click(box["x"] + box["width"] * (0.3 + 0.1 * j),
                                                                  box["y"] + box["height"] * 0.5)) for j in range(3)]

    def lasso():
        page.locator(f"{explore} button", has_text="Lasso").click()
        page.mouse.move(box["x"] + 10, box["y"] + 10)
        page.mouse.down()
        for x, y in ((0.9, 0.05), (0.9, 0.9), (0.05, 0.9), (0.03, 0.05)):
            page.mouse.move(box["x"] + box["width"] * x, box["y"] + box["height"] * y, steps=5)
        page.mouse.up()
        page.locator(f"{explore} button", has_text="Decode").click()
    out["map lasso"] = [meter.around(lasso) for _ in range(3)]
    return out


def one_browser() -> tuple[list[str], dict]:
    """Chromium against a fresh server: page loads (first and next visitor) and gestures."""
    from playwright.sync_api import sync_playwright

    server = Server(Path(tempfile.mkdtemp(prefix="encdec-bench-")), env={"ENCDEC_SHARED": "1"})
    loads, gesture_costs, arrivals = {}, {}, {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            rate = idle_rate(server)
            for visitor in ("first", "next"):
                context = browser.new_context(viewport={"width": 1300, "height": 1000})
                page = context.new_page()
                meter = Meter(server, page, rate)
                # a browser's arrival: the app's own scripts, a new session, its workspace key told
                arrivals[visitor] = meter.around(lambda: open_page(page, server.url + "/"))
                for name, query in PAGES:
                    url = f"{server.url}/{'' if name == 'home' else name}" + (f"?{query}" if query else "")
                    loads.setdefault(name, {})[visitor] = meter.around(lambda u=url: open_page(page, u))
                if visitor == "next":
                    gesture_costs = gestures(page, meter)
                context.close()
            browser.close()
    finally:
        server.stop()
    lines = ["#### One browser: the web server's CPU for each thing a person does", "",
             f"Chromium against a classroom server (ENCDEC_SHARED=1), nothing else running; server CPU in ms over the "
             f"action and the {QUIET} s after it, less the idle server's own ({1000 * rate:.1f} ms/s). A page load is "
             "opening its address until the app is idle, as the first visitor since the server started and as the "
             "next visitor (another browser, after its arrival).", "",
             "| page | first visitor: server CPU | next visitor: server CPU | messages to Python (next) |",
             "|---|---:|---:|---:|",
             f"| a new browser arrives (the app's scripts, a new session, its key) | {arrivals['first']['cpu_ms']:.0f} ms "
             f"| {arrivals['next']['cpu_ms']:.0f} ms | {arrivals['next']['messages']} |"]
    for name, r in loads.items():
        lines.append(f"| {name} | {r['first']['cpu_ms']:.0f} ms | {r['next']['cpu_ms']:.0f} ms | {r['next']['messages']} |")
    lines += ["", "| gesture | server CPU (median) | messages to Python | requests to the server |", "|---|---:|---:|---:|"]
    for name, runs in gesture_costs.items():
        lines.append(f"| {name} | {statistics.median(r['cpu_ms'] for r in runs):.1f} ms "
                     f"| {max(r['messages'] for r in runs)} | {max(r['requests'] for r in runs)} |")
    summary = {"load_next_ms": statistics.mean(r["next"]["cpu_ms"] for r in loads.values()),
               "release_ms": statistics.median(r["cpu_ms"] for r in gesture_costs.get("slider release (code editor)", [{"cpu_ms": 0}])),
               "drawing_ms": statistics.median(r["cpu_ms"] for r in gesture_costs.get("a finished drawing (Draw)", [{"cpu_ms": 0}])),
               "release_messages": max((r["messages"] for r in gesture_costs.get("slider release (code editor)", [])), default=0),
               "drawing_messages": max((r["messages"] for r in gesture_costs.get("a finished drawing (Draw)", [])), default=0)}
    return lines, summary


# -- a class of protocol-level students ------------------------------------------------------------------

def run_class(students: int, seconds: float, pinned: bool) -> dict:
    """`students` protocol students for `seconds` at the classroom pace, against a fresh classroom server
    (pinned to core 0 when asked, the students then on the other cores)."""
    from bench.student import classroom

    env = {"ENCDEC_SHARED": "1"}
    server = Server(Path(tempfile.mkdtemp(prefix="encdec-bench-")), env=env, pin="0" if pinned else None)
    try:
        if pinned and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, set(range(1, os.cpu_count())))
        warm = asyncio.run(classroom(server.url, 2, 20, loads_per_minute=12))  # the model versions' first visits
        cpu, start = server_cpu(server.proc.pid), time.perf_counter()
        visits = asyncio.run(classroom(server.url, students, seconds, loads_per_minute=PACE["loads"]))
        used = server_cpu(server.proc.pid) - cpu
        wall = time.perf_counter() - start
    finally:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        server.stop()
    ok = [v for v in visits if v.ok]
    minutes = students * seconds / 60
    return {"students": students, "seconds": seconds, "visits": len(visits), "failed": len(visits) - len(ok),
            "errors": sorted({v.error for v in visits if not v.ok})[:3], "p50": pct([v.seconds for v in ok], 50),
            "p95": pct([v.seconds for v in ok], 95), "cpu_s": used, "wall": wall,
            "cpu_per_student_minute": used / minutes, "warm_failed": sum(not v.ok for v in warm)}


# -- followers of a lesson ----------------------------------------------------------------------------------

def followers(n: int, seconds: float, move_every: float = 5.0) -> dict:
    """`n` students' pages following the lesson for `seconds` while the teacher moves every `move_every`
    seconds: each asks the follow route as its page does (`?after=` what it has; the answer comes when the
    teacher moves), and notes how long each move took to reach it."""
    from encdec.follow import lesson_key

    server = Server(Path(tempfile.mkdtemp(prefix="encdec-bench-")), env={"ENCDEC_SHARED": "1"})
    answers, failed, delays, lock = [0], [0], [], threading.Lock()
    moved_at: dict[int, float] = {}
    try:
        key = lesson_key(server.home)
        end = time.time() + seconds
        cpu, start = server_cpu(server.proc.pid), time.perf_counter()

        def follow():
            seq = -1
            while time.time() < end:
                try:
                    with urllib.request.urlopen(f"{server.url}/encdec/follow?after={seq}", timeout=60) as r:
                        got = json.loads(r.read())
                    with lock:
                        answers[0] += 1
                        if got["seq"] != seq and got["seq"] in moved_at:
                            delays.append(time.perf_counter() - moved_at[got["seq"]])
                    seq = got["seq"]
                except OSError:
                    with lock:
                        failed[0] += 1
                    time.sleep(2)

        def teach():
            for step in range(1, 10_000):
                time.sleep(move_every)
                if time.time() > end - 1:
                    return
                body = json.dumps({"key": key, "step": step % 8, "state": {}}).encode()
                request = urllib.request.Request(f"{server.url}/encdec/follow", data=body, method="POST",
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=30) as r:
                    moved_at[json.loads(r.read())["seq"]] = time.perf_counter()
        threads = [threading.Thread(target=follow) for _ in range(n)] + [threading.Thread(target=teach)]
        for th in threads:
            th.start()
        time.sleep(max(0.0, end - time.time()))
        used, wall = server_cpu(server.proc.pid) - cpu, time.perf_counter() - start  # the run's own seconds
        for th in threads:  # the last questions are answered when they time out (FOLLOW_WAIT)
            th.join()
    finally:
        server.stop()
    return {"n": n, "seconds": wall, "answers": answers[0], "failed": failed[0], "moves": len(moved_at),
            "p95_delay": pct(delays, 95), "ms_per_follower_second": 1000 * used / (n * wall)}


def report(args) -> str:
    cpus = os.cpu_count() or 1
    lines = [f"Measured on {cpus} CPU cores (x86_64), everything on loopback on the same machine.", ""]
    summary = {}
    if not args.no_browser:
        browser_lines, summary = one_browser()
        lines += browser_lines + [""]
    free = run_class(args.students, args.seconds, pinned=False)
    pinned = run_class(args.pinned_students, args.seconds, pinned=True) if shutil.which("taskset") else None
    per_minute = free["cpu_per_student_minute"]
    gestures_ms = summary.get("release_ms", 0) * PACE["releases"] + summary.get("drawing_ms", 0) * PACE["drawings"]
    lines += ["#### A class at a classroom pace (protocol students, bench/student.py)", "",
              f"Per student and minute: {PACE['loads']} page loads (a random page of the app), {PACE['releases']} slider "
              f"releases and {PACE['drawings']} drawings. The page sends Python nothing for a release or a drawing "
              f"(the one-browser run saw {summary.get('release_messages', 0)} and {summary.get('drawing_messages', 0)} "
              "messages), so a student sends nothing for them either; each student keeps its blobs as a browser's cache "
              "does. Server CPU over the whole run.", "",
              "| server | students | seconds | page loads | failed | load p50 | load p95 | server CPU per student-minute |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label, r in (("free (2 cores)", free), ("pinned to one core (taskset -c 0)", pinned)):
        if r is None:
            continue
        lines.append(f"| {label} | {r['students']} | {r['seconds']:.0f} | {r['visits']} | {r['failed']} | {r['p50']:.2f} s "
                     f"| {r['p95']:.2f} s | {1000 * r['cpu_per_student_minute']:.0f} ms |")
        if r["errors"]:
            lines.append(f"|  | failures: {'; '.join(e[:80] for e in r['errors'])} | | | | | | |")
    serves = 60 / (per_minute + gestures_ms / 1000)
    lines += ["", f"Students one core serves at this pace: **{serves:.0f}** (60 s of CPU a minute over "
                  f"{1000 * per_minute:.0f} ms per student-minute of page loads"
                  + (f", plus {gestures_ms:.0f} ms of gestures measured in one browser" if gestures_ms else "") + ")."]
    f = followers(args.followers, args.follow_seconds)
    lines += ["", "#### Following the teacher in the lesson", "",
              f"{f['n']} students' pages following the lesson for {f['seconds']:.0f} s while the teacher moved "
              f"{f['moves']} times (every 5 s): each page asks the follow route as the lesson page does, and the answer "
              f"comes when the teacher moves. {f['answers']:,} answers, {f['failed']} failures; a move reached every "
              f"page within {1000 * f['p95_delay']:.0f} ms (p95); server CPU **{f['ms_per_follower_second']:.3f} ms per "
              "follower per second** (the server's idle time included)."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.classroom", description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=40)
    p.add_argument("--pinned-students", type=int, default=30)
    p.add_argument("--seconds", type=float, default=120)
    p.add_argument("--followers", type=int, default=40)
    p.add_argument("--follow-seconds", type=float, default=30)
    p.add_argument("--no-browser", action="store_true", help="only the protocol students and the followers")
    p.add_argument("--out", default=str(HERE / "classroom.md"))
    p.add_argument("--dry-run", action="store_true", help="a few students for a few seconds, to check that it runs")
    args = p.parse_args(argv)
    if not (1 <= args.students <= 500 and 1 <= args.pinned_students <= 500 and 1 <= args.followers <= 500
            and 1 <= args.seconds <= 1800):
        p.error("students and followers: 1 to 500; seconds: 1 to 1800")
    return run_report(args, report, dict(students=3, pinned_students=3, seconds=10, followers=3, follow_seconds=3))


if __name__ == "__main__":
    raise SystemExit(main())
