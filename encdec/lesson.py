"""What the lesson's steps start from, worked out once: for each dataset, the digit whose code a pupil
changes until the classifier reads another class (and the code numbers that do it), the bold and thin
examples for arithmetic on codes, and the linear probes of the shipped autoencoders.

    python -m encdec lesson   # writes models/lesson.json for the shipped models
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from . import latent, transfer
from .data import Split

# Per dataset: change a code until its (source) reads as (target); find a place that decodes to `plane`;
# draw a `misread` the model misreads; bold `arith[0]` - thin `arith[0]` + thin `arith[1]`.
TASKS = {"mnist": {"flip": (4, 9), "plane": 6, "misread": 7, "arith": (3, 7)},
         "fashion": {"flip": (2, 4), "plane": 1, "misread": 6, "arith": (6, 8)}}
SHOWN_DIMS = 6      # sliders of the code step
SEARCH = 40         # digits of the source class tried when looking for a one-number change
STEPS = 21          # values tried across each dimension's range


def path(models_dir: Path) -> Path:
    return Path(models_dir) / "lesson.json"


def read(models_dir: Path) -> dict:
    """The file `python -m encdec lesson` wrote (empty when there is none or it is damaged)."""
    try:
        found = json.loads(path(models_dir).read_text())
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError):
        return {}


@torch.no_grad()
def find_flip(ae, clf, split: Split, source: int, target: int) -> dict:
    """A test digit of class `source` whose autoencoder code, with one number moved within the range of
    the test codes, decodes to a picture `clf` reads as `target`; its index and the dimensions that do
    it first (then the others in order of effect). The first digit of the class when none does."""
    codes = latent.encode_split(ae, split)
    ranges = latent.code_ranges(codes)
    k = codes.shape[1]
    order = latent.rank_dimensions(ae, ranges.mean, ranges)[0]
    candidates = torch.nonzero(split.labels == source).flatten()[:SEARCH]
    sweep = torch.linspace(0, 1, STEPS)
    for i in candidates.tolist():
        z = codes[i].repeat(k * STEPS, 1)
        for d in range(k):
            z[d * STEPS:(d + 1) * STEPS, d] = ranges.low[d] + sweep * (ranges.high[d] - ranges.low[d])
        read = clf.classify(latent.decode(ae, z)[:, None].clone()).argmax(1).reshape(k, STEPS)
        working = [d for d in range(k) if bool((read[d] == target).any())]
        if working:
            return {"index": i, "dims": (working[:1] + [d for d in order if d != working[0]])[:SHOWN_DIMS]}
    return {"index": int(candidates[0]), "dims": order[:SHOWN_DIMS]}


def bold_example(split: Split, bold: int, other: int) -> list[int]:
    """Indices of (a bold `bold`, a thin `bold`, a thin `other`): by ink, at the 97th and 3rd percentile of their
    class, so that neither is an odd one out."""
    ink = split.images.reshape(len(split), -1).float().sum(1)

    def at(cls: int, q: float) -> int:
        idx = torch.nonzero(split.labels == cls).flatten()
        ranked = idx[torch.argsort(ink[idx])]
        return int(ranked[int(q * (len(ranked) - 1))])
    return [at(bold, 0.97), at(bold, 0.03), at(other, 0.03)]


def build(infos, load, dataset_of) -> dict:
    """What lesson.json holds, for the shipped models `infos` (store.ModelInfo), loaded with `load`;
    `dataset_of(name)` gives a dataset."""
    out: dict = {}
    for name in sorted({i.config.dataset for i in infos}):
        data = dataset_of(name)
        mine = [i for i in infos if i.config.dataset == name]
        aes = [i for i in mine if i.config.kind in ("autoencoder", "vae")]
        clfs = [i for i in mine if i.config.kind == "classifier"]
        source, target = TASKS[name]["flip"]
        flips = {f"{a.name}|{c.name}": find_flip(load(a), load(c), data.test, source, target) for a in aes for c in clfs}
        probes = {a.name: transfer.linear_probe(load(a), data) for a in aes}
        out[name] = {"flips": flips, "probes": probes}
    return out
