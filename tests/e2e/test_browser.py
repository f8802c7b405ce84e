"""The app as people use it: Chromium, mouse and keyboard, against a running server."""
import io
import json
import os
import pickle
import struct

import pytest
from PIL import Image

import encdec
from bench.chromium import errors, open_fresh_map, open_page, settle
from tests.e2e.conftest import ROOT, SHOTS, Server

PAGES = ["home", "lesson", "editor", "map", "draw", "classifier", "transfer", "models", "train"]
MODEL = "mnist-cnn-ae-16"


@pytest.mark.parametrize("name", PAGES)
def test_every_page_loads_without_an_error(server, page, name):
    open_page(page, f"{server.url}/{'' if name == 'home' else name}?model={MODEL}")
    if name == "map":  # the page's own map, and decoding once the codes are here
        page.wait_for_selector('.live[data-view="explore"][data-live="1"]', timeout=120_000)
    assert errors(page) == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_clicking_a_point_on_the_map_shows_that_digit(server, page):
    open_page(page, f"{server.url}/map?model={MODEL}")
    view = page.locator('.live[data-view="explore"]')
    page.wait_for_selector('.live[data-view="explore"][data-live="1"]', timeout=120_000)
    board = view.locator("canvas.map")
    board.scroll_into_view_if_needed()
    # a point: the first inked pixel of the map, in screen coordinates
    x, y = board.evaluate("""(c) => {
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data, r = c.getBoundingClientRect();
        for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] < 600) {
            const p = i / 4;
            return [r.left + (p % c.width + 1) * r.width / c.width, r.top + (Math.floor(p / c.width) + 1) * r.height / c.height];
        }
        return null; }""")
    page.mouse.click(x, y)
    page.wait_for_function("() => document.querySelector('.live[data-view=explore]').dataset.chosen === '1'")
    assert view.get_by_text("The nearest neighbours of").count() == 1
    assert len(json.loads(view.get_attribute("data-neighbours"))) == 8 and errors(page) == []


def _upload(page, selector_text: str, name: str, data: bytes):
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}])


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {ROOT / 'tests' / 'PWNED'}",))


def _other_architecture() -> bytes:
    data = (ROOT / "models" / f"{MODEL}.safetensors").read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    config = json.loads(header["__metadata__"]["config"])
    config["encoder"] = "lstm"
    header["__metadata__"]["config"] = json.dumps(config)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data[8 + n:]


@pytest.mark.parametrize("name,data,says", [
    ("evil.safetensors", pickle.dumps({"w": Payload()}), "is not a"),
    ("cut.safetensors", (ROOT / "models" / f"{MODEL}.safetensors").read_bytes()[:5000], "cut.safetensors"),
    ("other.safetensors", _other_architecture(), "does not match"),
])
def test_a_bad_checkpoint_upload_gets_one_clear_message(server, page, name, data, says):
    before = sorted(p.name for p in (server.home / "models").glob("*")) if (server.home / "models").exists() else []
    open_page(page, f"{server.url}/models?model={MODEL}")
    _upload(page, "Upload", name, data)
    alert = page.wait_for_selector('[data-testid="stAlertContentError"]')
    settle(page)
    text = alert.inner_text()
    assert text.startswith("That file was not added:") and says in text and "\n" not in text.strip()
    assert not (ROOT / "tests" / "PWNED").exists()
    after = sorted(p.name for p in (server.home / "models").glob("*")) if (server.home / "models").exists() else []
    assert after == before
    open_page(page, f"{server.url}/editor?model={MODEL}")  # the app keeps working
    assert errors(page) == []


def _png(size, colour=255) -> bytes:
    buf = io.BytesIO()
    Image.new("L", size, colour).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("name,data,says", [
    ("notes.png", b"this is not a picture at all", "not an image"),
    ("huge.png", _png((8000, 6000)), "too large"),
])
def test_a_bad_picture_upload_gets_one_clear_message(server, page, name, data, says):
    open_page(page, f"{server.url}/draw?model={MODEL}")
    _upload(page, "upload", name, data)
    alert = page.wait_for_selector('[data-testid="stAlertContentWarning"]')
    settle(page)
    assert says in alert.inner_text() and errors(page) == []


def test_settings_outside_the_allowed_range_in_the_url_are_explained(server, page):
    open_page(page, f"{server.url}/train?code=500&epochs=0")
    warnings = " ".join(w.inner_text() for w in page.query_selector_all('[data-testid="stAlertContentWarning"]'))
    assert "outside the allowed range 2 to 64" in warnings and "epoch count" in warnings
    assert errors(page) == []


def test_switching_the_language_shows_chinese(server, page):
    open_page(page, f"{server.url}/?model={MODEL}")
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name="中文").click()
    page.wait_for_selector("text=编码器–解码器探索")
    settle(page)
    assert "lang=%E4%B8%AD%E6%96%87" in page.url and page.get_by_text("编码编辑器").count() >= 1  # ?lang=中文
    page.screenshot(path=str(SHOTS / "home-zh.png"))


def test_a_link_s_language_and_dataset_stay_when_moving_between_pages(server, page):
    open_page(page, f"{server.url}/map?data=Fashion-MNIST&lang=%E4%B8%AD%E6%96%87")
    pickers = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"] input')
    for path in ("/editor", "/draw", "/"):  # the sidebar's own links
        page.locator(f'[data-testid="stSidebarNav"] a[href$="{path}"]').click()
        page.wait_for_function(f"location.pathname === {path!r}")
        settle(page)
        values = pickers.evaluate_all("els => els.map(e => e.value)")
        assert values[:2] == ["中文", "Fashion-MNIST"] and values[2].startswith("fashion-"), values
    assert errors(page) == []


def test_stopping_a_training_leaves_a_valid_store(server, page):
    open_page(page, f"{server.url}/train?code=8&epochs=50")
    page.get_by_role("button", name="Start training").click()
    page.wait_for_selector("text=Training: epoch", timeout=60_000)
    page.get_by_role("button", name="Stop").click()
    page.wait_for_selector("text=Training stopped. Nothing was saved.", timeout=60_000)
    store = encdec.ModelStore(server.home / "models")
    assert all(encdec.load(i.path) for i in store.list())
    assert not [p for p in store.root.glob(".tmp-*")] if store.root.exists() else True


def test_a_server_killed_while_training_leaves_a_valid_store(browser, tmp_path):
    s = Server(tmp_path / "home")
    try:
        page = browser.new_page()
        open_page(page, f"{s.url}/train?code=8&epochs=50")
        page.get_by_role("button", name="Start training").click()
        page.wait_for_selector("text=Training: epoch", timeout=60_000)
    finally:
        s.stop(kill=True)
    store = encdec.ModelStore(tmp_path / "home" / "models")
    listed = store.list()
    assert all(i.error is None for i in listed) and all(encdec.load(i.path) for i in listed)


def test_clicking_a_confusion_cell_shows_its_digits(server, page):
    open_page(page, f"{server.url}/classifier?model=mnist-cnn-clf")
    chart = page.locator('[data-testid="stPlotlyChart"]', has_text="predicted class").first
    chart.scroll_into_view_if_needed()
    settle(page)
    x, y = page.evaluate("""(el) => { const gd = el.querySelector('.js-plotly-plot');
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
        return [r.left + xa._offset + xa.l2p(5), r.top + ya._offset + ya.l2p(3)]; }""", chart.element_handle())
    page.mouse.click(x, y)
    page.wait_for_selector("text=test digits of class 3 predicted as 5")
    settle(page)
    assert errors(page) == []


def test_concurrent_users_while_a_training_runs_see_no_errors(server, browser):
    from bench.browser import load

    result = load(browser, server, contexts=3, seconds=20)
    assert result["releases"] >= 20 and len(result["link_ms"]) == result["releases"]
    assert result["errors"] == 0 and result["error_elements"] == 0 and result["drag_fps"] > 0


def test_closing_the_tab_during_a_training_still_leaves_a_valid_store(server, browser):
    import time

    store = encdec.ModelStore(server.home / "models")
    before = {i.name for i in store.list()}
    context = browser.new_context()
    page = context.new_page()
    open_page(page, f"{server.url}/train?code=3&epochs=6")  # long enough to close the tab during it
    page.get_by_role("button", name="Start training").click()
    page.wait_for_selector("text=Training: epoch", timeout=60_000)
    context.close()  # the tab is gone; the training finishes and saves on the server
    deadline = time.time() + 180
    while not ({i.name for i in store.list()} - before) and time.time() < deadline:
        time.sleep(0.5)
    listed = store.list()
    assert {i.name for i in listed} - before
    assert all(i.error is None for i in listed) and all(encdec.load(i.path) for i in listed)


def test_a_fresh_server_shows_a_shipped_models_map_within_three_seconds(browser, tmp_path):
    """Fresh process, numba's cache empty, nothing in ENCDEC_HOME: the server imported its libraries
    as it started (encdec/ui/server.py), the shipped map needs no UMAP, and the page draws its points
    before any code is computed. On the 2-core machine they show 2.0 to 2.6 s after the address is
    opened (before: a UMAP fit, over 60 s; then encoding the split first, 11-12 s; then the selection
    map's 4.7 MB of script first, 4 to 6 s). The best of three fresh servers must be within 3 s, so
    that one stall of a shared machine does not decide it."""
    best = None
    for attempt in range(3):
        seconds, which, page, s = open_fresh_map(browser, tmp_path / str(attempt), "mnist-cnn-ae-16", timeout=60_000)
        try:
            assert which == "own"  # the page's own map first, not the selection map
            explore = page.locator('.live[data-view="explore"]')
            assert int(explore.get_attribute("data-points")) == 10000
            board = explore.locator("canvas.map").evaluate("(c) => { const r = c.getBoundingClientRect(); "
                                                           "return [r.top, r.bottom, innerHeight]; }")
            assert 0 <= board[0] and board[1] <= board[2], board  # on the first screen, not below it
            if attempt == 0:  # the rest of the page follows: decoding anywhere on the map
                page.wait_for_selector('.live[data-view="explore"][data-live="1"]', timeout=120_000)
                settle(page)
                nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
                assert "Latent map" in nav and "app" not in nav.split()  # the app's pages, not pages/'s file names
                assert errors(page) == [] and page.get_by_text("shipped with the model").count() >= 1
        finally:
            page.close()
            s.stop()
        best = seconds if best is None else min(best, seconds)
        if best <= 3.0:
            break
    assert best <= 3.0, f"the map's points took {best:.1f} s at best"


def test_the_code_space_changes_while_a_model_trains_and_replays_on_the_models_page(server, page):
    open_page(page, f"{server.url}/train?code=2&epochs=4")
    page.get_by_role("button", name="Start training").click()
    job = page.locator('.live[data-view="job"]')
    page.wait_for_selector('.live[data-view="job"][data-frames]', timeout=120_000)
    titles = set()
    for _ in range(60):
        titles.add(job.locator(".left .caption").text_content())
        if len(titles) >= 2:
            break
        page.wait_for_timeout(1000)
    assert len(titles) >= 2, titles  # a new frame (epoch, loss) arrived during the training
    page.wait_for_selector("text=it is now the current model", timeout=300_000)
    newest = max((server.home / "models").glob("*.safetensors"), key=lambda p: p.stat().st_mtime)
    open_page(page, f"{server.url}/models?model={newest.stem}")
    page.wait_for_selector("text=How the code space formed while this model trained", timeout=60_000)
    replay = page.locator('.live[data-view="replay"]')
    replay.locator("canvas.replay").wait_for(timeout=60_000)
    last = replay.get_attribute("data-frame")
    assert int(last) >= 1  # it opens on the last frame of several
    replay.get_by_role("button", name="Play").click()
    page.wait_for_function("(f) => document.querySelector('.live[data-view=replay]').dataset.frame !== f", arg=last,
                           timeout=30_000)
    assert errors(page) == []
