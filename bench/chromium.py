"""Chromium against a real Streamlit server, for the browser tests and the browser benchmark.

A `Server` runs `streamlit run app.py` on a free port; waits use the app's own run state
(`data-test-script-state`), never fixed sleeps. Chromium comes from the system (Debian's
`chromium`, at /usr/bin/chromium or $CHROMIUM).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
         "--no-first-run", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`streamlit run app.py` with its own ENCDEC_HOME (and any other settings in `env`), from `root` (this
    checkout, or another version of the app for a benchmark's "before"), on the CPUs `pin` names (taskset)."""

    def __init__(self, home: Path, env: dict | None = None, log_name: str = "server.log", root: Path = ROOT,
                 pin: str | None = None):
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "ENCDEC_HOME": str(home), "ENCDEC_DOWNLOAD": "0", **(env or {})}
        home.mkdir(parents=True, exist_ok=True)
        self.log = (home / log_name).open("w")
        self.proc = subprocess.Popen(
            (["taskset", "-c", pin] if pin is not None else []) +  # its CPUs (a capacity run pins it to one core)
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(self.port), "--server.address", "127.0.0.1"],
            cwd=root, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(self.url + "/_stcore/health", timeout=2).read() == b"ok":
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("the Streamlit server did not become healthy in 90 s")

    def stop(self, kill: bool = False):
        if self.proc.poll() is None:
            self.proc.kill() if kill else self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(20)
        self.log.close()


def server_cpu(pid: int) -> float:
    """CPU seconds the server process has used (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"][data-test-connection-state="CONNECTED"]'
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'


def settle(page, timeout: float = 120_000) -> None:
    """Wait until the app has finished its current run (and any rerun it queued)."""
    page.wait_for_selector(IDLE, timeout=timeout)
    page.wait_for_function(
        """(sel) => new Promise(resolve => {           // idle for two animation frames in a row
               requestAnimationFrame(() => requestAnimationFrame(() => resolve(!!document.querySelector(sel))));
           })""", arg=IDLE, timeout=timeout)


def open_page(page, url: str, timeout: float = 180_000) -> None:
    page.goto(url, timeout=timeout)
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    settle(page, timeout)


def errors(page) -> list[str]:
    return [e.inner_text() for e in page.query_selector_all(ERRORS)]


def three() -> list[list[tuple[float, float]]]:
    """A digit 3 as one stroke of two arcs, for a 280x280 canvas."""
    import math

    upper = [(140 + 55 * math.cos(a), 85 + 45 * math.sin(a)) for a in (i / 24 * 1.5 * math.pi - math.pi for i in range(25))]
    lower = [(140 + 60 * math.cos(a), 180 + 50 * math.sin(a)) for a in (i / 24 * 1.5 * math.pi - math.pi / 2 for i in range(25))]
    return [upper + lower]


def draw_with_mouse(page, board, strokes, release: bool = True) -> None:
    """Draw `strokes` (lists of (x, y) on a 280x280 canvas, as three() gives) on `board` (a locator of a
    canvas however large it is shown) with the mouse; `release=False` keeps the pen down at the end."""
    box = board.bounding_box()
    sx, sy = box["width"] / 280, box["height"] / 280
    for i, points in enumerate(strokes):
        page.mouse.move(box["x"] + points[0][0] * sx, box["y"] + points[0][1] * sy)
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(box["x"] + x * sx, box["y"] + y * sy)
        if release or i < len(strokes) - 1:
            page.mouse.up()


def pct(xs, q):
    """The q-th percentile of xs (nearest rank); NaN for none."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))] if xs else float("nan")


def publish(text: str, out: str | None) -> None:
    """A benchmark's markdown: printed, and written to `out` (None: a dry run, written nowhere)."""
    print(text)
    if out is not None:
        Path(out).write_text(text)


def run_report(args, report, dry_run: dict) -> int:
    """A benchmark's main: with --dry-run, the tiny settings `dry_run` and nothing written; then the
    report, printed and written to --out."""
    if args.dry_run:
        vars(args).update(dry_run)
    publish(report(args), None if args.dry_run else args.out)
    return 0


# A page function, ([n, own]): which map shows all n points, "own" (the page's own map; only when
# `own`) or "selection" (a Plotly map), else false.
ALL_POINTS = """([n, own]) => {
    const mine = own && document.querySelector('.live[data-view="explore"][data-points]');
    if (mine && Number(mine.dataset.points) >= n) return "own";
    return [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')]
      .some((gd) => (gd._fullData || []).reduce((m, t) => m + (t.x ? t.x.length : 0), 0) >= n) ? "selection" : false;
}"""


def open_fresh_map(browser, folder: Path, model: str, n: int = 10000, timeout: float = 180_000):
    """A fresh server (its ENCDEC_HOME and numba cache empty, under `folder`) and a new page on its
    /map of `model`: (seconds until a map shows all n points, which map, the page, the server).
    The caller closes the page and stops the server."""
    server = Server(folder / "home", env={"NUMBA_CACHE_DIR": str(folder / "numba")})
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    try:
        start = time.perf_counter()
        page.goto(f"{server.url}/map?model={model}", wait_until="commit")
        which = page.wait_for_function(ALL_POINTS, arg=[n, True], timeout=timeout).json_value()
    except Exception:
        page.close()
        server.stop()
        raise
    return time.perf_counter() - start, which, page, server


def live_module(page) -> None:
    """Load the page's element module (the chapters of encdec/ui/live/, joined as the app joins them)
    into a blank page as `window.live`."""
    from encdec.ui.live import module_text

    source = module_text()
    page.set_content("<html><body></body></html>")
    page.evaluate("""async (src) => {
        window.live = await import(URL.createObjectURL(new Blob([src], {type: "text/javascript"})));
    }""", source)
