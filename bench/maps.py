"""Map benchmarks (part of `python -m bench`), each figure from fresh processes.

- first map on a fresh install: numba's cache empty (NUMBA_CACHE_DIR pointed at a new folder) and
  an empty ENCDEC_HOME, for the shipped model mnist-cnn-ae-16, 10,000 test and 60,000 training codes:
  before = what the app did until now (import UMAP, fit with its defaults: 500 epochs up to 10,000
  points, seeded, one thread); after = the shipped map file.
- UMAP settings on warm numba: fit time, trustworthiness and 5-NN accuracy on the map.
- placing one new code: before = UMAP's own `transform` (its first call compiles), after = `place`.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODEL = HERE.parent / "models" / "mnist-cnn-ae-16.safetensors"

_PRELUDE = """
import json, sys, time
T0 = time.perf_counter()
import numpy as np, torch
import encdec
from encdec import latent, maps, projection
model_path = sys.argv[1]; split = sys.argv[2]; limit = int(sys.argv[3])
model = encdec.load(model_path)
data = encdec.load_dataset("mnist").split(split).head(limit)
codes = latent.encode_split(model, data).numpy(); labels = data.labels.numpy()
T1 = time.perf_counter()
"""

_BEFORE = _PRELUDE + """
import umap
reducer = umap.UMAP(n_neighbors=15, min_dist=0.1, random_state=0, n_jobs=1)
xy = reducer.fit_transform(codes)
T2 = time.perf_counter()
reducer.transform(codes[:1]); T3 = time.perf_counter()
place = []
for i in range(20):
    t = time.perf_counter(); reducer.transform(codes[i + 1:i + 2]); place.append(time.perf_counter() - t)
print(json.dumps({"map": T2 - T1, "total": T2 - T0, "first_place": T3 - T2, "place": float(np.median(place))}))
"""

_AFTER = _PRELUDE + """
m = maps.find(__import__("pathlib").Path(model_path), maps.file_hash(model_path), split, len(codes), maps.DEFAULT)
if m is None:  # a shortened (tiny) run has no shipped map of its size: make one the same way
    m = maps.compute(codes, projection.MapSettings("pca"))
T2 = time.perf_counter()
p = m.projector(codes); p.transform(codes[:1]); T3 = time.perf_counter()
place = []
for i in range(20):
    t = time.perf_counter(); p.transform(codes[i + 1:i + 2]); place.append(time.perf_counter() - t)
print(json.dumps({"map": T2 - T1, "total": T2 - T0, "first_place": T3 - T2, "place": float(np.median(place))}))
"""

_SETTINGS = _PRELUDE + """
import umap
s = json.loads(sys.argv[4])
umap.UMAP(n_neighbors=15, random_state=0, n_jobs=1, n_epochs=10).fit_transform(codes)  # compile every path first
t = time.perf_counter()
xy = umap.UMAP(**s).fit_transform(codes)
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, **projection.quality(codes, xy, labels)}))
"""

# Candidate UMAP settings: the old default, then fewer epochs and the other speed knobs.
CANDIDATES = [
    ("500 epochs, seeded, 1 thread (before)", dict(n_neighbors=15, min_dist=0.1, random_state=0, n_jobs=1)),
    ("500 epochs, seed 1", dict(n_neighbors=15, min_dist=0.1, random_state=1, n_jobs=1)),
    ("300 epochs, seeded, 1 thread (chosen)", dict(n_neighbors=15, min_dist=0.1, random_state=0, n_jobs=1, n_epochs=300)),
    ("300 epochs, seed 1", dict(n_neighbors=15, min_dist=0.1, random_state=1, n_jobs=1, n_epochs=300)),
    ("200 epochs, seeded, 1 thread", dict(n_neighbors=15, min_dist=0.1, random_state=0, n_jobs=1, n_epochs=200)),
    ("200 epochs, seed 1", dict(n_neighbors=15, min_dist=0.1, random_state=1, n_jobs=1, n_epochs=200)),
    ("200 epochs, unseeded, all cores", dict(n_neighbors=15, min_dist=0.1, n_jobs=-1, n_epochs=200)),
    ("200 epochs, seeded, low_memory=False", dict(n_neighbors=15, min_dist=0.1, random_state=0, n_jobs=1, n_epochs=200,
                                                  low_memory=False)),
    ("200 epochs, 10 neighbours", dict(n_neighbors=10, min_dist=0.1, random_state=0, n_jobs=1, n_epochs=200)),
]


def _run(script: str, *args, fresh_numba: bool) -> dict:
    import os

    env = dict(os.environ)
    home = tempfile.mkdtemp(prefix="encdec-bench-home-")
    env["ENCDEC_HOME"] = home
    if fresh_numba:
        env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="encdec-bench-numba-")
    out = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True,
                         cwd=HERE.parent, env=env)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def first_map(splits=("test", "train"), limit: int = 10**6, fresh_numba: bool = True) -> list[tuple]:
    """(split, before, after) with fresh numba caches."""
    return [(split, _run(_BEFORE, MODEL, split, limit, fresh_numba=fresh_numba),
             _run(_AFTER, MODEL, split, limit, fresh_numba=fresh_numba)) for split in splits]


def settings_table(split: str = "test", candidates=CANDIDATES, limit: int = 10**6) -> list[tuple]:
    return [(name, _run(_SETTINGS, MODEL, split, limit, json.dumps(s), fresh_numba=False)) for name, s in candidates]


def report(tiny: bool = False) -> list[str]:
    """Markdown lines; `tiny` shrinks everything (1,000 points, warm numba) to prove the code runs."""
    limit = 1000 if tiny else 10**6
    n = {"test": min(limit, 10000), "train": min(limit, 60000)}
    lines = ["### Latent maps: the first map on a fresh install (mnist-cnn-ae-16, fresh processes, numba's cache empty)", "",
             "Before: import UMAP and fit it with its defaults (500 epochs up to 10,000 points), seeded, one thread, "
             "then place a new code with UMAP's `transform`. After: read the shipped map, place with the "
             "distance-weighted mean of its 10 nearest codes' map positions. Times after the codes are encoded.", "",
             "| points | map shown, before | map shown, after | first placement, before | first placement, after | "
             "later placements, before | after |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for split, b, a in first_map(("test",) if tiny else ("test", "train"), limit, fresh_numba=not tiny):
        lines.append(f"| {n[split]:,} | {b['map']:.1f} s | {a['map'] * 1000:.0f} ms | {b['first_place']:.1f} s | "
                     f"{a['first_place'] * 1000:.1f} ms | {b['place'] * 1000:.1f} ms | {a['place'] * 1000:.2f} ms |")
    lines += ["", "### Latent maps: UMAP settings on 10,000 test codes (numba warm, 2 cores)", "",
              "| settings | fit | trustworthiness | 5-NN accuracy on the map |", "|---|---:|---:|---:|"]
    for name, r in settings_table("test", CANDIDATES[:2] if tiny else CANDIDATES, limit):
        lines.append(f"| {name} | {r['seconds']:.1f} s | {r['trust']:.3f} | {r['knn_map']:.1%} |")
    return lines
