"""The code space while a model trains: at each progress report, the codes of a fixed sample of
validation images as a 2-D picture that stays comparable from one report to the next.

A 2-number code is its own plane. A longer code is projected on its two principal axes, fitted
afresh at each report, then turned (rotation, reflection and scale: orthogonal Procrustes) to
lie as close as possible to the previous picture, so clusters neither jump nor flip while the
model learns. Frames are saved inside the model's checkpoint (float16 tensors, no pickle).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from .data import Split

SAMPLE = 2000       # validation images per frame, at most
MIN_SAMPLE = 250    # ... and at least: fewer points do not show a code space
FRAME_SHARE = 0.002  # what one frame may cost, as a share of the whole training's time (sets the sample size)
MAX_FRAMES = 120    # kept per training (older ones thinned evenly beyond this)
BUDGET = 0.025      # all frames together may take at most this share of the time so far (the last report always counts)


@dataclass
class Frame:
    xy: np.ndarray   # (n, 2) float32
    epoch: float     # fractional epoch of the report
    loss: float      # training loss at the report


def sample(split: Split, n: int = SAMPLE, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """A fixed, seeded sample of a split: images (n, 1, 28, 28) and labels."""
    idx = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))[:n].sort().values
    return split.floats(idx), split.labels[idx].numpy()


def align(xy: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """`xy` turned, reflected and scaled to match `previous` as closely as possible (same points)."""
    xy = xy - xy.mean(0)
    if previous is None:
        return xy / max(float(np.sqrt((xy ** 2).sum(1).mean())), 1e-12)  # unit spread for the first frame
    target = previous - previous.mean(0)
    u, s, vt = np.linalg.svd(xy.T @ target)
    rotation = u @ vt
    scale = s.sum() / max(float((xy ** 2).sum()), 1e-12)
    return (xy @ rotation) * scale


def project(codes: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """Codes (n, k) as a 2-D picture comparable with `previous`."""
    if codes.shape[1] == 2:
        return codes.astype(np.float32)
    centred = codes - codes.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return align(centred @ vt[:2].T, previous).astype(np.float32)


class Recorder:
    """Records frames from a training's progress reports; `__call__(progress)` is a callback.

    With `n` left out, the sample's size is chosen at the first report, from how fast the model
    encodes and how long the whole training will take: as many images (MIN_SAMPLE to SAMPLE) as
    fit one frame into FRAME_SHARE of it. Then frames are skipped whenever they have taken more
    than BUDGET of the time so far; the last report is always recorded. Beyond MAX_FRAMES every
    other frame is dropped and later ones are spaced as the kept ones are."""

    def __init__(self, split: Split, n: int | None = None, seed: int = 0):
        self.split, self.seed = split, seed
        self.images, self.labels = sample(split, n, seed) if n else (None, None)
        self.frames: list[Frame] = []
        self.spent = 0.0
        self.gap = 0.0  # the fewest epochs between frames: after a thinning, the kept frames' mean spacing

    def _encode(self, model, images) -> np.ndarray:
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                return model.encode(images.to(model.device)).float().cpu().numpy()
        finally:
            model.train(was_training)

    def _choose_sample(self, p) -> None:
        probe = self.split.floats(slice(0, 64))
        self._encode(p.model, probe)  # the first call pays for warming up, not for the images
        start = time.perf_counter()
        self._encode(p.model, probe)
        per_image = (time.perf_counter() - start) / len(probe)
        total = p.elapsed / max(p.fraction, 1e-3)  # the whole training, as the first report sees it
        n = int(np.clip(FRAME_SHARE * total / max(per_image, 1e-7), MIN_SAMPLE, SAMPLE))
        self.images, self.labels = sample(self.split, min(n, len(self.split)), self.seed)

    def __call__(self, p) -> Frame | None:
        if p.model is None or p.phase == "done":
            return None
        last = p.step >= p.total_steps and p.phase == "epoch"
        if self.frames and not last and (self.spent > BUDGET * p.elapsed or
                                         p.fraction * p.epochs - self.frames[-1].epoch < self.gap):
            return None  # over budget, or too soon after the last frame: this report has no frame
        start = time.perf_counter()
        if self.images is None:
            self._choose_sample(p)
        codes = self._encode(p.model, self.images)
        if not np.isfinite(codes).all():
            return None
        previous = self.frames[-1].xy if self.frames else None
        frame = Frame(project(codes, previous), p.fraction * p.epochs, float(p.loss))
        self.frames.append(frame)
        if len(self.frames) > MAX_FRAMES:
            # Every other frame goes, and later frames keep the spacing the kept ones now have on
            # average, so that the record stays even over the training rather than dense at its end.
            self.frames = self.frames[::2] + ([self.frames[-1]] if len(self.frames) % 2 == 0 else [])
            self.gap = (self.frames[-1].epoch - self.frames[0].epoch) / (len(self.frames) - 1)
        self.spent += time.perf_counter() - start
        return frame

    def tensors(self) -> dict[str, torch.Tensor]:
        """What a checkpoint keeps: positions (F, n, 2) float16, labels (n,), and (epoch, loss) per frame."""
        if not self.frames:
            return {}
        return {"frames.xy": torch.from_numpy(np.stack([f.xy for f in self.frames])).to(torch.float16),
                "frames.labels": torch.from_numpy(self.labels.astype(np.uint8)),
                "frames.when": torch.tensor([[f.epoch, f.loss] for f in self.frames], dtype=torch.float32)}


def recorder(split: Split, points: int | None = None, seed: int = 0) -> Recorder | None:
    """The one place a training's recorder is made: frames of `points` images of `split` (chosen from
    the training's pace when None), or None when the split is empty or `points` is 0."""
    if not len(split) or points == 0:
        return None
    return Recorder(split, min(points, len(split)) if points else None, seed)


def from_tensors(tensors: dict) -> tuple[list[Frame], np.ndarray] | None:
    """Frames back from a checkpoint's tensors (None when it has none)."""
    if "frames.xy" not in tensors:
        return None
    xy, when = tensors["frames.xy"].float().numpy(), tensors["frames.when"].numpy()
    return [Frame(xy[i], float(when[i, 0]), float(when[i, 1])) for i in range(len(xy))], tensors["frames.labels"].numpy()
