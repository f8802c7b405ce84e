"""Arithmetic on codes, as with word vectors (king - man + woman ~ queen): here on digits.

code(A) - code(B) + code(C) moves C along the direction that leads from B to A; the default example
takes that direction from a slanted and an upright 7 and applies it to an upright 1.
"""
from __future__ import annotations

import torch


def arithmetic(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """code(A) - code(B) + code(C): move C along the direction from B to A."""
    return a - b + c


def digits_of_class(labels: torch.Tensor, digit: int) -> torch.Tensor:
    return torch.nonzero(labels == digit).flatten()


def slant(images: torch.Tensor) -> torch.Tensor:
    """How far each digit leans: the shear of its ink, d(column)/d(row); 0 is upright.
    images: (N, 28, 28) or (N,1,28,28) in [0,1] or uint8. Returns (N,)."""
    x = images.reshape(-1, 28, 28).float()
    mass = x.sum((1, 2)).clamp_min(1e-6)
    r = torch.arange(28.0)
    rows, cols = r[None, :, None], r[None, None, :]
    mr = (x * rows).sum((1, 2)) / mass
    mc = (x * cols).sum((1, 2)) / mass
    cov = (x * (rows - mr[:, None, None]) * (cols - mc[:, None, None])).sum((1, 2)) / mass
    var = (x * (rows - mr[:, None, None]) ** 2).sum((1, 2)) / mass
    return -cov / var.clamp_min(1e-6)  # positive: the top leans right


def arithmetic_example(labels: torch.Tensor, images: torch.Tensor, digit: int = 7, target: int = 1) -> tuple[int, int, int]:
    """Indices of (a strongly slanted `digit`, an upright `digit`, an upright `target`) in a split."""
    s = slant(images)
    d = digits_of_class(labels, digit)
    g = digits_of_class(labels, target)
    return int(d[s[d].argmax()]), int(d[s[d].abs().argmin()]), int(g[s[g].abs().argmin()])
