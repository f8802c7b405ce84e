"""Interaction latency and load, measured in Chromium: `python -m bench.browser [--load]`.

Prints a markdown table and writes bench/browser.md:
- slider released -> new decoded image in the page (>= 30 changes): median and 95th percentile
- code editor page load to interactive (warm server)
- click on a latent-map point -> that digit's details shown
- with --load: N browser contexts for S seconds editing codes and switching pages while one
  training runs; error elements counted and latencies reported
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.chromium import CHROMIUM, FLAGS, Server
from bench.chromium import errors, image_src, map_point, open_page, settle, wait_for_new_src

HERE = Path(__file__).resolve().parent
MODEL = "mnist-cnn-ae-16"
DECODED = "Decoded from the edited code"


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def slider_latency(page, url, changes):
    open_page(page, f"{url}/editor?model={MODEL}")
    times = []
    thumbs = page.locator('[data-testid="stSlider"] [data-testid="stSliderThumbValue"]')
    for i in range(changes):
        thumb = thumbs.nth(i % 4).locator("..")
        box = thumb.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        dx = random.choice([-1, 1]) * random.uniform(25, 60)
        old = image_src(page, DECODED)
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + dx, y, steps=4)
        start = time.perf_counter()
        page.mouse.up()
        try:
            wait_for_new_src(page, DECODED, old, timeout=10_000)
        except Exception:  # the thumb hit the end of its range: no change, not a measurement
            continue
        times.append((time.perf_counter() - start) * 1000)
        settle(page)
    return times


def load_to_interactive(page, url, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        open_page(page, f"{url}/editor?model={MODEL}")
        page.wait_for_selector('[data-testid="stSlider"]')
        times.append((time.perf_counter() - start) * 1000)
    return times


def map_click_latency(page, url, clicks):
    open_page(page, f"{url}/map?model={MODEL}")
    page.wait_for_selector('[data-testid="stPlotlyChart"] .js-plotly-plot', timeout=300_000)
    settle(page)
    times = []
    caption = "The nearest neighbours of #"
    for i in range(clicks):
        before = page.evaluate("(c) => [...document.querySelectorAll('p')].map(p => p.innerText).find(t => t.startsWith(c)) || ''",
                               caption)
        x, y = map_point(page, trace=i % 10, point=5 * i)
        start = time.perf_counter()
        page.mouse.click(x, y)
        try:  # the digit on top at that spot is selected: wait for its details, whichever it is
            page.wait_for_function(
                "([c, b]) => { const t = [...document.querySelectorAll('p')].map(p => p.innerText).find(t => t.startsWith(c));"
                " return t && t !== b; }", arg=[caption, before], timeout=15_000)
        except Exception:  # the click selected the digit already shown: no change to time
            continue
        times.append((time.perf_counter() - start) * 1000)
        settle(page)
    return times


def load(browser, url, contexts, seconds):
    """Contexts editing codes and switching pages concurrently, while one training runs."""
    trainer = browser.new_context().new_page()
    open_page(trainer, f"{url}/train?code=8&epochs=20")
    trainer.get_by_role("button", name="Start training").click()
    trainer.wait_for_selector("text=Training: epoch", timeout=60_000)
    results, lock = {"latency": [], "errors": 0, "actions": 0}, threading.Lock()

    def user(n):
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = b.new_page(viewport={"width": 1300, "height": 1000})
            end = time.time() + seconds
            rnd = random.Random(n)
            while time.time() < end:
                try:
                    open_page(page, f"{url}/{rnd.choice(['editor', 'home', 'editor', 'models'])}?model={MODEL}")
                    if "editor" in page.url:
                        ms = slider_latency(page, url, 3)
                        with lock:
                            results["latency"] += ms
                    found = len(errors(page))
                except Exception:
                    found = 1
                with lock:
                    results["errors"] += found
                    results["actions"] += 1
            b.close()

    threads = [threading.Thread(target=user, args=(n,)) for n in range(contexts)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    trainer.get_by_role("button", name="Stop").click()
    return results


def main(argv=None) -> int:
    from playwright.sync_api import sync_playwright

    p = argparse.ArgumentParser(prog="python -m bench.browser", description=__doc__.splitlines()[0])
    p.add_argument("--changes", type=int, default=40)
    p.add_argument("--load", action="store_true")
    p.add_argument("--contexts", type=int, default=10)
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--out", default=str(HERE / "browser.md"))
    args = p.parse_args(argv)
    random.seed(0)
    server = Server(Path(tempfile.mkdtemp(prefix="encdec-bench-")))
    lines = [f"Chromium headless against a local server, {os.cpu_count()} CPU cores shared by both.", ""]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            slider = slider_latency(page, server.url, args.changes)
            loads = load_to_interactive(page, server.url, 5)
            clicks = map_click_latency(page, server.url, 12)
            lines += ["| interaction | n | median | 95th percentile | target |", "|---|---:|---:|---:|---|",
                      f"| slider released -> new decoded image shown | {len(slider)} | {statistics.median(slider):.0f} ms | {pct(slider, 95):.0f} ms | median <= 150 ms, p95 <= 300 ms |",
                      f"| code editor: page load to interactive (warm) | {len(loads)} | {statistics.median(loads):.0f} ms | {pct(loads, 95):.0f} ms | <= 3 s |",
                      f"| latent map: click a point -> its digit shown | {len(clicks)} | {statistics.median(clicks):.0f} ms | {pct(clicks, 95):.0f} ms | <= 500 ms |"]
            if args.load:
                r = load(browser, server.url, args.contexts, args.seconds)
                lat = r["latency"] or [float("nan")]
                lines += ["", f"Load: {args.contexts} browsers for {args.seconds} s switching pages and editing codes while one "
                              f"training runs: {r['actions']} page visits, **{r['errors']} error elements**; slider -> image "
                              f"median {statistics.median(lat):.0f} ms, p95 {pct(lat, 95):.0f} ms over {len(r['latency'])} changes."]
            browser.close()
    finally:
        server.stop()
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
