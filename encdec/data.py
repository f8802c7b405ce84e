"""MNIST-style datasets held in memory as uint8 tensors.

One call loads a dataset once per process; training slices mini-batches from
these tensors directly, with no per-sample Python transform.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from . import settings

DATASETS = ("mnist", "fashion")
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
# Names people see for each dataset, and the torchvision class that reads it.
DATASET_TITLES = {"mnist": "MNIST", "fashion": "Fashion-MNIST"}
_FOLDERS = {"mnist": "MNIST", "fashion": "FashionMNIST"}
FASHION_CLASSES = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


class DataError(RuntimeError):
    """A dataset is missing or unreadable; the message says what to do."""


def class_names(dataset: str) -> tuple[str, ...]:
    return FASHION_CLASSES if dataset == "fashion" else tuple(str(d) for d in range(10))


@dataclass(frozen=True)
class Split:
    images: torch.Tensor  # (N, 28, 28) uint8
    labels: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)

    def floats(self, index: int | slice | torch.Tensor = slice(None)) -> torch.Tensor:
        """Images as float (n,1,28,28) in [0,1]; an int index gives n = 1."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        return self.images[index].unsqueeze(1).float().div_(255.0)

    def head(self, n: int | None) -> "Split":
        return self if n is None else Split(self.images[:n], self.labels[:n])


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split  # training split minus the validation images
    val: Split    # held out from the training split, seeded
    test: Split   # only for reported metrics

    def split(self, name: str) -> Split:
        """'test', or 'train' for the whole training split (training + validation images, 60,000)."""
        if name == "test":
            return self.test
        if name == "train":
            return Split(torch.cat([self.train.images, self.val.images]), torch.cat([self.train.labels, self.val.labels]))
        raise DataError(f"Unknown split {name!r}; choose test or train.")

    def with_val(self, val: Split) -> "Dataset":
        return Dataset(self.name, self.train, val, self.test)


def _read(name: str, root: Path, train: bool, download: bool):
    from torchvision import datasets

    cls = datasets.FashionMNIST if name == "fashion" else datasets.MNIST
    return cls(root=str(root), train=train, download=download)


def _read_idx(folder: Path, prefix: str) -> SimpleNamespace:
    """One split from IDX files that check_idx has passed: uint8 images and int64 labels."""
    images = np.fromfile(folder / f"{prefix}-images-idx3-ubyte", dtype=np.uint8, offset=16)
    labels = np.fromfile(folder / f"{prefix}-labels-idx1-ubyte", dtype=np.uint8, offset=8)
    return SimpleNamespace(data=torch.from_numpy(images.reshape(-1, 28, 28)), targets=torch.from_numpy(labels))


def check_idx(path: Path) -> str | None:
    """What is wrong with one IDX file, or None: its magic number, shape and length must agree
    (an HTML error page or random bytes in its place are caught here, before torchvision)."""
    images = "images" in path.name
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(16 if images else 8)
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    need = 16 if images else 8
    if len(head) < need:
        return "is too short to be an IDX file"
    magic, n = int.from_bytes(head[0:4], "big"), int.from_bytes(head[4:8], "big")
    if magic != (0x803 if images else 0x801):
        return "is not an IDX file (it may be an error page saved in its place, or damaged)"
    if images and (int.from_bytes(head[8:12], "big"), int.from_bytes(head[12:16], "big")) != (28, 28):
        return "does not hold 28x28 images"
    expected = need + n * (28 * 28 if images else 1)
    if size != expected:
        return f"has {size:,} bytes but its header promises {expected:,} (it is truncated or damaged)"
    return None


@functools.lru_cache(maxsize=4)
def _load_raw(name: str, root: str, download: bool) -> tuple[Split, Split]:
    folder = Path(root) / _FOLDERS[name] / "raw"
    missing = [f for f in IDX_FILES if not (folder / f).is_file()]
    if missing and not download:
        raise DataError(
            f"{DATASET_TITLES[name]} files are missing in {folder}: it needs "
            f"{', '.join(IDX_FILES)}; copy them there, set ENCDEC_DATA_DIR to a folder that has them, "
            "or allow the download (unset ENCDEC_DOWNLOAD).")
    for f in IDX_FILES:
        problem = None if f in missing else check_idx(folder / f)
        if problem:
            raise DataError(
                f"{DATASET_TITLES[name]} file {folder / f} {problem}: delete it"
                f"{' to download it again' if download else ''}, or replace it with the original, "
                "or set ENCDEC_DATA_DIR to a folder with intact copies.")
    try:
        if missing:  # torchvision downloads (and checks) them; its import alone takes seconds
            splits = [_read(name, Path(root), train, download) for train in (True, False)]
        else:
            splits = [_read_idx(folder, prefix) for prefix in ("train", "t10k")]
    except Exception as e:  # torchvision raises many kinds for offline or broken files
        detail = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
        what = ("could not be downloaded (is this machine offline?)" if missing
                else f"could not be read, a file may be corrupt ({detail})")
        raise DataError(
            f"{DATASET_TITLES[name]} {what} in {folder}: it needs {', '.join(IDX_FILES)}; "
            f"put intact copies there or set ENCDEC_DATA_DIR to a folder that has them.") from None
    out = []
    for ds in splits:
        images, labels = ds.data, ds.targets.long()
        if images.dtype != torch.uint8 or images.shape[1:] != (28, 28) or len(images) != len(labels) or len(images) == 0:
            raise DataError(f"{DATASET_TITLES[name]} files in {folder} do not hold 28x28 images with one label each; "
                            "replace them with the original IDX files.")
        out.append(Split(images.contiguous(), labels.contiguous()))
    return out[0], out[1]


def load_dataset(name: str = "mnist", root: str | os.PathLike | None = None, *,
                 val_size: int = 5000, seed: int = 0, download: bool | None = None) -> Dataset:
    """Load a dataset once into memory and split off a seeded validation set."""
    if name not in DATASETS:
        raise DataError(f"Unknown dataset {str(name)[:40]!r}; choose one of {', '.join(DATASETS)}.")
    root = Path(root) if root is not None else settings.data_dir()
    download = settings.download_allowed() if download is None else download
    full, test = _load_raw(name, str(root.resolve()), download)
    val_size = max(0, min(val_size, len(full) // 5))
    order = torch.randperm(len(full), generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = order[:val_size].sort().values, order[val_size:].sort().values
    train = Split(full.images[train_idx], full.labels[train_idx])
    val = Split(full.images[val_idx], full.labels[val_idx])
    return Dataset(name, train, val, test)
