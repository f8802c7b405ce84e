"""What the code editor does, as plain functions on codes.

Codes are float tensors (N, k) or (k,). Every function here runs under
`torch.inference_mode` on the model's device and returns CPU tensors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .data import Split
from .models import EVAL_BATCH, EncoderDecoder
from .sent import numbers


@torch.inference_mode()
def encode(model: EncoderDecoder, x: torch.Tensor) -> torch.Tensor:
    """Codes of images x (N,1,28,28) in [0,1]: (N, k)."""
    return model.encode(x.to(model.device)).cpu()


def encode_split(model: EncoderDecoder, split: Split, batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """Codes of every image of a split: (N, k)."""
    return torch.cat([encode(model, split.floats(slice(i, i + batch_size))) for i in range(0, len(split), batch_size)])


def _codes(model: EncoderDecoder, codes: torch.Tensor) -> torch.Tensor:
    return codes.reshape(-1, model.config.code_dim).float().to(model.device)


@torch.inference_mode()
def decode(model: EncoderDecoder, codes: torch.Tensor) -> torch.Tensor:
    """An autoencoder's decoder on codes (N, k): images (N, 28, 28) in [0, 1]."""
    return model.decode(_codes(model, codes))[:, 0].cpu()


@torch.inference_mode()
def class_probabilities(model: EncoderDecoder, codes: torch.Tensor) -> torch.Tensor:
    """A classifier's decoder (its last layer) on codes (N, k), then softmax: (N, 10)."""
    return torch.softmax(model.head(_codes(model, codes)), dim=1).cpu()


def decoder_output(model: EncoderDecoder, codes: torch.Tensor) -> torch.Tensor:
    """What the decoder makes of codes: images (N, 28, 28), or class probabilities (N, 10) for a
    classifier, whose decoder is its last layer."""
    return (class_probabilities if model.is_classifier else decode)(model, codes)


@torch.inference_mode()
def logits(model: EncoderDecoder, codes: torch.Tensor) -> torch.Tensor:
    """A classifier's decoder output, before the softmax: (N, 10)."""
    return model.head(_codes(model, codes)).cpu()


@dataclass(frozen=True)
class Ranges:
    """Per-dimension slider ranges from the code distribution on data."""
    low: torch.Tensor   # (k,)
    high: torch.Tensor  # (k,)
    mean: torch.Tensor  # (k,)


def code_ranges(codes: torch.Tensor, lo: float = 1.0, hi: float = 99.0) -> Ranges:
    """The lo-th to hi-th percentile of each dimension (never an empty range)."""
    q = torch.quantile(codes.float(), torch.tensor([lo / 100, hi / 100]), dim=0)  # (2, k)
    low, high = q[0], q[1]
    tiny = (high - low) < 1e-6
    low, high = torch.where(tiny, low - 0.5, low), torch.where(tiny, high + 0.5, high)
    return Ranges(low, high, codes.float().mean(0))


def traversal(model: EncoderDecoder, code: torch.Tensor, ranges: Ranges, dims=None, steps: int = 11) -> torch.Tensor:
    """Rows: dimensions; columns: that dimension moved across the width of its range, centred on
    `code` (with an odd number of steps the middle column is `code` itself), the others held.
    Returns (len(dims), steps, ...) outputs of `decoder_output`."""
    dims = list(range(code.numel())) if dims is None else list(dims)
    offsets = (ranges.high - ranges.low)[:, None] * (torch.linspace(0, 1, steps) - 0.5)[None]  # (k, steps)
    z = code.reshape(1, 1, -1).repeat(len(dims), steps, 1).clone()                              # (D, steps, k)
    for row, d in enumerate(dims):
        z[row, :, d] = code.reshape(-1)[d] + offsets[d]
    out = decoder_output(model, z.reshape(-1, code.numel()))
    return out.reshape(len(dims), steps, *out.shape[1:])


def rank_dimensions(model: EncoderDecoder, code: torch.Tensor, ranges: Ranges, steps: int = 7) -> tuple[list[int], torch.Tensor]:
    """Dimensions ordered by how much sweeping each one changes the output
    (mean absolute change from the output at `code`). Returns (order, effect per dimension)."""
    grid = traversal(model, code, ranges, steps=steps)                # (k, steps, ...)
    base = decoder_output(model, code)                                         # (1, ...)
    effect = (grid - base.unsqueeze(0)).abs().flatten(2).mean(dim=(1, 2))  # (k,)
    order = torch.argsort(effect, descending=True).tolist()
    return order, effect


def interpolate(a: torch.Tensor, b: torch.Tensor, steps: int = 8, method: str = "linear") -> torch.Tensor:
    """Codes from a to b: (steps, k). 'slerp' follows the great circle (suits a VAE's Gaussian code)."""
    if steps < 2:
        raise ValueError("Interpolation needs at least 2 steps.")
    a, b = a.reshape(-1).float(), b.reshape(-1).float()
    t = torch.linspace(0, 1, steps)[:, None]
    if method == "linear":
        return (1 - t) * a + t * b
    if method != "slerp":
        raise ValueError(f"Unknown interpolation {method!r}; use linear or slerp.")
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1, 1))
    if omega.abs() < 1e-4:  # nearly parallel: slerp is linear
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / math.sin(omega.item())


def code_from_page(sent, code_dim: int) -> torch.Tensor | None:
    """A code a page sent ({"code": k numbers}), checked like any user input; None when absent or unusable."""
    values = numbers(sent.get("code") if isinstance(sent, dict) else None, code_dim)
    return None if values is None else torch.tensor(values, dtype=torch.float32)


