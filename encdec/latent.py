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
from .urlstate import numbers_from_page


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

    def clamp(self, z: torch.Tensor) -> torch.Tensor:
        return torch.maximum(torch.minimum(z, self.high), self.low)


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


def layers(module: torch.nn.Module) -> list[tuple[str, int]]:
    """The layers that hold weights, in order, with their parameter counts."""
    out = []
    for name, m in module.named_modules():
        own = sum(p.numel() for p in m.parameters(recurse=False))
        if own:
            out.append((f"{type(m).__name__} {name}", own))
    return out


@torch.inference_mode()
def predictions(model: EncoderDecoder, split: Split, batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """A classifier's predicted class for every image of a split: (N,)."""
    return torch.cat([model.classify(split.floats(slice(i, i + batch_size)).to(model.device)).argmax(1).cpu()
                      for i in range(0, len(split), batch_size)])


def confusion_matrix(labels: torch.Tensor, predicted: torch.Tensor, classes: int = 10) -> torch.Tensor:
    """(true, predicted) counts."""
    labels, predicted = torch.as_tensor(labels).long(), torch.as_tensor(predicted).long()
    return torch.bincount(labels * classes + predicted, minlength=classes * classes).reshape(classes, classes)


def accuracy(matrix: torch.Tensor) -> float:
    """Share of the confusion matrix on its diagonal."""
    return float(torch.diag(matrix).sum() / matrix.sum().clamp_min(1))


def most_confused(matrix: torch.Tensor) -> tuple[int, int]:
    """(true class, predicted class) of the most frequent mistake."""
    off = matrix - torch.diag(torch.diag(matrix))
    i = int(off.argmax())
    return i // matrix.shape[1], i % matrix.shape[1]


def reconstruction_errors(model: EncoderDecoder, split: Split, codes: torch.Tensor, batch_size: int = EVAL_BATCH):
    """Each image's squared reconstruction error per pixel: a numpy array (N,)."""
    out = [((decode(model, codes[i:i + batch_size]) - split.floats(slice(i, i + batch_size))[:, 0]) ** 2).mean((1, 2))
           for i in range(0, len(split), batch_size)]
    return torch.cat(out).numpy()


def code_from_page(sent, code_dim: int) -> torch.Tensor | None:
    """A code a page sent ({"code": k numbers}), checked like any user input; None when absent or unusable."""
    values = numbers_from_page(sent.get("code") if isinstance(sent, dict) else None, code_dim)
    return None if values is None else torch.tensor(values, dtype=torch.float32)


def all_finite(codes: torch.Tensor) -> bool:
    """Whether every code is a finite number (a model with huge weights can overflow)."""
    return bool(torch.isfinite(codes).all())
