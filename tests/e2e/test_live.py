"""The models running in the page: the forward pass against PyTorch, and the editor under the mouse."""
import base64
import itertools
import time

import pytest
import torch

import encdec
from encdec.webmodel import weights_blob
from tests.e2e.conftest import ROOT
from tests.e2e.helpers import errors, live_module, open_page, settle

IMAGE_DECODERS = ("mlp", "lstm", "deconv")
BUILDABLE = [*[("autoencoder", e, d) for e, d in itertools.product(encdec.ENCODERS, IMAGE_DECODERS)],
             *[("vae", e, d) for e, d in itertools.product(encdec.ENCODERS, IMAGE_DECODERS)],
             *[("classifier", e, None) for e in encdec.ENCODERS]]
SHIPPED = sorted(p.stem for p in (ROOT / "models").glob("*.safetensors"))


def _random_model(kind, encoder, decoder):
    torch.manual_seed(0)
    model = encdec.build(encdec.ModelConfig(kind=kind, encoder=encoder, decoder=decoder, code_dim=6)).eval()
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


def test_dragging_a_slider_redraws_the_picture_before_release_and_the_link_after(server, page):
    open_page(page, f"{server.url}/editor?model=mnist-cnn-ae-16")
    view = page.locator('.live[data-view="editor"]')
    picture = view.locator("canvas.big")
    page.wait_for_function("() => document.querySelector('.live[data-view=editor]') !== null", timeout=60_000)
    view.locator("canvas.strip").first.wait_for()
    slider = view.locator("input[type=range]").first
    box = slider.bounding_box()
    x0, y = box["x"] + box["width"] * 0.2, box["y"] + box["height"] / 2
    link = page.evaluate("() => location.search")
    pictures = set()
    page.mouse.move(x0, y)
    page.mouse.down()
    for i in range(24):
        page.mouse.move(x0 + i * box["width"] * 0.025, y)
        page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
        pictures.add(picture.evaluate("(c) => c.toDataURL()"))
    assert page.evaluate("() => location.search") == link  # nothing went to Python during the drag
    assert len(pictures) >= 10
    page.mouse.up()
    page.wait_for_function("(before) => location.search !== before && location.search.includes('z=')", arg=link,
                           timeout=15_000)
    settle(page)
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
    time.sleep(0.3)
    assert errors(page) == []
