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
import io
import json
import logging
import math
import os
import stat
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import settings as env
from .projection import MapSettings, Projector, quality

FORMAT = "encdec-map"
VERSION = 2
LEVELS = 4095  # steps between a map's bounds on each axis
MAX_COORDINATE = 1e6  # UMAP and PCA of codes within the link's bounds stay far inside this
QUALITY = ("knn_code", "knn_map", "trust")
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


def bytes_hash(data: bytes) -> str:
    """What `file_hash` gives for a file holding `data`."""
    return hashlib.sha256(data).hexdigest()[:16]


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


def encode(m: Map, model_hash: str, split: str) -> bytes:
    """A map as the bytes of its .npz file."""
    emb = m.embedding.astype(np.float64)
    lo, hi = emb.min(0), emb.max(0)
    steps = np.round((emb - lo) / np.where(hi > lo, hi - lo, 1.0) * LEVELS).astype(np.uint16)
    arrays = {"steps_hi": (steps >> 8).astype(np.uint8), "steps_lo": (steps & 255).astype(np.uint8), "bounds": np.stack([lo, hi]),
              "about": np.array(json.dumps(_describe(model_hash, split, len(emb), m.settings, m.quality, m.seconds)))}
    if m.pca is not None:
        arrays["pca_mean"], arrays["pca_components"] = m.pca
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


_warned: set = set()  # cache folders already reported as unusable (one log line each)


def store_bytes(path: Path, data: bytes) -> bool:
    """Write a map file atomically (a temporary file in the same folder, then a rename). A cache
    that cannot be written (the folder is a file, a disk is full) is logged once and skipped: the
    page works without it. Returns whether it was written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True
    except OSError as e:
        if str(path.parent) not in _warned:
            _warned.add(str(path.parent))
            logging.getLogger(__name__).warning("maps are not cached in %s (%s); they are computed when asked",
                                                path.parent, e.strerror or e)
        return False


def write(path: Path, m: Map, model_hash: str, split: str) -> bool:
    return store_bytes(path, encode(m, model_hash, split))


MAX_FILE = 64 * 1024 * 1024  # far above any map of 60,000 points
_SHAPES = {"steps_hi": ("|u1", 2), "steps_lo": ("|u1", 2), "bounds": ("<f8", 2), "pca_mean": ("<f4", 1),
           "pca_components": ("<f4", 2)}


def read_regular(path: Path) -> bytes | None:
    """The bytes of `path` if it is a regular file of a sensible size; None for anything else (a
    folder, a FIFO, a device: opened without blocking and refused before any read)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE:
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    except OSError:
        return None
    finally:
        os.close(fd)


def _arrays(data: bytes, n: int, method: str) -> dict | None:
    """The map's arrays from .npz bytes, every declared dtype and shape checked before a single
    array is read (a small file may declare a huge one); None when anything differs."""
    want = {"steps_hi": (n, 2), "steps_lo": (n, 2), "bounds": (2, 2)}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = {i.filename[:-4]: i for i in z.infolist() if i.filename.endswith(".npy")}
        if not {"about", *want} <= set(names) or (method == "pca") != ({"pca_mean", "pca_components"} <= set(names)):
            return None
        out = {}
        for key, info in names.items():
            if key not in want and key not in ("about", "pca_mean", "pca_components"):
                return None
            if info.file_size > MAX_FILE:
                return None
            with z.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version not in ((1, 0), (2, 0)):
                    return None
                reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, fortran, dtype = reader(f)
                if key == "about":
                    if dtype.kind != "U" or shape != () or dtype.itemsize > 65536:
                        return None
                else:
                    code, dims = _SHAPES[key]
                    if dtype.str != code or len(shape) != dims or fortran or (key in want and shape != want[key]):
                        return None
                    if key.startswith("pca") and (max(shape) > 64 or min(shape) < 1):
                        return None
                out[key] = np.lib.format.read_array(z.open(info), allow_pickle=False)
    return out


def read(path: Path, model_hash: str, split: str, n: int, settings: MapSettings, source: str) -> Map | None:
    """The map in `path` if it is intact and exactly what is asked for, else None (never raises,
    never blocks: only a regular file is read)."""
    return parse(read_regular(path), model_hash, split, n, settings, source)


def parse(data: bytes | None, model_hash: str, split: str, n: int, settings: MapSettings, source: str) -> Map | None:
    """The map a file's bytes hold if they are intact and exactly what is asked for, else None (never raises)."""
    start = time.perf_counter()
    if data is None:
        return None
    try:
        z = _arrays(data, n, settings.method)
        if z is None:
            return None
        about = json.loads(str(z["about"]))
        if not isinstance(about, dict) or (about.get("format"), about.get("version"), about.get("model"),
                                           about.get("split"), about.get("n")) != (FORMAT, VERSION, model_hash, split, n) \
                or about.get("settings") != asdict(settings):
            return None
        bounds = z["bounds"]
        if not np.isfinite(bounds).all() or (bounds[1] < bounds[0]).any() or np.abs(bounds).max() > MAX_COORDINATE:
            return None
        steps = z["steps_hi"].astype(np.float64) * 256 + z["steps_lo"]
        if steps.max(initial=0) > LEVELS:
            return None
        embedding = (bounds[0] + steps / LEVELS * (bounds[1] - bounds[0])).astype(np.float32)
        pca = None
        if settings.method == "pca":
            pca = (z["pca_mean"], z["pca_components"])
            if pca[1].shape != (2, pca[0].shape[0]) or not all(np.isfinite(a).all() for a in pca):
                return None
        q = about.get("quality") if isinstance(about.get("quality"), dict) else {}
        q = {k: float(q[k]) for k in QUALITY if isinstance(q.get(k), (int, float)) and not isinstance(q.get(k), bool)
             and math.isfinite(q[k])}
        if len(q) != len(QUALITY):
            q = {}  # measured again when it is shown
        return Map(embedding, settings, time.perf_counter() - start, source, q, pca)
    except Exception:  # damaged or foreign in some other way: never trusted, never a crash
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
    if found is None and path.is_file():
        try:
            path.unlink()  # damaged or stale: it will be recomputed
        except OSError:
            pass
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
            if p.is_file():
                p.unlink(missing_ok=True)
