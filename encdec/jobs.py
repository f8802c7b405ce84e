"""What the app asks of the engine, and what it does with what comes back.

Each function here submits one piece of work (work.py) to an engine (engine.py) and says what to do
with its outcome in the app's own process: save a new model under a free name in the right store,
put its map and digest in the cache, release the workspace's reserved place however the job ends.
The work itself never runs here.
"""
from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import numpy as np

from . import maps
from .engine import Engine, Job
from .models import ModelConfig
from .projection import MapSettings
from .store import ModelStore
from .train import TrainConfig
from .work import Outcome, Spec

log = logging.getLogger(__name__)


def _saving(store: ModelStore):
    """An on_done that saves the new model (and puts its map in the cache); returns the saved name."""
    def on_done(job: Job, outcome: Outcome) -> str:
        name = store.save_bytes(outcome.checkpoint, job.name)
        model_hash = maps.bytes_hash(outcome.checkpoint)
        if outcome.map is not None:
            maps.store_bytes(maps.cache_path(model_hash, "test", map_size(outcome.map), maps.DEFAULT), outcome.map)
        if outcome.digest is not None:
            maps.store_bytes(digest_path(model_hash, "test"), _stamped(outcome.digest, model_hash, "test"))
        return name
    return on_done


def _holding(job: Job, reservation) -> Job:
    if reservation is not None:
        job.on_end.append(lambda _: reservation.release())
    return job


def train(engine: Engine, config: ModelConfig, train_config: TrainConfig, store: ModelStore, name: str, *,
          owner: str = "", reservation=None, gpu: bool = False) -> Job:
    """A training, its map, and its save under a free name like `name`; its result is the saved name."""
    spec = Spec("train", {"config": config.to_dict(), "train": train_config.to_dict()}, gpu=gpu)
    return _holding(engine.submit(spec, "train", owner=owner, name=name, on_done=_saving(store)), reservation)


def probe(engine: Engine, model_path: Path, *, owner: str = "") -> Job:
    """A linear probe on a frozen autoencoder's code; its result is the table (transfer.linear_probe)."""
    return engine.submit(Spec("probe", {}, Path(model_path).read_bytes()), "train", owner=owner, name="probe")


def probe_model(engine: Engine, model_path: Path, per_class: int | None, store: ModelStore, name: str,
                source_name: str, *, owner: str = "", reservation=None) -> Job:
    """The linear probe with `per_class` labels a class, saved as a classifier."""
    spec = Spec("probe_model", {"per_class": per_class, "source_name": source_name}, Path(model_path).read_bytes())
    return _holding(engine.submit(spec, "train", owner=owner, name=name, on_done=_saving(store)), reservation)


def new_decoder(engine: Engine, model_path: Path, decoder: str, epochs: int, limit: int | None, store: ModelStore,
                name: str, source_name: str, *, owner: str = "", reservation=None) -> Job:
    """A new image decoder trained on a frozen classifier's code, saved as an autoencoder."""
    spec = Spec("decoder", {"decoder": decoder, "epochs": epochs, "limit": limit, "source_name": source_name},
                Path(model_path).read_bytes())
    return _holding(engine.submit(spec, "train", owner=owner, name=name, on_done=_saving(store)), reservation)


def map_fit(engine: Engine, model_path: Path, model_hash: str, split: str, n: int, map_settings: MapSettings, *,
            owner: str = "") -> Job:
    """A map of a split's codes with these settings, put in the cache (one waiting fit per visitor); its
    result is the map itself, for a cache that cannot be written."""
    def on_done(job: Job, outcome: Outcome):
        maps.store_bytes(maps.cache_path(model_hash, split, n, map_settings), outcome.map)
        return maps.parse(outcome.map, model_hash, split, n, map_settings, "computed")
    spec = Spec("map", {"split": split, "settings": map_settings.__dict__.copy()}, Path(model_path).read_bytes())
    return engine.submit(spec, "maps", owner=owner, on_done=on_done, replace="map")


# -- digests: what the pages show of a model version, computed once for everyone ----------------------------

DIGEST_VERSION = 1
DIGEST_KEYS = {"codes": 2, "low": 1, "high": 1, "mean": 1, "effect": 1, "order": 1}


def digest_path(model_hash: str, split: str) -> Path:
    return maps.cache_dir() / f"digest-{DIGEST_VERSION}-{model_hash}-{split}.npz"


def shipped_digest_path(model_path: Path, split: str) -> Path:
    """models/NAME.safetensors -> models/NAME.digest-SPLIT.npz (shipped for the test split)."""
    return Path(model_path).with_name(f"{Path(model_path).stem}.digest-{split}.npz")


def digest(engine: Engine, model_path: Path, model_hash: str, split: str) -> Job:
    """A model version's digest (work.digest), put in the cache when it comes; its result is the digest's
    arrays, for a cache that cannot be written."""
    def on_done(job: Job, outcome: Outcome):
        stamped = _stamped(outcome.digest, model_hash, split)
        maps.store_bytes(digest_path(model_hash, split), stamped)
        with np.load(io.BytesIO(stamped), allow_pickle=False) as z:
            return {k: z[k] for k in z.files if k != "about"}
    spec = Spec("digest", {"split": split}, Path(model_path).read_bytes())
    return engine.submit(spec, "maps", owner="", name=f"digest {split}", on_done=on_done)


def _stamped(data: bytes, model_hash: str, split: str) -> bytes:
    """A digest's arrays with what they belong to (so a file of another model is never taken for this one's)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        arrays = dict(z)
    arrays["about"] = np.array(json.dumps({"version": DIGEST_VERSION, "model": model_hash, "split": split}))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def write_digest(path: Path, arrays: dict, model_hash: str, split: str, half: bool = False) -> None:
    """A digest's file (`half`: the codes as float16, half the size, as the shipped ones are)."""
    if half:
        arrays = {**arrays, "codes": arrays["codes"].astype(np.float16)}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    maps.store_bytes(path, _stamped(buf.getvalue(), model_hash, split))


def read_digest(model_path: Path, model_hash: str, split: str, n: int, code_dim: int) -> dict | None:
    """A model version's digest: shipped beside it or in the cache, checked (shapes, finiteness, the
    model it belongs to); None when there is none or it is damaged (then it is made again)."""
    for path in (shipped_digest_path(model_path, split), digest_path(model_hash, split)):
        data = maps.read_regular(path)
        if data is None:
            continue
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                about = json.loads(str(z["about"]))
                if about != {"version": DIGEST_VERSION, "model": model_hash, "split": split}:
                    continue
                out = {k: z[k] for k in z.files if k != "about"}
            if out["codes"].shape != (n, code_dim):
                continue
            if "order" in out:
                if any(out[k].shape != (code_dim,) for k in DIGEST_KEYS if k != "codes") or \
                        sorted(out["order"].tolist()) != list(range(code_dim)):
                    continue
            for k, shape in (("predictions", (n,)), ("errors", (n,))):
                if k in out and out[k].shape != shape:
                    break
            else:
                out["codes"] = out["codes"].astype(np.float32)
                return out
        except Exception:  # noqa: BLE001 - damaged: made again
            log.info("ignoring a damaged digest %s", path)
    return None


def map_size(data: bytes) -> int:
    """The number of points of a map's .npz bytes (from its description)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return int(json.loads(str(z["about"]))["n"])


def warm(engine: Engine, infos, split: str = "test") -> list[Job]:
    """Digests of these models that are neither shipped nor cached, queued now (a server starting up)."""
    from .data import load_dataset

    queued = []
    for info in infos:
        if info.config is None or info.error:
            continue
        n = len(load_dataset(info.config.dataset).split(split))
        model_hash = maps.file_hash(info.path)
        if read_digest(info.path, model_hash, split, n, info.config.code_dim) is None:
            queued.append(digest(engine, info.path, model_hash, split))
    return queued

