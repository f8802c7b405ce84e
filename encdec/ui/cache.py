"""Every value the app keeps between script runs, in one place.

Whatever depends on a model is keyed on its file's (path, modification time in ns, size), read
afresh at each call, so a model deleted and retrained under the same name never shows a stale
code, map or figure. Datasets are keyed on their folder. Maps that need computing are computed
in one background thread per server (first asked, first done) while the page shows PCA.
"""
from __future__ import annotations

import threading
from pathlib import Path
from concurrent.futures import Future

import numpy as np
import streamlit as st
import torch

from .. import latent, maps, metrics
from ..checkpoint import load
from ..store import ModelInfo
from ..data import Dataset, Split, load_dataset
from ..projection import MapSettings, quality
from ..settings import data_dir


def file_key(info: ModelInfo) -> tuple[str, int, int]:
    stat = info.path.stat()
    return str(info.path), stat.st_mtime_ns, stat.st_size


# -- datasets ---------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def _dataset(name: str, folder: str) -> Dataset:
    return load_dataset(name, folder)


@st.cache_resource(show_spinner=False)
def _split(name: str, split: str, folder: str) -> Split:
    return _dataset(name, folder).split(split)


def dataset(name: str) -> Dataset:
    return _dataset(name, str(data_dir().resolve()))


def split(dataset_name: str, name: str) -> Split:
    """Images and labels of a split: "test" (10,000) or "train" (all 60,000)."""
    return _split(dataset_name, name, str(data_dir().resolve()))


# -- a model and what it makes ------------------------------------------------------------------

@st.cache_resource(show_spinner=False, max_entries=24)
def _model(path: str, mtime: int, size: int):
    return load(path)


def model(info: ModelInfo):
    return _model(*file_key(info))


@st.cache_resource(show_spinner=False, max_entries=24)
def _codes(path: str, mtime: int, size: int, split_name: str) -> torch.Tensor:
    m = _model(path, mtime, size)
    return latent.encode_split(m, split(m.config.dataset, split_name))


def codes(info: ModelInfo, split_name: str = "test") -> torch.Tensor:
    """Codes (N, k) of every image of a split."""
    return _codes(*file_key(info), split_name)


@st.cache_resource(show_spinner=False, max_entries=24)
def _ranges(path: str, mtime: int, size: int) -> latent.Ranges:
    return latent.code_ranges(_codes(path, mtime, size, "test"))


def ranges(info: ModelInfo) -> latent.Ranges:
    """Per-dimension slider ranges from the test split's codes."""
    return _ranges(*file_key(info))


@st.cache_data(show_spinner=False, max_entries=16)
def _predictions(path: str, mtime: int, size: int, split_name: str) -> np.ndarray:
    m = _model(path, mtime, size)
    return metrics.predictions(m, split(m.config.dataset, split_name)).numpy()


def predictions(info: ModelInfo, split_name: str = "test") -> np.ndarray:
    """A classifier's predicted class for every image of a split."""
    return _predictions(*file_key(info), split_name)


@st.cache_data(show_spinner=False, max_entries=16)
def _errors(path: str, mtime: int, size: int, split_name: str) -> np.ndarray:
    m = _model(path, mtime, size)
    return metrics.reconstruction_errors(m, split(m.config.dataset, split_name), _codes(path, mtime, size, split_name))


def errors(info: ModelInfo, split_name: str = "test") -> np.ndarray:
    """Each image's reconstruction error (MSE per pixel) for an autoencoder."""
    return _errors(*file_key(info), split_name)


@st.cache_resource(show_spinner=False, max_entries=64)
def _hash(path: str, mtime: int, size: int) -> str:
    return maps.file_hash(path)


def model_hash(info: ModelInfo) -> str:
    return _hash(*file_key(info))


@st.cache_resource(show_spinner=False, max_entries=16)
def _weights(path: str, mtime: int, size: int) -> bytes:
    from ..webmodel import weights_blob

    return weights_blob(_model(path, mtime, size))


def weights(info: ModelInfo) -> bytes:
    """The model's weights as one safetensors blob, for the page to run the model itself."""
    return _weights(*file_key(info))


@st.cache_data(show_spinner=False, max_entries=64)
def time_estimate(config, epochs: int, size: int) -> float:
    """Seconds a training of `config` would take here, measured on a few batches (kept per setting)."""
    from ..models import build
    from ..train import TrainConfig, estimate_seconds

    return estimate_seconds(build(config), TrainConfig(epochs=epochs, limit=size), size)


@st.cache_resource(show_spinner=False, max_entries=16)
def _frames(path: str, mtime: int, size: int):
    from ..checkpoint import read_frames
    from ..frames import from_tensors

    return from_tensors(read_frames(path))


def frames(info: ModelInfo):
    """(frames, labels) of the code space as the model trained, or None when none were recorded."""
    return _frames(*file_key(info))


@st.cache_data(show_spinner=False, max_entries=32)
def ink_of_picture(data: bytes) -> np.ndarray:
    """An uploaded picture as ink, read once per picture (keyed by its content)."""
    from ..digitize import ink_from_image

    return ink_from_image(data)


# -- maps -------------------------------------------------------------------------------------

class _Background:
    """Maps computed one at a time in daemon threads (a server that stops does not wait for them)."""

    def __init__(self):
        self.turn = threading.Lock()  # one UMAP at a time: a server has few cores

    def submit(self, fn, *args) -> Future:
        future = Future()

        def run():
            with self.turn:
                try:
                    future.set_result(fn(*args))
                except Exception as e:  # noqa: BLE001 - handed to whoever waits on the future
                    future.set_exception(e)
        threading.Thread(target=run, daemon=True, name="map").start()
        return future


@st.cache_resource(show_spinner=False)
def _background() -> tuple[_Background, dict, threading.Lock]:
    return _Background(), {}, threading.Lock()


@st.cache_resource(show_spinner=False, max_entries=32)
def _found_map(path: str, mtime: int, size: int, split_name: str, settings: MapSettings) -> maps.Map:
    """A shipped or cached map; raises LookupError when there is none (a raise is not cached,
    so a later call looks again)."""
    n = len(split(_model(path, mtime, size).config.dataset, split_name))  # the codes are not needed to look
    found = maps.find(Path(path), _hash(path, mtime, size), split_name, n, settings)
    if found is None:
        raise LookupError(path)
    return found


def _labels(info: ModelInfo, split_name: str) -> np.ndarray:
    return split(info.config.dataset, split_name).labels.numpy()


@st.cache_resource(show_spinner=False, max_entries=32)
def _quick_map(path: str, mtime: int, size: int, split_name: str, settings: MapSettings) -> maps.Map:
    """A PCA or raw map, computed at once (no quality: it is measured when shown)."""
    return maps.compute(_codes(path, mtime, size, split_name).numpy(), settings)


def map_ready(info: ModelInfo, split_name: str, settings: MapSettings) -> bool:
    """Whether the map asked for is shipped or cached (shown without computing any code)."""
    try:
        _found_map(*file_key(info), split_name, settings)
        return True
    except LookupError:
        return False


def map_now(info: ModelInfo, split_name: str, settings: MapSettings) -> tuple[maps.Map, bool]:
    """The map asked for if it exists (shipped, cached or computed); a PCA or raw map is computed
    at once; a UMAP that does not exist yet computes in the background (and lands in the cache)
    while a PCA map of the same codes is returned. Returns (map, whether the asked-for map is
    still computing)."""
    key = (*file_key(info), split_name, settings)
    pool, futures, lock = _background()
    try:
        found = _found_map(*key)
        with lock:
            futures.pop(key, None)
        return found, False
    except LookupError:
        pass
    if settings.method != "umap":
        return _quick_map(*key), False
    with lock:
        future: Future | None = futures.get(key)
        if future is None or (future.done() and future.exception() is not None):
            futures[key] = future = pool.submit(maps.get, info.path, model_hash(info), codes(info, split_name).numpy(),
                                                _labels(info, split_name), split_name, settings)
    if future.done():
        return future.result(), False  # raises what the computation raised
    return _quick_map(*key[:4], MapSettings("pca")), True


@st.cache_data(show_spinner=False, max_entries=32)
def _quality(path: str, mtime: int, size: int, split_name: str, settings: MapSettings, source: str,
             _embedding: np.ndarray) -> dict:
    m = _model(path, mtime, size)
    return quality(_codes(path, mtime, size, split_name).numpy(), _embedding,
                   split(m.config.dataset, split_name).labels.numpy())


def map_quality(info: ModelInfo, split_name: str, m: maps.Map) -> dict:
    """5-NN accuracy in code space and on the map, and trustworthiness; measured once per map
    (shipped and cached maps carry it in their file)."""
    if not m.quality:
        m.quality = _quality(*file_key(info), split_name, m.settings, m.source, m.embedding)
        if m.source == "cache":
            maps.remember_quality(model_hash(info), split_name, m)
    return m.quality
