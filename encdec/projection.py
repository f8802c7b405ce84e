"""2-D maps of codes: UMAP, PCA, or the raw plane of a 2-number code.

`Projector` follows the scikit-learn pattern: configure, `fit(codes)`, then `transform(new)` to
place new codes (a drawn digit) on the map. Placing never runs UMAP's optimiser: a new code goes
to the distance-weighted mean of the map positions of its nearest codes (`place`), which is how
UMAP itself starts `transform`, and needs nothing but the codes and the map (no compiled code,
no pickled reducer). PCA places exactly; the raw plane is the code itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

METHODS = ("umap", "pca", "raw")
METRICS = ("euclidean", "cosine", "manhattan")
# Two directions between codes and map positions, each an inverse-distance-weighted mean of neighbours:
PLACE_NEIGHBOURS = 10  # a new code's place on a map: the mean of its nearest codes' map positions (`place`)
CODE_NEIGHBOURS = 8    # a place's code: the mean of the codes of its nearest map points (`code_at`; live.js codeAt)


@dataclass(frozen=True)
class MapSettings:
    method: str = "umap"
    n_neighbors: int = 15
    min_dist: float = 0.1
    metric: str = "euclidean"
    seed: int | None = 0      # None: parallel, not reproducible
    n_epochs: int = 300       # UMAP's optimiser steps, at most its own default (500 up to 10,000 points, else
                              # 200): 300 kept trustworthiness and 5-NN accuracy at the 500-step level (bench)

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"Unknown map method {str(self.method)[:40]!r}; choose one of {', '.join(METHODS)}.")
        if not 2 <= self.n_neighbors <= 200:
            raise ValueError(f"Neighbours must be from 2 to 200; got {self.n_neighbors}.")
        if not 0.0 <= self.min_dist <= 1.0:
            raise ValueError(f"Minimum distance must be from 0 to 1; got {self.min_dist}.")
        if self.metric not in METRICS:
            raise ValueError(f"Unknown metric {str(self.metric)[:40]!r}; choose one of {', '.join(METRICS)}.")
        if not 10 <= self.n_epochs <= 2000:
            raise ValueError(f"UMAP epochs must be from 10 to 2000; got {self.n_epochs}.")

    @classmethod
    def for_method(cls, method: str, **umap) -> "MapSettings":
        """Settings for `method`; UMAP's own settings only matter (and are only kept) for UMAP."""
        return cls(method, **umap) if method == "umap" else cls(method)


def nearest(points, queries, k: int, exclude_self: bool = False, chunk: int = 2048,
            with_distances: bool = False):
    """Indices (M, k) of the k nearest `points` to each query (Euclidean), in chunks;
    with `with_distances`, (distances, indices)."""
    points, queries = torch.as_tensor(points).float(), torch.as_tensor(queries).float()
    dist, idx = [], []
    for i in range(0, len(queries), chunk):
        d = torch.cdist(queries[i:i + chunk], points)
        if exclude_self:
            d[torch.arange(len(d)), torch.arange(i, i + len(d))] = float("inf")
        top = d.topk(min(k, points.shape[0]), largest=False)
        dist.append(top.values)
        idx.append(top.indices)
    return (torch.cat(dist), torch.cat(idx)) if with_distances else torch.cat(idx)


def place(codes, embedding, new_codes, k: int = PLACE_NEIGHBOURS, exclude_self: bool = False) -> np.ndarray:
    """Map positions (M, 2) for new codes (M, dim): the mean of the map positions of their `k`
    nearest codes, each weighted by 1 / distance (a code equal to a mapped one lands on it)."""
    embedding = torch.as_tensor(np.asarray(embedding, dtype=np.float32))
    d, idx = nearest(codes, new_codes, k, exclude_self=exclude_self, with_distances=True)  # (M, k)
    w = 1.0 / d.clamp_min(1e-6)
    w = w / w.sum(1, keepdim=True)
    return (w.unsqueeze(2) * embedding[idx]).sum(1).numpy()


def code_at(embedding, codes, x: float, y: float, k: int = CODE_NEIGHBOURS) -> np.ndarray:
    """The code (dim,) of any place (x, y) on a map: the mean of the codes of its `k` nearest map points,
    each weighted by 1 / distance (on a point, that point's code). The page does the same (codeAt)."""
    xy = np.asarray(embedding, dtype=np.float64)
    d = np.sqrt(((xy - np.array([x, y])) ** 2).sum(1))
    near = np.argsort(d, kind="stable")[:k]
    w = 1.0 / np.maximum(d[near], 1e-9)
    return (w[:, None] * np.asarray(codes, dtype=np.float64)[near]).sum(0) / w.sum()


class Projector:
    """Codes (N, dim) -> map coordinates (N, 2); `transform` places new codes on the fitted map."""

    def __init__(self, settings: MapSettings = MapSettings()):
        self.settings = settings
        self.codes_: np.ndarray | None = None
        self.embedding_: np.ndarray | None = None
        self.pca_: tuple[np.ndarray, np.ndarray] | None = None  # (mean (dim,), components (2, dim))

    def fit(self, codes) -> "Projector":
        s = self.settings
        codes = np.asarray(codes, dtype=np.float32)
        if not np.isfinite(codes).all():
            raise ValueError("Some codes are not finite numbers, so they cannot be mapped.")
        self.codes_ = codes
        if s.method == "raw":
            if codes.shape[1] != 2:
                raise ValueError(f"The raw code plane needs a 2-dimensional code; this one has {codes.shape[1]}.")
            self.embedding_ = codes.copy()
        elif s.method == "pca":
            mean = codes.mean(0)
            _, _, vt = np.linalg.svd(codes - mean, full_matrices=False)
            components = vt[:2]
            components *= np.sign(components[:, :1] + 1e-12)  # a fixed orientation for the same codes
            self.pca_ = (mean, components.astype(np.float32))
            self.embedding_ = ((codes - mean) @ components.T).astype(np.float32)
        else:
            import umap  # imported only when a UMAP is actually fitted (its first import compiles code)

            epochs = min(s.n_epochs, 500 if len(codes) <= 10_000 else 200)
            reducer = umap.UMAP(n_neighbors=s.n_neighbors, min_dist=s.min_dist, metric=s.metric,
                                n_epochs=epochs, random_state=s.seed, n_jobs=1 if s.seed is not None else -1)
            self.embedding_ = reducer.fit_transform(codes).astype(np.float32)
        return self

    def transform(self, codes) -> np.ndarray:
        codes = np.asarray(codes, dtype=np.float32).reshape(-1, self.codes_.shape[1])
        if self.settings.method == "raw":
            return codes.copy()
        if self.settings.method == "pca":
            mean, components = self.pca_
            return ((codes - mean) @ components.T).astype(np.float32)
        return place(self.codes_, self.embedding_, codes)


# -- how much a map keeps ---------------------------------------------------------------------

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


def quality(codes, embedding, labels) -> dict:
    """What a map keeps: 5-NN label accuracy in code space and on the map, and trustworthiness."""
    return {"knn_code": knn_accuracy(codes, labels), "knn_map": knn_accuracy(np.asarray(embedding), labels),
            "trust": trustworthiness(codes, embedding)}


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
