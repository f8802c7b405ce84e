"""2-D maps of codes: UMAP (or PCA, or the raw plane of a 2-D code), cached on disk.

`Projector` follows the scikit-learn pattern: configure, `fit(codes)`, then `transform(new)`
to place new codes (a drawn digit) on an existing map. `project` adds the disk cache, keyed
by the model file's hash, the split, the number of points and the settings.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

METHODS = ("umap", "pca", "raw")
METRICS = ("euclidean", "cosine", "manhattan")


@dataclass(frozen=True)
class MapSettings:
    method: str = "umap"
    n_neighbors: int = 15
    min_dist: float = 0.1
    metric: str = "euclidean"
    seed: int | None = 0  # None: faster, parallel, not reproducible

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"Unknown map method {self.method!r}; choose one of {', '.join(METHODS)}.")
        if not 2 <= self.n_neighbors <= 200:
            raise ValueError(f"Neighbours must be from 2 to 200; got {self.n_neighbors}.")
        if not 0.0 <= self.min_dist <= 1.0:
            raise ValueError(f"Minimum distance must be from 0 to 1; got {self.min_dist}.")
        if self.metric not in METRICS:
            raise ValueError(f"Unknown metric {self.metric!r}; choose one of {', '.join(METRICS)}.")


class Projector:
    """Codes (N, k) -> map coordinates (N, 2)."""

    def __init__(self, settings: MapSettings = MapSettings()):
        self.settings = settings
        self.reducer = None
        self.embedding_: np.ndarray | None = None

    def fit(self, codes: np.ndarray) -> "Projector":
        s = self.settings
        codes = np.asarray(codes, dtype=np.float32)
        if s.method == "raw":
            if codes.shape[1] != 2:
                raise ValueError(f"The raw code plane needs a 2-dimensional code; this one has {codes.shape[1]}.")
            self.embedding_ = codes.copy()
        elif s.method == "pca":
            from sklearn.decomposition import PCA

            self.reducer = PCA(n_components=2, random_state=0).fit(codes)
            self.embedding_ = self.reducer.transform(codes).astype(np.float32)
        else:
            import umap

            self.reducer = umap.UMAP(n_neighbors=s.n_neighbors, min_dist=s.min_dist, metric=s.metric,
                                     random_state=s.seed, n_jobs=1 if s.seed is not None else -1)
            self.embedding_ = self.reducer.fit_transform(codes).astype(np.float32)
        return self

    def transform(self, codes: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes, dtype=np.float32).reshape(-1, np.asarray(codes).shape[-1])
        if self.settings.method == "raw":
            return codes.copy()
        return self.reducer.transform(codes).astype(np.float32)


# -- the disk cache -------------------------------------------------------------------------

def cache_dir() -> Path:
    """`$ENCDEC_HOME/cache` if ENCDEC_HOME is set, else `~/.encdec/cache`."""
    home = os.environ.get("ENCDEC_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".encdec") / "cache"


def file_hash(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def cache_key(model_hash: str, split: str, n: int, settings: MapSettings) -> str:
    text = json.dumps({"model": model_hash, "split": split, "n": n, **asdict(settings)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass
class Map:
    projector: Projector
    embedding: np.ndarray  # (N, 2)
    seconds: float         # time to compute, or to load from the cache
    cached: bool


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def project(codes: torch.Tensor | np.ndarray, settings: MapSettings, key: str | None = None,
            folder: Path | None = None) -> Map:
    """Fit a map of `codes`, or load it from the cache when `key` was computed before.

    The cache holds only files this function wrote itself (the fitted reducer is pickled so that
    new points can be placed after a restart); it never reads files a user supplies."""
    folder = folder or cache_dir()
    start = time.perf_counter()
    if key is not None:
        emb_path, red_path = folder / f"{key}.npz", folder / f"{key}.reducer.pkl"
        if emb_path.is_file() and red_path.is_file():
            try:
                embedding = np.load(emb_path, allow_pickle=False)["embedding"]
                with red_path.open("rb") as f:
                    projector = pickle.load(f)
                return Map(projector, embedding, time.perf_counter() - start, True)
            except Exception:  # a damaged cache entry is recomputed
                emb_path.unlink(missing_ok=True)
                red_path.unlink(missing_ok=True)
    codes = codes.numpy() if isinstance(codes, torch.Tensor) else np.asarray(codes)
    projector = Projector(settings).fit(codes)
    embedding = projector.embedding_
    if key is not None:
        folder.mkdir(parents=True, exist_ok=True)
        _atomic_write(red_path, lambda f: pickle.dump(projector, f, protocol=pickle.HIGHEST_PROTOCOL))
        _atomic_write(emb_path, lambda f: np.savez(f, embedding=embedding))
    return Map(projector, embedding, time.perf_counter() - start, False)


# -- how much a map keeps ---------------------------------------------------------------------

def nearest(points: torch.Tensor, queries: torch.Tensor, k: int, exclude_self: bool = False,
            chunk: int = 2048) -> torch.Tensor:
    """Indices (M, k) of the k nearest `points` to each query (Euclidean), in chunks."""
    points, queries = torch.as_tensor(points).float(), torch.as_tensor(queries).float()
    out = []
    for i in range(0, len(queries), chunk):
        d = torch.cdist(queries[i:i + chunk], points)
        if exclude_self:
            d[torch.arange(len(d)), torch.arange(i, i + len(d))] = float("inf")
        out.append(d.topk(k, largest=False).indices)
    return torch.cat(out)


def knn_accuracy(points, labels, k: int = 5) -> float:
    """Leave-one-out accuracy of a k-nearest-neighbour vote on labels."""
    labels = torch.as_tensor(labels)
    idx = nearest(points, points, k, exclude_self=True)
    votes = torch.mode(labels[idx], dim=1).values
    return float((votes == labels).float().mean())


def trustworthiness(codes, embedding, n: int = 2000, k: int = 5, seed: int = 0) -> float:
    """sklearn's trustworthiness on a seeded subsample (1 = neighbours in the map were neighbours in code space)."""
    from sklearn.manifold import trustworthiness as tw

    codes, embedding = np.asarray(codes), np.asarray(embedding)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(codes), size=min(n, len(codes)), replace=False)
    return float(tw(codes[pick], embedding[pick], n_neighbors=k))


def selected_indices(points: list[dict]) -> list[int]:
    """Dataset indices of the points a user clicked or lassoed on a map (from Plotly's selection
    state, where each point carries its index as customdata), in order, without repeats."""
    out, seen = [], set()
    for p in points or []:
        data = p.get("customdata")
        if isinstance(data, (list, tuple)):
            data = data[0] if data else None
        if data is None:
            continue
        i = int(data)
        if i not in seen:
            seen.add(i)
            out.append(i)
    return out
