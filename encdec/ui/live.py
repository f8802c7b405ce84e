"""The in-page element (Streamlit Components v2, no iframe) that runs the models in the browser.

Its JavaScript is live.js beside this file, read once and handed over as text. One component
serves every view: mounted with a model's weights (bytes) it keeps the model for the page;
mounted with a view's description (JSON) it draws that view and runs the model itself. Every
mount has a key, so a new model or a new start never remounts what the hand is using.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from ..store import ModelInfo
from ..webmodel import Unsupported, codes_blob, map_blob, weights_blob
from . import cache

_HERE = Path(__file__).resolve().parent
# Not in a shadow root: its styles are all under .live, and tests and tools can find its parts.
_element = st.components.v2.component("encdec_live", js=(_HERE / "live.js").read_text(encoding="utf-8"),
                                      css=(_HERE / "live.css").read_text(encoding="utf-8"), isolate_styles=False)


def _noop() -> None:
    """State changes are read from the element's result; nothing to do in a callback."""


def model_key(info: ModelInfo) -> str:
    """A short id of one version of a model file (its path, time and size)."""
    return hashlib.sha256(repr(cache.file_key(info)).encode()).hexdigest()[:16]


@st.cache_resource(show_spinner=False, max_entries=16)
def _blob(path: str, mtime: int, size: int, key: str) -> bytes | None:
    try:
        return weights_blob(cache._model(path, mtime, size), key)
    except Unsupported:
        return None


def can_run(info: ModelInfo) -> bool:
    """Whether the page can run this model (its weights are made ready to send)."""
    return _blob(*cache.file_key(info), model_key(info)) is not None


def load_model(info: ModelInfo) -> bool:
    """Send the model's weights to the page (once per model version: the browser keeps what it
    has seen); False when the page cannot run this model and pictures must come from Python."""
    key = model_key(info)
    blob = _blob(*cache.file_key(info), key)
    if blob is None:
        return False
    _element(key=f"weights-{key}", data=blob, height=0)
    return True


@st.cache_resource(show_spinner=False, max_entries=8)
def _map_blob(key: str, _embedding, _labels, raw: bool) -> bytes:
    return map_blob(_embedding, _labels, key, raw)


@st.cache_resource(show_spinner=False, max_entries=8)
def _codes_blob(key: str, _codes) -> bytes:
    return codes_blob(_codes, key)


def load_map(info: ModelInfo, split: str, m) -> tuple[str, str]:
    """Send a map's positions and labels to the page once (no code is needed for them); returns the
    ids of the map and of its codes, which `load_codes` sends when they are known."""
    key = hashlib.sha256(repr((cache.file_key(info), split, m.settings, m.source)).encode()).hexdigest()[:16]
    blob = _map_blob(key, m.embedding, cache.split(info.config.dataset, split).labels, m.settings.method == "raw")
    _element(key=f"map-{key}", data=blob, height=0)
    return key, f"{key}-codes"


def load_codes(codes_key: str, codes) -> None:
    """Send the codes of a map's points (from `load_map`'s second id) to the page once."""
    _element(key=f"codes-{codes_key}", data=_codes_blob(codes_key, codes), height=0)


def view(key: str, data: dict, **state) -> object:
    """Mount a view (`data["view"]`: editor, interpolation, arithmetic…) and return its result;
    `state` names the values the view sends back (each gets its own change callback)."""
    return _element(key=key, data=data, **{f"on_{name}_change": _noop for name in state}, default=state or None)


def sent(key: str, name: str):
    """The value `name` a view sent back last, read before the view is mounted in this run."""
    state = st.session_state.get(key)
    if isinstance(state, dict):
        return state.get(name)
    return getattr(state, name, None)
