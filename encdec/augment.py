"""Random changes to training images that cover how people draw, batched on tensors.

MNIST's digits were written with one kind of pen and scanned one way; people drawing in a browser,
or photographing a page, make thinner or thicker strokes, lean and squeeze their digits, and
give softer or blockier edges. Each preset below draws, per image, a stroke thickness, an affine
warp (rotation, shear, scale, shift), a smooth elastic bend and a blur or a low-resolution copy,
and applies them all in one `grid_sample` pass plus a few pooling ops: about a millisecond per
batch of 128 on a CPU core.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch.nn import functional as F


@dataclass(frozen=True)
class Augment:
    """How strongly each change is drawn; 0 turns a change off."""
    shift: float = 0.0        # pixels, uniform in +-shift
    rotate: float = 0.0       # degrees, uniform in +-rotate
    shear: float = 0.0        # uniform in +-shear (x moves by shear * y)
    scale: float = 0.0        # log-uniform in [1 - scale, 1 + scale], each axis with a common part
    thickness: float = 0.0    # chance of a thicker or thinner stroke (half each)
    elastic: float = 0.0      # pixels of smooth random displacement
    blur: float = 0.0         # chance of a blur or a low-resolution copy (half each)
    coarsest: int = 8         # the low-resolution copy is 28x28 seen at `coarsest` to 14 pixels across
    styles: float = 0.0       # share of each batch replaced by digits written in many styles (strokes.py);
                              # MNIST only: they are digits


PRESETS = {
    "none": Augment(),
    "shift": Augment(shift=2.0),
    "handwriting": Augment(shift=2.0, rotate=12.0, shear=0.3, scale=0.15, thickness=0.6, elastic=1.2, blur=0.4),
    "styles": Augment(shift=2.0, rotate=12.0, shear=0.3, scale=0.15, thickness=0.6, elastic=1.2, blur=0.5,
                      coarsest=6, styles=0.3),
}
DIGITS_ONLY = ("styles",)  # presets that add written digits: for digit datasets only


def gentler(aug: Augment) -> Augment:
    """The changes at half strength and a third of the written digits: what a training's last epochs
    see when it settles (TrainConfig.settle), so that it ends close to the digits it is tested on."""
    return replace(aug, rotate=aug.rotate / 2, shear=aug.shear / 2, scale=aug.scale / 2, thickness=aug.thickness / 2,
                   elastic=aug.elastic / 2, blur=aug.blur / 2, styles=aug.styles / 3)


def default_for(kind: str, dataset: str = "mnist") -> str:
    """The preset the Train page and `zoo` start from: classifiers of digits meet digits people draw
    (in every style), a Fashion-MNIST classifier small shifts, autoencoders redraw the data as it is."""
    if kind != "classifier":
        return "none"
    return "styles" if dataset == "mnist" else "shift"


def written_pool(n_train: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The written digits a `styles` training mixes in: half as many as it has images (2,000 to
    30,000), the same for the same seed. uint8 (n, 28, 28) and labels (n,)."""
    from .strokes import digits

    images, labels = digits(int(min(30_000, max(2_000, n_train // 2))), seed)
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.copy())


def mix(x: torch.Tensor, y: torch.Tensor, pool: tuple[torch.Tensor, torch.Tensor], share: float,
        gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch (x (N,1,28,28) in [0,1], labels y) with about `share` of its rows replaced by random
    digits of `pool` (before the other changes, so that they are warped, thickened and blurred too)."""
    images, labels = pool
    swap = torch.rand(len(y), generator=gen) < share
    n = int(swap.sum())
    if n == 0:
        return x, y
    pick = torch.randint(len(labels), (n,), generator=gen)
    x, y = x.clone(), y.clone()
    rows = swap.nonzero().flatten().to(x.device)
    x[rows] = images[pick].to(x.device).unsqueeze(1).float().div_(255.0)
    y[rows] = labels[pick].to(y.device)
    return x, y


def _uniform(n: int, bound: float, gen: torch.Generator) -> torch.Tensor:
    return (torch.rand(n, generator=gen) * 2 - 1) * bound


def _sharp_max(x: torch.Tensor, weight: torch.Tensor, sign: int) -> torch.Tensor:
    """Blend each image with its 3x3 max (thicker) or min (thinner) by `weight` in [0, 1]."""
    pooled = sign * F.max_pool2d(sign * x, 3, stride=1, padding=1)
    return x + weight.view(-1, 1, 1, 1) * (pooled - x)


def _blur(x: torch.Tensor) -> torch.Tensor:
    k = torch.tensor([0.25, 0.5, 0.25], device=x.device)
    kernel = (k[:, None] * k[None, :]).view(1, 1, 3, 3)
    return F.conv2d(x, kernel, padding=1)


def _low_resolution(x: torch.Tensor, size: int) -> torch.Tensor:
    small = F.interpolate(x, size=(size, size), mode="area")
    return F.interpolate(small, size=x.shape[-2:], mode="bilinear", align_corners=False)


def apply(x: torch.Tensor, aug: Augment, gen: torch.Generator) -> torch.Tensor:
    """x: (N,1,28,28) in [0,1] -> a randomly changed copy, same shape and range. `gen` (a CPU
    generator) makes it reproducible with the training seed."""
    if aug == PRESETS["none"]:
        return x
    n, device = x.shape[0], x.device
    if aug.thickness:
        pick = torch.rand(n, generator=gen)
        weight = torch.rand(n, generator=gen).to(device)
        thick = (pick < aug.thickness / 2).to(device)
        thin = ((pick >= aug.thickness / 2) & (pick < aug.thickness)).to(device)
        x = torch.where(thick.view(-1, 1, 1, 1), _sharp_max(x, weight, 1), x)
        x = torch.where(thin.view(-1, 1, 1, 1), _sharp_max(x, 0.7 * weight, -1), x)
    # One affine map per image, in grid_sample's coordinates ([-1, 1] across the image).
    angle = _uniform(n, math.radians(aug.rotate), gen)
    shear = _uniform(n, aug.shear, gen)
    common = torch.exp(_uniform(n, math.log1p(aug.scale), gen))
    sx = common * torch.exp(_uniform(n, math.log1p(aug.scale / 2), gen))
    sy = common * torch.exp(_uniform(n, math.log1p(aug.scale / 2), gen))
    shift = _uniform(2 * n, aug.shift * 2 / 28, gen).view(n, 2)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # Output pixel p samples the input at A p + b, so A is the inverse of the warp people see.
    a = torch.stack([torch.stack([cos / sx, (-sin + shear * cos) / sx], 1),
                     torch.stack([sin / sy, (cos + shear * sin) / sy], 1)], 1)            # (N, 2, 2)
    theta = torch.cat([a, shift.unsqueeze(2)], 2).to(device)                               # (N, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)                        # (N, 28, 28, 2)
    if aug.elastic:
        coarse = torch.randn(n, 2, 4, 4, generator=gen) * (aug.elastic * 2 / 28)
        field = F.interpolate(coarse, size=x.shape[-2:], mode="bicubic", align_corners=True)
        grid = grid + field.permute(0, 2, 3, 1).to(device)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if aug.blur:
        pick = torch.rand(n, generator=gen)
        soft = (pick < aug.blur / 2).to(device).view(-1, 1, 1, 1)
        blocky = ((pick >= aug.blur / 2) & (pick < aug.blur)).to(device).view(-1, 1, 1, 1)
        size = int(torch.randint(aug.coarsest, 15, (1,), generator=gen))
        peak = x.amax((2, 3), keepdim=True)
        x = torch.where(soft, _blur(x), x)
        x = torch.where(blocky, _low_resolution(x, size), x)
        x = x * (peak / x.amax((2, 3), keepdim=True).clamp_min(1e-6))  # keep each digit's brightest ink
    return x.clamp_(0, 1)


def preset(name: str) -> Augment:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"Unknown augmentation {name!r}; choose one of {', '.join(PRESETS)}.") from None
