"""The app in Chromium, measured by hand: `python -m bench.browser [--load]` prints markdown and writes
bench/browser.md.

- the models in the page: decode (and encode) time per model, page-side, in Chromium
- code editor: pictures drawn per second while a slider is dragged (a real mouse drag, and a hand
  moving the slider at 120 events/s), reruns of the script and bytes on the wire per release,
  release -> link updated
- draw page: live updates per second while a stroke is drawn; latent map: decode time per hover
- with --fresh N: only the first map on N fresh servers (empty numba cache, empty ENCDEC_HOME):
  seconds from opening /map of a shipped model to all its points on a map, to all of them on the
  selection map, and to decoding on the map
- with --load: 10 more browser contexts each releasing a slider about once a second while one
  training runs: one client's frame rate during a drag, release -> link p95 over all clients, and
  the server's CPU time per release
"""
from __future__ import annotations

import argparse
import base64
import os
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.chromium import (CHROMIUM, FLAGS, ROOT, Server, errors, live_module, open_fresh_map, open_page,
                            pct, publish, server_cpu, settle)

HERE = Path(__file__).resolve().parent
EDITOR_MODELS = ["mnist-mlp-ae-16", "mnist-cnn-ae-16", "mnist-lstm-ae-16", "mnist-cnn-clf"]
EDITOR = '.live[data-view="editor"]'



def page_side_times(browser, names) -> list[tuple]:
    """(model, encode ms, decode ms): medians of 30 calls in a blank page, after 3 warm-up calls."""
    import encdec
    from encdec.webmodel import weights_blob

    page = browser.new_page()
    live_module(page)
    rows = []
    for name in names:
        model = encdec.load(ROOT / "models" / f"{name}.safetensors")
        enc, dec = page.evaluate("""(blob) => {
            const m = window.live.makeModel(Uint8Array.from(atob(blob), (c) => c.charCodeAt(0)));
            const x = new Float32Array(784).map((_, i) => (i % 7) / 7), z = m.encode(x), time = (f) => {
                for (let i = 0; i < 3; i++) f();
                const t = [];
                for (let i = 0; i < 30; i++) { const s = performance.now(); f(); t.push(performance.now() - s); }
                return t.sort((a, b) => a - b)[15];
            };
            return [time(() => m.encode(x)), time(() => m.decode(z))];
        }""", base64.b64encode(weights_blob(model, name)).decode())
        rows.append((name, enc, dec))
    page.close()
    return rows


class Wire:
    """Bytes and messages on the page's websocket (both ways), from `mark()` on; made before the page
    opens its websocket (a new page, or before a navigation)."""

    def __init__(self, page):
        self.sent = self.received = self.messages_sent = 0
        page.on("websocket", self._attach)
        self.page = page

    def _attach(self, ws):
        ws.on("framesent", lambda payload: self._count(payload, True))
        ws.on("framereceived", lambda payload: self._count(payload, False))

    def _count(self, payload, sent: bool):
        n = len(payload) if payload is not None else 0
        if sent:
            self.sent += n
            self.messages_sent += 1
        else:
            self.received += n

    def mark(self):
        self.sent = self.received = self.messages_sent = 0


def _runs(page) -> int:
    return page.evaluate("() => window.__runs || 0")


def _count_runs(page) -> None:
    """Count the script runs the page sees (each one flips the app's run state to 'running')."""
    page.evaluate("""() => {
        if (window.__runs !== undefined) return;
        window.__runs = 0;
        const app = document.querySelector('[data-testid="stApp"]');
        new MutationObserver(() => { if (app.dataset.testScriptState === "running") window.__runs += 1; })
            .observe(app, {attributes: true, attributeFilter: ["data-test-script-state"]});
    }""")


def editor_drag(page, url, model, releases: int = 8) -> dict:
    """Real mouse drags on the sliders of one model's editor."""
    wire = Wire(page)  # before the page opens its websocket
    open_page(page, f"{url}/editor?model={model}")
    page.locator(f"{EDITOR} canvas.strip").first.wait_for()
    _count_runs(page)
    rates, link_ms, bytes_per, runs_per = [], [], [], []
    for i in range(releases):
        slider = page.locator(f"{EDITOR} input[type=range]").nth(i % 4)
        box = slider.bounding_box()
        y = box["y"] + box["height"] / 2
        x0 = box["x"] + box["width"] * (0.25 if i % 2 else 0.75)
        direction = 1 if i % 2 else -1
        before = int(page.locator(EDITOR).get_attribute("data-frames"))
        page.mouse.move(x0, y)
        page.mouse.down()
        start = time.perf_counter()
        reach = 0.3 + 0.03 * i  # each drag ends somewhere new, so the link always changes
        for j in range(40):
            page.mouse.move(x0 + direction * j / 39 * reach * box["width"], y)
        seconds = time.perf_counter() - start
        rates.append((int(page.locator(EDITOR).get_attribute("data-frames")) - before) / seconds)
        link = page.evaluate("() => location.search")
        wire.mark()
        runs = _runs(page)
        start = time.perf_counter()
        page.mouse.up()
        try:
            page.wait_for_function("(l) => location.search !== l", arg=link, timeout=15_000)
        except Exception:  # the drag left the code where it was: nothing to time
            print(f"{model}: drag {i} changed nothing", flush=True)
            settle(page)
            continue
        link_ms.append((time.perf_counter() - start) * 1000)
        settle(page)
        page.wait_for_timeout(200)
        bytes_per.append(wire.sent + wire.received)
        runs_per.append(_runs(page) - runs)
    return {"mouse_fps": statistics.median(rates), "link_ms": link_ms, "bytes": statistics.median(bytes_per),
            "runs": statistics.median(runs_per)}


def hand_rate(page, selector: str, events: str, seconds: float = 2.0) -> tuple[float, float]:
    """(pictures per second, page-side ms per update) while a hand moves at 120 events/s, sent in the
    page itself (no driver round trips): `events` is a JS function body given (el, i) that moves it."""
    return tuple(page.evaluate("""async ([selector, body, seconds]) => {
        const root = document.querySelector(selector);
        const move = new Function("root", "i", body);
        const frames = () => +(root.dataset.frames || root.dataset.updates || 0);
        const before = frames(), ms = [];
        let i = 0;
        const timer = setInterval(() => { move(root, i++); ms.push(+(root.dataset.decodeMs || root.dataset.updateMs || 0)); }, 1000 / 120);
        await new Promise((r) => setTimeout(r, seconds * 1000));
        clearInterval(timer);
        return [(frames() - before) / seconds, ms.sort((a, b) => a - b)[ms.length >> 1]];
    }""", [selector, events, seconds]))


SLIDE = """const s = root.querySelector('input[type=range]'); const lo = +s.min, hi = +s.max;
           s.value = lo + (hi - lo) * (0.5 + 0.4 * Math.sin(i / 10)); s.dispatchEvent(new Event('input', {bubbles: true}));"""
STROKE = """const b = root.querySelector('canvas.board'), r = b.getBoundingClientRect();
            const ev = (type, k) => b.dispatchEvent(new PointerEvent(type, {pointerId: 7, bubbles: true,
                clientX: r.left + 140 + 80 * Math.cos(k / 8), clientY: r.top + 140 + 90 * Math.sin(k / 5)}));
            ev(i === 0 ? 'pointerdown' : 'pointermove', i);"""
HOVER = """const m = root.querySelector('canvas.map'), r = m.getBoundingClientRect();
           m.dispatchEvent(new PointerEvent('pointermove', {bubbles: true, clientX: r.left + r.width * (0.5 + 0.4 * Math.cos(i / 9)),
                                                              clientY: r.top + r.height * (0.5 + 0.4 * Math.sin(i / 7))}));"""


def live_rates(page, url, models) -> list[tuple]:
    """(model, editor pictures/s, editor ms, draw updates/s, draw ms, hover updates/s, hover ms)."""
    rows = []
    for model in models:
        open_page(page, f"{url}/editor?model={model}")
        page.locator(f"{EDITOR} canvas.strip").first.wait_for()
        edit = hand_rate(page, EDITOR, SLIDE)
        open_page(page, f"{url}/draw?model={model}")
        page.locator('.live[data-view="draw"] canvas.board').wait_for()
        draw = hand_rate(page, '.live[data-view="draw"]', STROKE)
        open_page(page, f"{url}/map?model={model}")
        page.locator('.live[data-view="explore"][data-live="1"] canvas.map').wait_for(timeout=120_000)
        hover = hand_rate(page, '.live[data-view="explore"]', HOVER)
        rows.append((model, *edit, *draw, *hover))
    return rows


def load(browser, server, contexts: int, seconds: int) -> dict:
    """`contexts` browsers each releasing a slider about once a second while one training runs; meanwhile
    one more client drags and counts its frames."""
    trainer = browser.new_context().new_page()
    open_page(trainer, f"{server.url}/train?code=8&epochs=50")
    trainer.get_by_role("button", name="Start training").click()
    trainer.wait_for_selector("text=Training: epoch", timeout=60_000)
    results, lock = {"link_ms": [], "releases": 0, "errors": 0, "error_elements": 0}, threading.Lock()
    ready = threading.Barrier(contexts + 1)

    def student(n):
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = b.new_page(viewport={"width": 1300, "height": 1000})
            rnd = random.Random(n)
            try:
                open_page(page, f"{server.url}/editor?model=mnist-mlp-ae-16")
                page.locator(f"{EDITOR} input[type=range]").first.wait_for()
            finally:
                ready.wait()
            end = time.time() + seconds
            while time.time() < end:
                try:
                    link = page.evaluate("() => location.search")
                    page.evaluate("""(v) => { const s = document.querySelector('.live[data-view=editor] input[type=range]');
                        s.value = +s.min + (+s.max - +s.min) * v; s.dispatchEvent(new Event('input', {bubbles: true}));
                        s.dispatchEvent(new Event('change', {bubbles: true})); }""", rnd.uniform(0.05, 0.95))
                    start = time.perf_counter()
                    page.wait_for_function("(l) => location.search !== l", arg=link, timeout=10_000)
                    with lock:
                        results["link_ms"].append((time.perf_counter() - start) * 1000)
                        results["releases"] += 1
                except Exception:
                    with lock:
                        results["errors"] += 1
                time.sleep(max(0.0, rnd.uniform(0.8, 1.2) - 0.1))
            with lock:
                results["error_elements"] += len(errors(page))
            b.close()

    threads = [threading.Thread(target=student, args=(n,)) for n in range(contexts)]
    for th in threads:
        th.start()
    watcher = browser.new_context().new_page()
    try:
        open_page(watcher, f"{server.url}/editor?model=mnist-cnn-ae-16")
        watcher.locator(f"{EDITOR} canvas.strip").first.wait_for()
        ready.wait()
    except BaseException:
        ready.abort()  # the students stop waiting (and end) rather than hold the process open
        raise
    cpu = server_cpu(server.proc.pid)
    time.sleep(2)
    fps, _ = hand_rate(watcher, EDITOR, SLIDE, seconds=4)
    for th in threads:
        th.join()
    cpu = server_cpu(server.proc.pid) - cpu
    trainer.get_by_role("button", name="Stop").click()
    results["drag_fps"] = fps
    results["cpu_per_release_ms"] = 1000 * cpu / max(1, results["releases"])
    return results


def fresh_map(browser, runs: int, model: str = "mnist-cnn-ae-16", n: int = 10000) -> list[dict]:
    """Per fresh server: seconds to the first map with all n points (and which map it was), and to
    decoding on the map (None where the page has no such state)."""
    rows = []
    for run in range(runs):
        seconds, which, page, server = open_fresh_map(browser, Path(tempfile.mkdtemp(prefix="encdec-fresh-")), model, n)
        start = time.perf_counter() - seconds
        try:
            row = {"first": seconds, "which": which}
            try:
                page.wait_for_selector('.live[data-view="explore"][data-live="1"]', timeout=60_000)
                row["decoding"] = time.perf_counter() - start
            except Exception:  # noqa: BLE001 - a version of the page without this state
                row["decoding"] = None
            rows.append(row)
        finally:
            page.close()
            server.stop()
    return rows


def fresh_report(rows: list[dict]) -> str:
    def span(key):
        xs = [r[key] for r in rows if r[key] is not None]
        return f"{statistics.median(xs):.1f} s ({min(xs):.1f} to {max(xs):.1f})" if xs else "—"

    return "\n".join([
        f"#### First map on a fresh server: {len(rows)} servers, mnist-cnn-ae-16's 10,000 test points, {os.cpu_count()} cores", "",
        "| all points on a map (which map) | decoding on the map |", "|---|---|",
        f"| {span('first')} ({', '.join(sorted({r['which'] for r in rows}))}) | {span('decoding')} |", ""])


def report(args) -> str:
    from playwright.sync_api import sync_playwright

    server = Server(Path(tempfile.mkdtemp(prefix="encdec-bench-")))
    lines = [f"Chromium headless against a local server, {os.cpu_count()} CPU cores shared by both.", ""]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            times = page_side_times(browser, sorted(p.stem for p in (ROOT / "models").glob("*.safetensors")))
            lines += ["#### The models in the page (ms per call, median of 30, one image or code)", "",
                      "| model | encode | decode |", "|---|---:|---:|"]
            lines += [f"| {n} | {e:.1f} | {'—' if n.endswith('-clf') else f'{d:.1f}'} |" for n, e, d in times]  # a classifier has no decoder to time
            drags = {}
            for m in EDITOR_MODELS[:3]:
                page = browser.new_page(viewport={"width": 1400, "height": 1100})
                drags[m] = editor_drag(page, server.url, m, args.releases)
                page.close()
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            lines += ["", "#### Code editor: a real mouse drag (40 moves), then the release", "",
                      "| model | pictures/s while dragging | script runs per release | bytes on the wire per release "
                      "| release -> link, median | p95 |", "|---|---:|---:|---:|---:|---:|"]
            lines += [f"| {m} | {r['mouse_fps']:.0f} | {r['runs']:.0f} | {r['bytes']:,.0f} | {statistics.median(r['link_ms']):.0f} ms "
                      f"| {pct(r['link_ms'], 95):.0f} ms |" for m, r in drags.items()]
            rates = live_rates(page, server.url, EDITOR_MODELS)
            lines += ["", "#### A hand moving at 120 events/s, in the page (pictures per second; ms of page work per picture)", "",
                      "| model | editor: pictures/s | ms | draw: updates/s | ms (preprocess + encode + classify + decode) "
                      "| map hover: pictures/s | ms |", "|---|---:|---:|---:|---:|---:|---:|"]
            lines += [f"| {m} | {a:.0f} | {b:.1f} | {c:.0f} | {d:.1f} | {e:.0f} | {f:.1f} |" for m, a, b, c, d, e, f in rates]
            if args.load:
                r = load(browser, server, args.contexts, args.seconds)
                lines += ["", f"Load: {args.contexts} more browsers each releasing a slider about once a second for "
                              f"{args.seconds} s while one training runs: {r['releases']} releases, {r['errors']} failures, "
                              f"{r['error_elements']} error elements; "
                              f"release -> link median {statistics.median(r['link_ms'] or [float('nan')]):.0f} ms, "
                              f"p95 {pct(r['link_ms'], 95):.0f} ms; server CPU {r['cpu_per_release_ms']:.0f} ms per release "
                              f"(training included); meanwhile another client's editor drew {r['drag_fps']:.0f} pictures/s "
                              "during a drag (mnist-cnn-ae-16)."]
            browser.close()
    finally:
        server.stop()
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.browser", description=__doc__.splitlines()[0])
    p.add_argument("--releases", type=int, default=8)
    p.add_argument("--load", action="store_true")
    p.add_argument("--contexts", type=int, default=10)
    p.add_argument("--seconds", type=int, default=40)
    p.add_argument("--fresh", type=int, default=0, help="only the first map on this many fresh servers")
    p.add_argument("--out", default=None, help="where to write the markdown (default bench/browser.md, "
                                               "or bench/fresh-map.md with --fresh)")
    args = p.parse_args(argv)
    random.seed(0)
    if args.fresh:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            text = fresh_report(fresh_map(browser, args.fresh))
            browser.close()
        args.out = args.out or str(HERE / "fresh-map.md")
    else:
        text = report(args)
        args.out = args.out or str(HERE / "browser.md")
    publish(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
