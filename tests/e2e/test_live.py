"""The models running in the page: the forward pass against PyTorch, and the editor under the mouse."""
import base64
import itertools
import re
import time

import pytest
import torch

import encdec
from encdec.webmodel import weights_blob
from tests.e2e.conftest import ROOT
from bench.chromium import draw_with_mouse, errors, live_module, open_page, settle

IMAGE_DECODERS = ("mlp", "lstm", "deconv")
BUILDABLE = [*[("autoencoder", e, d) for e, d in itertools.product(encdec.ENCODERS, IMAGE_DECODERS)],
             *[("vae", e, d) for e, d in itertools.product(encdec.ENCODERS, IMAGE_DECODERS)],
             *[("classifier", e, None) for e in encdec.ENCODERS],
             *[("classifier-deskew", e, None) for e in encdec.ENCODERS]]
SHIPPED = sorted(p.stem for p in (ROOT / "models").glob("*.safetensors"))


def _random_model(kind, encoder, decoder):
    torch.manual_seed(0)
    kind, _, deskew = kind.partition("-")
    model = encdec.build(encdec.ModelConfig(kind=kind, encoder=encoder, decoder=decoder, code_dim=6,
                                            deskew=bool(deskew))).eval()
    for m in model.modules():  # batch-norm statistics that are not the identity
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model


def _compare(page, model, images, codes) -> tuple[float, float]:
    """Largest |page - PyTorch| over the encoder on `images` and the decoder on `codes`."""
    with torch.no_grad():
        want_codes = model.encode(images)
        want_out = (torch.softmax(model.head(codes), 1) if model.is_classifier else model.decode(codes).flatten(1))
    got = page.evaluate(
        """([blob, images, codes]) => {
               const bytes = Uint8Array.from(atob(blob), (c) => c.charCodeAt(0));
               const m = window.live.makeModel(bytes);
               return [images.map((x) => Array.from(m.encode(x))), codes.map((z) => Array.from(m.decode(z)))];
           }""", [base64.b64encode(weights_blob(model, "t")).decode(), images.flatten(1).tolist(), codes.tolist()])
    enc = (torch.tensor(got[0]) - want_codes).abs().max().item()
    dec = (torch.tensor(got[1]) - want_out).abs().max().item()
    return enc, dec


@pytest.fixture(scope="module")
def js_page(browser):
    page = browser.new_page()
    live_module(page)
    yield page
    page.close()


@pytest.mark.parametrize("kind,encoder,decoder", BUILDABLE)
def test_the_page_runs_every_buildable_model_as_pytorch_does(js_page, mnist, kind, encoder, decoder):
    model = _random_model(kind, encoder, decoder)
    images = mnist.test.floats(slice(0, 3))
    codes = torch.randn(3, 6, generator=torch.Generator().manual_seed(1))
    enc, dec = _compare(js_page, model, images, codes)
    assert enc <= 1e-4 and dec <= 1e-4


@pytest.mark.parametrize("name", SHIPPED)
def test_the_page_runs_every_shipped_model_as_pytorch_does(js_page, mnist, name):
    model = encdec.load(ROOT / "models" / f"{name}.safetensors")
    data = mnist if model.config.dataset == "mnist" else encdec.load_dataset(model.config.dataset)
    images = data.test.floats(slice(0, 3))
    with torch.no_grad():
        codes = model.encode(data.test.floats(slice(3, 6)))  # codes the model really makes
    enc, dec = _compare(js_page, model, images, codes)
    assert enc <= 1e-4 and dec <= 1e-4


def test_the_pages_code_maths_is_pythons(js_page, mnist):
    """interpolate, codeAt, place and deskew in the page against their Python twins."""
    import numpy as np

    from encdec import latent, projection
    from encdec.nets import deskew

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=6).tolist(), rng.normal(size=6).tolist()
    xy, codes = rng.normal(size=(300, 2)), rng.normal(size=(300, 6))
    places = rng.normal(size=(20, 2)).tolist()
    new = rng.normal(size=(20, 6)).tolist()
    images = mnist.test.floats(slice(0, 8))
    got = js_page.evaluate("""([a, b, xy, codes, places, fresh, images]) => {
        const L = window.live, mapped = {n: 300, xy: Float32Array.from(xy.flat()), raw: false, k: 6, codes: Float32Array.from(codes.flat())};
        return {lin: L.interpolate(a, b, 7, "linear"), slerp: L.interpolate(a, b, 7, "slerp"),
                at: places.map(([x, y]) => L.codeAt(mapped, x, y, 8)), placed: fresh.map((z) => L.place(mapped, z, 10)),
                upright: images.map((x) => Array.from(L.deskew({data: Float32Array.from(x), shape: [1, 28, 28]}).data))};
    }""", [a, b, xy.tolist(), codes.tolist(), places, new, images.flatten(1).tolist()])
    for method in ("linear", "slerp"):
        want = latent.interpolate(torch.tensor(a), torch.tensor(b), 7, method).numpy()
        np.testing.assert_allclose(got["lin" if method == "linear" else "slerp"], want, atol=1e-5)
    xy32, codes32 = xy.astype(np.float32), codes.astype(np.float32)
    for (x, y), z in zip(places, got["at"]):
        np.testing.assert_allclose(z, projection.code_at(xy32, codes32, x, y), atol=1e-4)
    np.testing.assert_allclose(got["placed"], projection.place(codes32, xy32, np.array(new, np.float32)), atol=1e-4)
    np.testing.assert_allclose(np.array(got["upright"]), deskew(images).flatten(1).numpy(), atol=1e-4)


def test_dragging_a_slider_redraws_the_picture_before_release_and_nothing_reaches_python(server, page):
    from bench.browser import Wire

    wire = Wire(page)
    open_page(page, f"{server.url}/editor?model=mnist-cnn-ae-16")
    view = page.locator('.live[data-view="editor"]')
    picture = view.locator("canvas.big")
    view.locator("canvas.strip").first.wait_for()
    slider = view.locator("input[type=range]").first
    box = slider.bounding_box()
    x0, y = box["x"] + box["width"] * 0.2, box["y"] + box["height"] / 2
    link = page.evaluate("() => location.search")
    pictures = set()
    wire.mark()
    page.mouse.move(x0, y)
    page.mouse.down()
    for i in range(24):
        page.mouse.move(x0 + i * box["width"] * 0.025, y)
        page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
        pictures.add(picture.evaluate("(c) => c.toDataURL()"))
    assert len(pictures) >= 10
    page.mouse.up()
    page.wait_for_function("(before) => location.search !== before && location.search.includes('z=')", arg=link,
                           timeout=15_000)  # the element keeps the address itself
    time.sleep(1.0)
    assert wire.messages_sent == 0  # no script run: the release never reached Python
    edited = page.evaluate("() => location.search")
    pixels = "(c) => Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data.filter((_, i) => i % 4 === 0))"
    drawn = picture.evaluate(pixels)
    page.reload()                   # the link restores the edited code (to its 3 decimals): the same link and picture
    page.wait_for_selector('.live[data-view="editor"][data-ready="1"]', timeout=60_000)
    settle(page)
    assert page.evaluate("() => location.search") == edited
    again = page.locator('.live[data-view="editor"] canvas.big').evaluate(pixels)
    assert max(abs(a - b) for a, b in zip(drawn, again)) <= 3  # of 255
    assert errors(page) == []


def test_the_start_of_an_edit_changes_in_the_page_and_the_link_follows(server, page):
    open_page(page, f"{server.url}/editor?model=mnist-mlp-ae-16")
    view = page.locator('.live[data-view="editor"]')
    view.get_by_role("button", name="zeros").click()
    page.wait_for_function("() => location.search.includes('start=zeros')", timeout=10_000)
    from urllib.parse import parse_qs, urlparse

    z = parse_qs(urlparse(page.url).query)["z"][0]
    assert z == ",".join(["0"] * 16)  # the code of the new start
    view.get_by_role("button", name="a test digit").click()
    view.locator("input.index").fill("42")
    view.locator("input.index").press("Enter")
    page.wait_for_function("() => location.search.includes('start=test-42')", timeout=10_000)
    assert errors(page) == []


def test_the_edit_button_of_a_traversal_row_brings_its_slider_to_the_top(server, page):
    open_page(page, f"{server.url}/editor?model=mnist-mlp-ae-16")
    view = page.locator('.live[data-view="editor"]')
    last = view.locator(".trow button.edit").last
    dim = last.inner_text().split()[-1]
    last.click()
    page.wait_for_function("(d) => document.querySelector('.live[data-view=editor] input[type=range]') && "
                           "[...document.querySelectorAll('.live[data-view=editor] input[type=range]')][0].dataset.dim === d",
                           arg=dim, timeout=10_000)
    assert view.locator(".trow button.edit").first.inner_text().endswith(dim)


def test_interpolation_steps_change_in_the_page_without_python(server, page):
    open_page(page, f"{server.url}/editor?model=mnist-mlp-ae-16")
    row = page.locator('.live[data-view="interpolation"]')
    row.locator("canvas.row").wait_for()
    width = row.locator("canvas.row").evaluate("(c) => c.width")
    steps = row.locator("input[type=range]")
    steps.fill("12")
    page.wait_for_function("(w) => document.querySelector('.live[data-view=interpolation] canvas.row').width !== w", arg=width)
    assert row.locator("canvas.row").evaluate("(c) => c.width") == 12 * 29 - 1
    page.wait_for_function("() => location.search.includes('is=12')", timeout=10_000)
    assert errors(page) == []


# -- drawing and the map, live ----------------------------------------------------------------------

def _drawings(n: int, seed: int):
    """Varied pen-stroke digits (bench/drawn.py): strokes in canvas pixels and the pen width."""
    import numpy as np

    from bench.drawn import strokes_for

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        strokes, pen = strokes_for(i % 10, rng)
        out.append((i % 10, [{"points": s.tolist(), "pen": pen} for s in strokes]))
    return out


def test_the_pages_preprocessing_agrees_with_to_mnist(js_page):
    """The Draw page turns ink into 28x28 in the browser; Python's digitize.to_mnist is the reference."""
    import io

    import numpy as np
    from PIL import Image

    from encdec.digitize import ink_from_canvas, to_mnist

    drawings = _drawings(320, seed=7)
    got = js_page.evaluate("""(drawings) => {
        const c = document.createElement("canvas"); c.width = c.height = 280;
        const ctx = c.getContext("2d", {willReadFrequently: true});
        return drawings.map((strokes) => {
            window.live.drawStrokes(ctx, strokes, 18);
            const x = window.live.digitOf(ctx);
            return [c.toDataURL("image/png"), x ? Array.from(x) : null];
        });
    }""", [s for _, s in drawings])
    model = encdec.load(ROOT / "models" / "mnist-cnn-clf.safetensors")
    page_digits, python_digits = [], []
    for url, pixels in got:
        rgba = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA"))
        python_digits.append(to_mnist(ink_from_canvas(rgba)))
        page_digits.append(torch.tensor(pixels).reshape(28, 28))
    page_x, python_x = torch.stack(page_digits)[:, None], torch.stack(python_digits)[:, None]
    assert (page_x - python_x).abs().mean() < 0.02
    with torch.no_grad():
        same = (model.classify(page_x).argmax(1) == model.classify(python_x).argmax(1)).float().mean()
    assert same >= 0.99


def test_a_drawing_is_read_while_it_is_drawn_then_placed_on_the_map_in_the_page(server, page):
    from bench.browser import Wire
    from bench.chromium import three

    wire = Wire(page)
    open_page(page, f"{server.url}/draw?model=mnist-cnn-ae-16")
    view = page.locator('.live[data-view="draw"]')
    board = view.locator("canvas.board")
    board.wait_for()
    wire.mark()
    draw_with_mouse(page, board, three(), release=False)
    page.wait_for_function("() => document.querySelector('.live[data-view=draw]').dataset.prediction", timeout=10_000)
    assert view.get_attribute("data-prediction") == "3"        # before the pen lifts
    page.mouse.up()
    page.wait_for_function("() => document.querySelector('.live[data-view=draw]').dataset.neighbours", timeout=10_000)
    top3 = view.get_attribute("data-top3")
    assert top3.startswith("[[3,") and len(__import__("json").loads(top3)) == 3
    assert len(__import__("json").loads(view.get_attribute("data-neighbours"))) == 8
    assert view.locator(".top3").inner_text().count("%") == 3
    time.sleep(0.5)
    assert wire.messages_sent == 0 and errors(page) == []    # placed and compared without Python
    view.get_by_role("button", name="Edit this code").click()
    page.wait_for_url(re.compile(r"/editor"), timeout=60_000)
    page.wait_for_function("() => location.search.includes('start=code')", timeout=60_000)
    assert errors(page) == []


def test_a_digit_of_each_class_drawn_with_the_mouse_gets_the_right_verdict(server, page):
    open_page(page, f"{server.url}/draw?model=mnist-cnn-clf")
    view = page.locator('.live[data-view="draw"]')
    board = view.locator("canvas.board")
    board.wait_for()
    right = set()
    for digit, strokes in _drawings(20, seed=11):
        if digit in right:
            continue
        view.locator("button", has_text="Clear").click()
        draw_with_mouse(page, board, [s["points"] for s in strokes])
        page.wait_for_function("() => document.querySelector('.live[data-view=draw]').dataset.prediction", timeout=10_000)
        if view.get_attribute("data-prediction") == str(digit):
            right.add(digit)
    assert right == set(range(10))
    assert errors(page) == []


def test_moving_the_pointer_over_the_map_decodes_every_place_it_passes_and_a_lasso_selects(server, page):
    open_page(page, f"{server.url}/map?model=mnist-cnn-ae-16")
    view = page.locator('.live[data-view="explore"]')
    page.wait_for_selector('.live[data-view="explore"][data-live="1"]', timeout=120_000)  # the codes are here
    board = view.locator("canvas.map")
    board.scroll_into_view_if_needed()
    box = board.bounding_box()
    panel = view.locator("canvas.seen")
    pictures = set()
    for i in range(16):
        page.mouse.move(box["x"] + box["width"] * (0.1 + 0.05 * i), box["y"] + box["height"] * (0.15 + 0.045 * i))
        page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
        pictures.add(panel.evaluate("(c) => c.toDataURL()"))
    assert len(pictures) >= 10
    view.get_by_role("button", name="Lasso").click()
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.down()
    for x, y in ((0.95, 0.05), (0.95, 0.95), (0.05, 0.95), (0.05, 0.06)):
        page.mouse.move(box["x"] + box["width"] * x, box["y"] + box["height"] * y, steps=5)
    page.mouse.up()
    page.wait_for_function("() => Number(document.querySelector('.live[data-view=explore]').dataset.chosen) > 9000")
    assert view.locator(".chosen table tr").count() == 51  # the header and the first 50 codes
    view.get_by_role("button", name="Open in the code editor").click()
    page.wait_for_url(re.compile(r"/editor"), timeout=60_000)
    page.wait_for_function("() => location.search.includes('start=test-')", timeout=60_000)
    assert errors(page) == []
