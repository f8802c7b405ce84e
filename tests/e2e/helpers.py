"""Waiting for Streamlit in a browser: on the app's own run state, never on fixed sleeps."""
from __future__ import annotations

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
    page.goto(url)
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    settle(page, timeout)


def errors(page) -> list[str]:
    return [e.inner_text() for e in page.query_selector_all(ERRORS)]


def image_src(page, caption: str) -> str:
    """The src of the image shown with `caption`."""
    return page.locator('[data-testid="stImage"]', has_text=caption).first.locator("img").get_attribute("src")


def wait_for_new_src(page, caption: str, old: str, timeout: float = 30_000) -> str:
    page.wait_for_function(
        """([caption, old]) => {
               const box = [...document.querySelectorAll('[data-testid="stImage"]')].find(e => e.innerText.includes(caption));
               const img = box && box.querySelector('img');
               return img && img.getAttribute('src') !== old;
           }""", arg=[caption, old], timeout=timeout)
    return image_src(page, caption)


def drag_slider(page, index: int = 0, dx: float = 80) -> None:
    # The thumb is the positioned element around the range input and the value label.
    thumb = page.locator('[data-testid="stSlider"] [data-testid="stSliderThumbValue"]').nth(index).locator("..")
    box = thumb.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y, steps=6)
    page.mouse.up()


def draw(page, strokes) -> None:
    """Mouse strokes on the drawing canvas; `strokes` are lists of (x, y) in canvas pixels."""
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for()
    box = canvas.bounding_box()
    for points in strokes:
        page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=2)
        page.mouse.up()


def three() -> list[list[tuple[float, float]]]:
    """A digit 3 as one stroke of two arcs, for a 280x280 canvas."""
    import math

    upper = [(140 + 55 * math.cos(a), 85 + 45 * math.sin(a)) for a in (i / 24 * 1.5 * math.pi - math.pi for i in range(25))]
    lower = [(140 + 60 * math.cos(a), 180 + 50 * math.sin(a)) for a in (i / 24 * 1.5 * math.pi - math.pi / 2 for i in range(25))]
    return [upper + lower]


def map_point(page, chart_index: int = 0, trace: int = 0, point: int = 0) -> tuple[float, float]:
    """Screen position of one point of a Plotly map, from the chart's own axes."""
    return tuple(page.evaluate(
        """([c, t, i]) => {
               const gd = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')[c];
               const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, d = gd._fullData[t];
               const r = gd.getBoundingClientRect();
               return [r.left + xa._offset + xa.l2p(d.x[i]), r.top + ya._offset + ya.l2p(d.y[i])];
           }""", [chart_index, trace, point]))


def live_module(page) -> None:
    """Load the page-side model code (encdec/ui/live.js) into a blank page as `window.live`."""
    from pathlib import Path

    source = (Path(__file__).resolve().parents[2] / "encdec" / "ui" / "live.js").read_text(encoding="utf-8")
    page.set_content("<html><body></body></html>")
    page.evaluate("""async (src) => {
        window.live = await import(URL.createObjectURL(new Blob([src], {type: "text/javascript"})));
    }""", source)
