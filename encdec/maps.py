"""Maps as files: shipped beside the models, or cached in `ENCDEC_HOME/cache`. No pickle anywhere.

A map file is an .npz of plain arrays: the coordinates (as 4,096 steps between their bounds, a
sixth of a pixel on the page, in two byte planes so that they compress),
PCA's mean and axes when the map is a PCA, and a JSON description (format, the model file's hash,
split, number of points, settings, quality). It is used only when all of these match what is
asked; anything else (missing, damaged, another model version) is ignored and recomputed.

    python -m encdec maps [NAMES]   # rebuild the shipped maps (test and training split)
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import settings as env
from .projection import MapSettings, Projector, quality

FORMAT = "encdec-map"
VERSION = 2
LEVELS = 4095  # steps between a map's bounds on each axis
SHIPPED_SPLITS = ("test", "train")
DEFAULT = MapSettings()


@dataclass
class Map:
    embedding: np.ndarray          # (N, 2) float32
    settings: MapSettings
    seconds: float                 # to compute, or to read
    source: str                    # "shipped" | "cache" | "computed"
    quality: dict = field(default_factory=dict)  # knn_code, knn_map, trust (empty until measured)
    pca: tuple | None = None       # (mean, components) of a PCA map

    def projector(self, codes) -> Projector:
        """A fitted Projector for this map and the codes of its points (to place new codes)."""
        p = Projector(self.settings)
        p.codes_, p.embedding_, p.pca_ = np.asarray(codes, dtype=np.float32), self.embedding, self.pca
        return p


def file_hash(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    return env.home() / "cache"


def cache_path(model_hash: str, split: str, n: int, settings: MapSettings) -> Path:
    text = json.dumps({"model": model_hash, "split": split, "n": n, **asdict(settings)}, sort_keys=True)
    return cache_dir() / f"{hashlib.sha256(text.encode()).hexdigest()[:24]}.npz"


def shipped_path(model_path: str | os.PathLike, split: str) -> Path:
    """models/NAME.safetensors -> models/NAME.map-SPLIT.npz"""
    model_path = Path(model_path)
    return model_path.with_name(f"{model_path.stem}.map-{split}.npz")


def _describe(model_hash: str, split: str, n: int, settings: MapSettings, q: dict, seconds: float) -> dict:
    return {"format": FORMAT, "version": VERSION, "model": model_hash, "split": split, "n": n,
            "settings": asdict(settings), "quality": q, "seconds": seconds}


def write(path: Path, m: Map, model_hash: str, split: str) -> None:
    """Atomically: a temporary file in the same folder, then a rename."""
    emb = m.embedding.astype(np.float64)
    lo, hi = emb.min(0), emb.max(0)
    steps = np.round((emb - lo) / np.where(hi > lo, hi - lo, 1.0) * LEVELS).astype(np.uint16)
    arrays = {"steps_hi": (steps >> 8).astype(np.uint8), "steps_lo": (steps & 255).astype(np.uint8), "bounds": np.stack([lo, hi]),
              "about": np.array(json.dumps(_describe(model_hash, split, len(emb), m.settings, m.quality, m.seconds)))}
    if m.pca is not None:
        arrays["pca_mean"], arrays["pca_components"] = m.pca
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read(path: Path, model_hash: str, split: str, n: int, settings: MapSettings, source: str) -> Map | None:
    """The map in `path` if it is intact and exactly what is asked for, else None (never raises)."""
    start = time.perf_counter()
    try:
        with np.load(path, allow_pickle=False) as z:
            about = json.loads(str(z["about"]))
            if (about.get("format"), about.get("version"), about.get("model"), about.get("split"), about.get("n")) != \
                    (FORMAT, VERSION, model_hash, split, n) or about.get("settings") != asdict(settings):
                return None
            hi, lo, bounds = z["steps_hi"], z["steps_lo"], z["bounds"].astype(np.float64)
            if hi.shape != (n, 2) or lo.shape != (n, 2) or hi.dtype != np.uint8 or lo.dtype != np.uint8 \
                    or bounds.shape != (2, 2) or not np.isfinite(bounds).all():
                return None
            steps = hi.astype(np.float64) * 256 + lo
            if steps.max() > LEVELS:
                return None
            embedding = (bounds[0] + steps / LEVELS * (bounds[1] - bounds[0])).astype(np.float32)
            pca = None
            if settings.method == "pca":
                pca = (z["pca_mean"].astype(np.float32), z["pca_components"].astype(np.float32))
                if pca[1].shape != (2, pca[0].shape[0]) or not all(np.isfinite(a).all() for a in pca):
                    return None
        q = about.get("quality") or {}
        q = {k: float(v) for k, v in q.items() if k in ("knn_code", "knn_map", "trust") and isinstance(v, (int, float))}
        return Map(embedding, settings, time.perf_counter() - start, source, q, pca)
    except Exception:  # missing, damaged, foreign: never trusted, never a crash
        return None


def compute(codes, settings: MapSettings, labels=None) -> Map:
    """Fit a map of `codes` (N, dim); with `labels`, measure its quality too."""
    start = time.perf_counter()
    codes = np.asarray(codes, dtype=np.float32)
    p = Projector(settings).fit(codes)
    seconds = time.perf_counter() - start
    q = quality(codes, p.embedding_, labels) if labels is not None else {}
    return Map(p.embedding_, settings, seconds, "computed", q, p.pca_)


def find(model_path: Path, model_hash: str, split: str, n: int, settings: MapSettings) -> Map | None:
    """A map that needs no computing: shipped beside the model, else in the cache."""
    if settings == DEFAULT and split in SHIPPED_SPLITS:
        found = read(shipped_path(model_path, split), model_hash, split, n, settings, "shipped")
        if found is not None:
            return found
    path = cache_path(model_hash, split, n, settings)
    found = read(path, model_hash, split, n, settings, "cache")
    if found is None and path.exists():
        path.unlink(missing_ok=True)  # damaged or stale: it will be recomputed
    return found


def get(model_path: Path, model_hash: str, codes, labels, split: str, settings: MapSettings) -> Map:
    """The map of a split's codes: shipped, cached, or computed now (and cached)."""
    codes = np.asarray(codes, dtype=np.float32)
    found = find(model_path, model_hash, split, len(codes), settings)
    if found is not None:
        return found
    m = compute(codes, settings, labels)
    write(cache_path(model_hash, split, len(codes), settings), m, model_hash, split)
    return m


def remember_quality(model_hash: str, split: str, m: Map) -> None:
    """Store a map's measured quality in its cache file, so it is not measured again."""
    if m.source != "shipped":
        write(cache_path(model_hash, split, len(m.embedding), m.settings), m, model_hash, split)


def build_shipped(model, model_path: Path, data, split: str, dry_run: bool = False) -> Map:
    """Compute and write the default map of `split` beside a shipped model (PCA in a dry run)."""
    from .latent import encode_split

    s = data.split(split)
    codes = encode_split(model, s).numpy()
    settings = MapSettings("pca") if dry_run else DEFAULT
    m = compute(codes, settings, s.labels.numpy())
    if not dry_run:
        write(shipped_path(model_path, split), m, file_hash(model_path), split)
    return m


def clean_cache() -> None:
    """Remove what older versions kept in the cache (pickled reducers): the cache holds no pickle."""
    folder = cache_dir()
    if folder.is_dir():
        for p in folder.glob("*.pkl"):
            p.unlink(missing_ok=True)
