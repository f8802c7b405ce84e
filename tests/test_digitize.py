import io

import numpy as np
import pytest
from PIL import Image

from encdec.digitize import DrawingError, center_of_mass, ink_from_canvas, ink_from_image, is_empty, to_mnist


def ring(size=400, center=(100, 300), radii=(90, 140), thickness=14):
    """An ellipse stroke, off-centre, on a large canvas (ink = 1)."""
    r, c = np.indices((size, size))
    d = ((r - center[0]) / radii[0]) ** 2 + ((c - center[1]) / radii[1]) ** 2
    return (np.abs(np.sqrt(d) - 1) < thickness / max(radii)).astype(np.float32)


def ink_box(img, level=0.1):
    rows = np.flatnonzero((img > level).any(1))
    cols = np.flatnonzero((img > level).any(0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def check_mnist_like(x):
    img = x.numpy()
    assert img.shape == (28, 28) and img.min() >= 0 and img.max() <= 1
    cy, cx = center_of_mass(img)
    assert abs(cy - 13.5) < 0.6 and abs(cx - 13.5) < 0.6      # centred by mass
    assert 19 <= max(ink_box(img)) <= 22                       # longer side scaled to a 20-pixel box
    return img


def test_off_centre_large_stroke_becomes_a_centred_20_pixel_digit():
    img = check_mnist_like(to_mnist(ring()))
    h, w = ink_box(img)
    assert w > h  # the aspect ratio (wider than tall) is kept


def test_tiny_stroke_is_scaled_up():
    tiny = np.zeros((300, 300), np.float32)
    tiny[140:164, 150:155] = 1  # a 24x5 dash, 0.13% of the canvas
    img = check_mnist_like(to_mnist(tiny))
    h, w = ink_box(img)
    assert h > 3 * w


def test_inverted_colours_in_an_uploaded_picture_are_detected():
    stroke = ring(200, (100, 100), (60, 40), 10)
    dark_on_light = Image.fromarray(((1 - stroke) * 255).astype(np.uint8))
    light_on_dark = Image.fromarray((stroke * 255).astype(np.uint8))
    outs = []
    for im in (dark_on_light, light_on_dark):
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        outs.append(check_mnist_like(to_mnist(ink_from_image(buf.getvalue()))))
    assert np.abs(outs[0] - outs[1]).max() < 0.05


def test_canvas_rgba_strokes_become_ink():
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[50:200, 130:150, :3] = 255
    ink = ink_from_canvas(rgba)
    assert ink.max() == pytest.approx(1.0) and ink[0, 0] == 0
    check_mnist_like(to_mnist(ink))


def test_empty_and_nearly_empty_canvases_are_detected():
    empty = np.zeros((280, 280), np.float32)
    assert is_empty(empty)
    speck = empty.copy()
    speck[10:12, 10:12] = 1
    assert is_empty(speck)
    with pytest.raises(DrawingError, match="empty"):
        to_mnist(speck)


def test_a_file_that_is_not_an_image_gets_one_clear_sentence():
    with pytest.raises(DrawingError, match="not an image"):
        ink_from_image(b"%PDF-1.4 definitely not a png")


def test_an_enormous_image_is_refused_before_decoding():
    buf = io.BytesIO()
    Image.new("L", (8000, 6000), 255).save(buf, format="PNG")
    with pytest.raises(DrawingError, match="too large"):
        ink_from_image(buf.getvalue())


def _encoded(img, fmt="PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_a_huge_but_small_png_is_read_quickly_and_shrunk():
    import time

    img = Image.new("L", (6320, 6320), 255)
    img.paste(0, (2000, 1000, 4000, 5000))  # a thick dark bar: a "1"
    data = _encoded(img)
    start = time.perf_counter()
    ink = ink_from_image(data)
    assert time.perf_counter() - start < 3.0
    assert max(ink.shape) <= 1024
    check_mnist_like(to_mnist(ink))


def test_a_phone_photo_is_turned_upright_by_its_exif_orientation():
    upright = np.full((300, 200), 255, np.uint8)
    upright[40:260, 90:110] = 0            # a tall bar, as the writer saw it
    sideways = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)  # what the camera stored
    exif = Image.Exif()
    exif[0x0112] = 6                        # "rotate 90 clockwise to view"
    ink = ink_from_image(_encoded(sideways, "JPEG", exif=exif.tobytes()))
    h, w = ink_box(ink, 0.5)
    assert h > 3 * w                        # read upright: taller than wide


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_only_png_and_jpeg_are_decoded(fmt):
    with pytest.raises(DrawingError, match="not an image"):
        ink_from_image(_encoded(Image.new("L", (50, 50), 0), fmt))


def test_an_eps_file_never_reaches_ghostscript(monkeypatch):
    import subprocess

    def refuse(*a, **k):
        raise AssertionError("a decoder tried to run a program")
    monkeypatch.setattr(subprocess, "Popen", refuse)
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    with pytest.raises(DrawingError, match="not an image"):
        ink_from_image(eps)


def test_the_draw_pages_digit_is_checked_like_any_user_input():
    from encdec.digitize import digit_from_page

    assert digit_from_page(None) is None and digit_from_page({"pixels": None}) is None  # nothing drawn
    x = digit_from_page({"pixels": [0.5] * 783 + [7]})
    assert x.shape == (28, 28) and float(x.max()) == 1.0  # clamped to ink
    for bad in ({"pixels": [0.5] * 783}, {"pixels": [0.5] * 783 + [float("inf")]}, {"pixels": [0.5] * 783 + ["x"]},
                {"pixels": "0.5"}):
        with pytest.raises(DrawingError) as e:
            digit_from_page(bad)
        assert e.value.key == "bad_page"
