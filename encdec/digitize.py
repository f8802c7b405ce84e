"""Turn a drawing or a photo of a digit into a 28x28 MNIST-style image, the way MNIST was made:
crop to the ink, scale the longer side to 20 pixels keeping the aspect ratio, then place it in a
28x28 frame so that its centre of mass sits at the centre. Grey levels are in [0, 1], ink = 1.
"""
from __future__ import annotations

import io
import math

import numpy as np
import torch
from scipy import ndimage

from .sent import numbers

BOX = 20           # the longer side of the digit after scaling
SIZE = 28          # the frame
MIN_INK = 0.001    # below this share of inked canvas (0.1%), a drawing counts as empty
INKED = 0.1        # a pixel with more ink than this is part of the digit: anti-aliased fringes are not
MAX_PIXELS = 40_000_000  # larger uploads are refused before decoding
MAX_PICTURE_MB = 25      # a photo of a digit is a few MB; the Draw page refuses larger files as they arrive


class DrawingError(ValueError):
    """The picture cannot become a digit; the message says what to do, and `key` names the reason
    (pages show their own sentence for it: empty, faint, not_image, too_large, bad_page)."""

    def __init__(self, key: str, message: str, **values):
        super().__init__(message)
        self.key, self.values = key, values


def ink_share(ink: np.ndarray) -> float:
    return float((ink > INKED).mean()) if ink.size else 0.0


def is_empty(ink: np.ndarray) -> bool:
    """Nothing (or only a speck) drawn."""
    return ink_share(ink) < MIN_INK


def center_of_mass(img: np.ndarray) -> tuple[float, float]:
    total = img.sum()
    rows, cols = np.indices(img.shape)
    return float((rows * img).sum() / total), float((cols * img).sum() / total)


def to_mnist(ink: np.ndarray) -> torch.Tensor:
    """ink: 2-D float array in [0,1], 1 = ink, any size. Returns a (28, 28) tensor in [0,1]."""
    from PIL import Image

    ink = np.clip(np.asarray(ink, dtype=np.float32), 0, 1)
    if ink.ndim != 2 or is_empty(ink):
        raise DrawingError("empty", "The drawing is empty: draw a digit that fills most of the box.")
    rows = np.flatnonzero((ink > INKED).any(1))
    cols = np.flatnonzero((ink > INKED).any(0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray(crop).resize((nw, nh), Image.BILINEAR if scale > 1 else Image.LANCZOS),
                       dtype=np.float32)
    small = np.clip(small, 0, 1)
    if small.sum() <= 0:
        raise DrawingError("faint", "The drawing is too faint to read: draw with thicker strokes.")
    # Place the box in the frame, then shift it so that its centre of mass is the frame's centre.
    frame = np.zeros((SIZE, SIZE), dtype=np.float32)
    top, left = (SIZE - nh) // 2, (SIZE - nw) // 2
    frame[top:top + nh, left:left + nw] = small
    cy, cx = center_of_mass(frame)
    middle = (SIZE - 1) / 2
    frame = ndimage.shift(frame, (middle - cy, middle - cx), order=1, mode="constant", cval=0.0)
    return torch.from_numpy(np.clip(frame, 0, 1))


def digit_from_page(sent) -> torch.Tensor | None:
    """The 28x28 the Draw page made of a drawing ({"pixels": 784 numbers} or None for an empty box),
    checked like any user input; None when nothing is drawn."""
    if sent is None or (isinstance(sent, dict) and sent.get("pixels") is None):
        return None
    values = numbers(sent.get("pixels") if isinstance(sent, dict) else None, SIZE * SIZE, math.inf)
    if values is None:
        raise DrawingError("bad_page", "The drawing did not arrive intact; draw it again.")
    return torch.tensor(values, dtype=torch.float32).clamp(0, 1).reshape(SIZE, SIZE)


def ink_from_canvas(rgba: np.ndarray) -> np.ndarray:
    """A canvas's RGBA pixels (light strokes on a dark or transparent background) -> ink in [0,1]."""
    rgba = np.asarray(rgba, dtype=np.float32) / 255.0
    light = rgba[..., :3].mean(-1)
    return light * rgba[..., 3] if rgba.shape[-1] == 4 else light


FORMATS = ("PNG", "JPEG")  # what the page offers; no other decoder is ever reached
WORK_SIZE = 1024           # a picture is shrunk to at most this many pixels a side while it is read


def ink_from_image(data: bytes) -> np.ndarray:
    """A PNG/JPEG of a digit, dark-on-light or light-on-dark, any size or orientation -> ink in [0,1].
    Large pictures are shrunk while decoding (JPEG) or right after (PNG), so a phone photo or a
    huge PNG costs little time and memory; a photo's EXIF orientation is applied."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data), formats=FORMATS)
        if img.width * img.height > MAX_PIXELS:
            raise DrawingError("too_large", f"That image is {img.width}x{img.height} pixels, too large to read; "
                               "upload one under 40 megapixels (a phone photo is fine).", w=img.width, h=img.height)
        if img.format == "JPEG":
            img.draft("L", (WORK_SIZE, WORK_SIZE))  # the decoder itself skips detail we would throw away
        img.load()
        img = ImageOps.exif_transpose(img)
        if max(img.size) > WORK_SIZE:
            img.thumbnail((WORK_SIZE, WORK_SIZE), Image.Resampling.BOX)
    except DrawingError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise DrawingError("not_image", "That file is not an image this app can read: upload a PNG or JPEG of a digit.") from None
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        base = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(base, img.convert("RGBA"))
    gray = np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    ink = 1.0 - gray if np.median(border) > 0.5 else gray  # dark on light: invert
    # Treat the background level as zero ink, so paper grey does not count as ink.
    background = float(np.median(np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])))
    return np.clip((ink - background) / max(1e-6, 1 - background), 0, 1)
