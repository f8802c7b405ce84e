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


def code_csv(code: torch.Tensor) -> str:
    values = code.reshape(-1).tolist()
    return "dimension,value\n" + "".join(f"{i},{v:.6g}\n" for i, v in enumerate(values))
