"""Every value the app keeps between script runs, for everyone, in one place: one function per value.

Whatever belongs to a model is keyed on the version of its file (`ModelInfo.version`: path, time and
size, read at each listing), so a model deleted and retrained under the same name never shows a stale
code, map or picture; everything else is computed once per model version for all visitors. What takes
long (a model version's digest, a map fit) is never computed here: it is asked of the engine, found
again here once it is in the cache, and meanwhile the page says it is coming.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import streamlit as st
import torch
from safetensors.torch import save as safetensors_bytes

from .. import engine, jobs, maps
from ..checkpoint import load, read_frames
from ..data import Dataset, Split, load_dataset
from ..latent import Ranges
from ..projection import MapSettings
from ..settings import data_dir
from ..store import ModelInfo
from ..webmodel import Unsupported, weights_blob
from . import blobs

BY_VERSION = {ModelInfo: lambda info: info.version}


@st.cache_resource(show_spinner=False)
def guesses():
    """Wrong teacher passwords slow down, per browser and for the whole server (workspace.GuessLimit):
    one record for every session of this server."""
    from ..workspace import GuessLimit

    return GuessLimit()


# -- datasets ---------------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def _dataset(name: str, folder: str) -> Dataset:
    return load_dataset(name, folder)


def dataset(name: str) -> Dataset:
    return _dataset(name, str(data_dir().resolve()))


@st.cache_resource(show_spinner=False)
def _split(name: str, split_name: str, folder: str) -> Split:
    return _dataset(name, folder).split(split_name)


def split(dataset_name: str, name: str) -> Split:
    """Images and labels of a split: "test" (10,000) or "train" (all 60,000)."""
    return _split(dataset_name, name, str(data_dir().resolve()))


@st.cache_data(show_spinner=False)
def arithmetic_example(dataset_name: str) -> tuple[int, int, int]:
    """The editor's default A - B + C: a slanted and an upright 7, and an upright 1 (arithmetic.arithmetic_example)."""
    from ..arithmetic import arithmetic_example as example

    test = split(dataset_name, "test")
    return example(test.labels, test.images)


@st.cache_data(show_spinner=False)
def bold_example(dataset_name: str, bold: int, other: int) -> list[int]:
    """The lesson's arithmetic: a bold and a thin digit of one class and a thin one of another (lesson.bold_example)."""
    from ..lesson import bold_example as example

    return example(split(dataset_name, "test"), bold, other)


@st.cache_data(show_spinner=False, ttl=60)
def lesson_file(models_dir: str) -> dict:
    """What `python -m encdec lesson` worked out for the shipped models (read again after a minute at most)."""
    from ..lesson import read

    return read(Path(models_dir))


def atlas_url(dataset_name: str, split_name: str) -> str:
    """The address of a split's digits (8-bit pictures and labels) for the page: one blob per dataset and split."""
    def make():
        s = split(dataset_name, split_name)
        return safetensors_bytes({"images": s.images.reshape(len(s), 784).contiguous(),
                                  "labels": s.labels.to(torch.uint8)}, metadata={"kind": "atlas"})
    return blobs.put(blobs.key_of("atlas", dataset_name, split_name, str(data_dir().resolve())), make, compress=True)


# -- a model --------------------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False, max_entries=24, hash_funcs=BY_VERSION)
def model(info: ModelInfo):
    return load(info.path)


@st.cache_resource(show_spinner=False, max_entries=128, hash_funcs=BY_VERSION)
def model_hash(info: ModelInfo) -> str:
    return maps.file_hash(info.path)


@st.cache_resource(show_spinner=False, max_entries=64, hash_funcs=BY_VERSION)
def weights_url(info: ModelInfo) -> str | None:
    """The address of the model's weights and plan for the page; None when the page cannot run it."""
    try:
        data = weights_blob(model(info), model_hash(info))
    except Unsupported:
        return None
    return blobs.put(blobs.key_of("model", model_hash(info)), lambda: data)


@st.cache_resource(show_spinner=False, max_entries=64, hash_funcs=BY_VERSION)
def frames_url(info: ModelInfo) -> str | None:
    """The address of the code space as the model trained (None when it has none)."""
    recorded = read_frames(info.path)
    if not recorded:
        return None
    tensors = {"xy": recorded["frames.xy"].float().contiguous(), "labels": recorded["frames.labels"],
               "when": recorded["frames.when"]}
    return blobs.put(blobs.key_of("frames", model_hash(info)), lambda: safetensors_bytes(tensors, metadata={"kind": "frames"}))


@st.cache_resource(show_spinner=False, max_entries=64, hash_funcs=BY_VERSION)
def first_digit(info: ModelInfo) -> tuple[torch.Tensor, list[float], object]:
    """The first test digit through the model: the image (28, 28), its code, and what the decoder makes
    of it (an image, or a classifier's class probabilities as a list)."""
    from .. import latent

    m = model(info)
    x = split(m.config.dataset, "test").floats(0)
    code = latent.encode(m, x)
    out = latent.decoder_output(m, code)[0]
    return x[0, 0], [round(float(v), 4) for v in code[0]], out.tolist() if m.is_classifier else out


@st.cache_data(show_spinner=False, max_entries=64)
def _seconds_per_sample(config) -> float:
    """A training step's time per sample for `config`, measured once on a few small batches."""
    from ..models import build
    from ..train import time_per_sample

    return time_per_sample(build(config))


def time_estimate(config, epochs: int, size: int) -> float:
    """Seconds a training of `config` would take for these settings."""
    from ..train import TrainConfig, estimate_seconds

    return estimate_seconds(_seconds_per_sample(config), TrainConfig(epochs=epochs, limit=size), size)


@st.cache_data(show_spinner=False, max_entries=32)
def ink_of_picture(data: bytes) -> np.ndarray:
    """An uploaded picture as ink, read once per picture (keyed by its content)."""
    from ..digitize import ink_from_image

    return ink_from_image(data)


# -- what the pages show of a model version: its digest ---------------------------------------------------

_pending: dict = {}  # (model hash, split) -> the engine's Job making that digest
_pending_lock = threading.Lock()


@st.cache_resource(show_spinner=False, max_entries=48, hash_funcs=BY_VERSION)
def _digest_found(info: ModelInfo, split_name: str) -> dict:
    """A digest that is there (shipped or cached); LookupError otherwise (a raise is not kept, so the
    next call looks again)."""
    n = len(split(info.config.dataset, split_name))
    found = jobs.read_digest(info.path, model_hash(info), split_name, n, info.config.code_dim)
    if found is None:
        raise LookupError(info.name)
    return found


def digest(info: ModelInfo, split_name: str = "test") -> tuple[dict | None, object]:
    """The model version's digest (work.digest: codes, slider ranges, the order of the dimensions, the
    predictions or errors), or (None, the Job making it): one job for everyone who asks."""
    try:
        return _digest_found(info, split_name), None
    except LookupError:
        pass
    key = (model_hash(info), split_name)
    with _pending_lock:
        job = _pending.get(key)
        if job is None or job.status in ("failed", "stopped"):
            if job is not None and job.status == "failed":
                raise RuntimeError(job.error)
            _pending[key] = job = jobs.digest(engine.shared(), info.path, key[0], split_name)
    if job.status == "done":
        try:
            return _digest_found(info, split_name), None
        except LookupError:  # the cache could not keep it: the job's own copy
            return job.result, None
    return None, job


def codes(found: dict) -> torch.Tensor:
    return torch.from_numpy(found["codes"])


def ranges(found: dict) -> Ranges:
    return Ranges(torch.from_numpy(found["low"]), torch.from_numpy(found["high"]), torch.from_numpy(found["mean"]))


@st.cache_resource(show_spinner=False, max_entries=48, hash_funcs=BY_VERSION)
def codes_url(info: ModelInfo, split_name: str) -> str:
    found = _digest_found(info, split_name)
    tensors = {"codes": torch.from_numpy(found["codes"])}
    return blobs.put(blobs.key_of("codes", model_hash(info), split_name),
                     lambda: safetensors_bytes(tensors, metadata={"kind": "codes"}))


@st.cache_resource(show_spinner=False, max_entries=48, hash_funcs=BY_VERSION)
def values_url(info: ModelInfo, split_name: str) -> str | None:
    """The address of per-point values for the map's colours: a classifier's predictions or an
    autoencoder's reconstruction errors (from the digest)."""
    found = _digest_found(info, split_name)
    tensors = {k: torch.from_numpy(found[k].astype(np.float32)) for k in ("predictions", "errors") if k in found}
    if not tensors:
        return None
    return blobs.put(blobs.key_of("values", model_hash(info), split_name),
                     lambda: safetensors_bytes(tensors, metadata={"kind": "values"}))


# -- maps -------------------------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False, max_entries=48, hash_funcs=BY_VERSION)
def _map_found(info: ModelInfo, split_name: str, settings: MapSettings) -> maps.Map:
    """A shipped or cached map; LookupError when there is none."""
    n = len(split(info.config.dataset, split_name))
    found = maps.find(info.path, model_hash(info), split_name, n, settings)
    if found is None:
        raise LookupError(info.name)
    return found


@st.cache_resource(show_spinner=False, max_entries=32, hash_funcs=BY_VERSION)
def _quick_map(info: ModelInfo, split_name: str) -> maps.Map:
    """PCA of the split's codes (milliseconds), shown while another map is fitted."""
    return maps.compute(_digest_found(info, split_name)["codes"], MapSettings("pca"))


_fits: dict = {}   # (model hash, split, settings, owner) -> the engine's Job fitting that map
_fits_lock = threading.Lock()


def map_now(info: ModelInfo, split_name: str, settings: MapSettings, owner: str) -> tuple[maps.Map | None, object]:
    """The map asked for when it is there (shipped or cached); else (a PCA of the codes to show meanwhile,
    or None while even the codes are coming, and the Job fitting it: one waiting fit per visitor)."""
    try:
        return _map_found(info, split_name, settings), None
    except LookupError:
        pass
    key = (model_hash(info), split_name, settings)
    with _fits_lock:
        job = _fits.get(key)
        if job is None or job.status in ("stopped", "failed"):
            if job is not None and job.status == "failed":
                _fits.pop(key)
                raise RuntimeError(job.error)
            n = len(split(info.config.dataset, split_name))
            _fits[key] = job = jobs.map_fit(engine.shared(), info.path, key[0], split_name, n, settings, owner=owner)
    if job.status == "done":
        try:
            return _map_found(info, split_name, settings), None
        except LookupError:  # the cache could not keep it: the job's own copy
            return job.result, None
    try:
        return _quick_map(info, split_name), job
    except LookupError:
        return None, job


def map_url(info: ModelInfo, split_name: str, m: maps.Map) -> str:
    """The address of a map's positions and labels (known before any code is)."""
    labels = split(info.config.dataset, split_name).labels
    key = blobs.key_of("map", model_hash(info), split_name, m.settings, m.source)

    def make():
        tensors = {"xy": torch.from_numpy(np.ascontiguousarray(m.embedding, dtype=np.float32)),
                   "labels": labels.to(torch.uint8)}
        return safetensors_bytes(tensors, metadata={"kind": "map", "raw": "1" if m.settings.method == "raw" else "0",
                                                    "method": m.settings.method})
    return blobs.put(key, make)
