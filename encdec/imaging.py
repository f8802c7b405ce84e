"""Turn tensors into pictures and files people can download."""
from __future__ import annotations

import io

import numpy as np
import torch


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[0,1] floats of any shape ending in (28, 28) -> uint8 array."""
    return (images.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def grid(images: torch.Tensor, pad: int = 2, value: float = 1.0) -> np.ndarray:
    """(R, C, H, W) -> one (R*(H+pad)-pad, C*(W+pad)-pad) uint8 image with light separators."""
    r, c, h, w = images.shape
    out = torch.full((r * (h + pad) - pad, c * (w + pad) - pad), value)
    for i in range(r):
        for j in range(c):
            out[i * (h + pad):i * (h + pad) + h, j * (w + pad):j * (w + pad) + w] = images[i, j]
    return to_uint8(out)


def png_bytes(image: np.ndarray, scale: int = 1) -> bytes:
    from PIL import Image

    img = Image.fromarray(image)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


# Ten distinct colours, one per class, shared by the interactive map and its PNG.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def scatter_image(xy: np.ndarray, labels: np.ndarray, size: int = 900, dot: int = 2, bounds=None):
    """A map as a PIL image: one coloured dot per point on white (within `bounds`, else its own)."""
    from PIL import Image, ImageDraw

    xy = np.asarray(xy, dtype=np.float64)
    lo, hi = bounds if bounds is not None else (xy.min(0), xy.max(0))
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    margin = 10
    pix = margin + (xy - lo) / span * (size - 2 * margin)
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    for (x, y), label in zip(pix, np.asarray(labels)):
        y = size - y  # up is up
        draw.ellipse((x - dot, y - dot, x + dot, y + dot), fill=PALETTE[int(label) % 10])
    return img


def strip_picks(epochs, count: int) -> list[int]:
    """Indices of the frames nearest `count` evenly spaced epochs, the first and last included."""
    epochs = np.asarray(epochs, dtype=float)
    return sorted({int(np.abs(epochs - e).argmin()) for e in np.linspace(epochs[0], epochs[-1], count)})


def frames_strip(frames, labels, count: int = 6, size: int = 240) -> bytes:
    """`count` frames of a training's code space side by side (evenly spaced in epochs, the first and
    last included), each labelled with its epoch, on shared bounds so that what moves, moved."""
    from PIL import Image, ImageDraw

    picks = strip_picks([f.epoch for f in frames], count)
    every = np.concatenate([frames[i].xy for i in picks])
    bounds = (every.min(0), every.max(0))
    strip = Image.new("RGB", (len(picks) * size, size + 22), "white")
    draw = ImageDraw.Draw(strip)
    for j, i in enumerate(picks):
        strip.paste(scatter_image(frames[i].xy, labels, size, 1, bounds), (j * size, 0))
        draw.text((j * size + 8, size + 4), f"epoch {frames[i].epoch:.2f}", fill="black")
    buf = io.BytesIO()
    strip.save(buf, format="PNG")
    return buf.getvalue()
