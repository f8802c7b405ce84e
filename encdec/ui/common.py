"""Shell pieces every page uses: the language, cached data and models, the sidebar."""
from __future__ import annotations

import os
import threading

import numpy as np
import streamlit as st
import torch

from .. import latent, projection
from ..checkpoint import ModelInfo, ModelStore, load, shipped_store_dir, user_store_dir
from ..data import DATASET_TITLES, DATASETS, DataError, data_dir, load_dataset
from ..jobs import JobQueue
from ..imaging import png_bytes, to_uint8
from . import charts
from .text import LANGUAGES, text

MAX_TRAININGS = int(os.environ.get("ENCDEC_MAX_TRAININGS", "1"))
_run = threading.local()  # each session's script runs in its own thread


def _frame() -> None:
    st.set_page_config(page_title=text(lang(), "app_title"), page_icon=":material/tune:", layout="wide")
    st.session_state["current"] = sidebar()
    try:  # every page needs the dataset: a missing or broken one is said once, here
        dataset(st.session_state.get("data", "mnist"))
    except DataError as e:
        st.error(str(e))
        st.stop()


def shell(pages: list) -> None:
    """The page frame and sidebar, then the chosen page (called by app.py only)."""
    _frame()
    _run.shell = True
    try:
        st.navigation(pages).run()
    finally:
        _run.shell = False


def require_shell() -> None:
    """Pages call this first. Until a server has called st.navigation once, Streamlit treats the
    pages/ folder as its older automatic multipage mode, so a first visit to a deep link such as
    /editor runs the page file without app.py. Draw the frame here for that run, and turn that
    mode off so that later runs go through app.py."""
    if not getattr(_run, "shell", False):
        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = False
        _frame()


_LANGUAGE_CODES = {name: code for code, name in LANGUAGES.items()}


def lang() -> str:
    """The interface language's code: the sidebar's choice, else the link's (?lang=中文), else English."""
    chosen = st.session_state.get("lang") or st.query_params.get("lang")
    return chosen if chosen in LANGUAGES else _LANGUAGE_CODES.get(chosen, "en")


def t(key: str, **values) -> str:
    return text(lang(), key, **values)


def page(title: str, intro: str | None = None, *, markdown: bool = False, needs_model: bool = True) -> ModelInfo | None:
    """A page's start: the frame, its title and one or two sentences; returns the current model
    (and ends the page quietly where it needs one and there is none)."""
    require_shell()
    st.title(t(title))
    if intro:
        (st.markdown if markdown else st.caption)(t(intro))
    info = st.session_state.get("current")
    if info is None and needs_model:
        st.stop()
    return info


# -- shared, read-only resources --------------------------------------------------

@st.cache_resource(show_spinner=False)
def _dataset(name: str, folder: str):
    return load_dataset(name, folder)


def dataset(name: str):
    return _dataset(name, str(data_dir().resolve()))


@st.cache_resource(show_spinner=False, max_entries=24)
def _model(path: str, mtime: float):
    return load(path)


def model_of(info: ModelInfo):
    return _model(str(info.path), info.path.stat().st_mtime)


@st.cache_resource(show_spinner=False, max_entries=24)
def _test_codes(path: str, mtime: float) -> tuple[torch.Tensor, latent.Ranges]:
    model = _model(path, mtime)
    codes = latent.encode_split(model, dataset(model.config.dataset).test)
    return codes, latent.code_ranges(codes)


def test_codes(info: ModelInfo) -> tuple[torch.Tensor, latent.Ranges]:
    """Codes of the whole test split (N, k) and their slider ranges."""
    return _test_codes(str(info.path), info.path.stat().st_mtime)


@st.cache_resource(show_spinner=False)
def _split(name: str, split: str, folder: str):
    return _dataset(name, folder).split(split)


@st.cache_resource(show_spinner=False, max_entries=8)
def _train_codes(path: str, mtime: float) -> torch.Tensor:
    model = _model(path, mtime)
    return latent.encode_split(model, split_of_dataset(model.config.dataset, "train"))


def _codes(path: str, mtime: float, split: str) -> torch.Tensor:
    return _test_codes(path, mtime)[0] if split == "test" else _train_codes(path, mtime)


def split_of_dataset(name: str, split: str):
    return _split(name, split, str(data_dir().resolve()))


def split_of(info: ModelInfo, split: str):
    """The images and labels of a split ("test": 10,000; "train": all 60,000)."""
    return split_of_dataset(info.config.dataset, split)


def split_codes(info: ModelInfo, split: str) -> torch.Tensor:
    """Codes of every image of a split, (N, k)."""
    return _codes(str(info.path), info.path.stat().st_mtime, split)


@st.cache_resource(show_spinner=False)
def _file_hash(path: str, mtime: float) -> str:
    return projection.file_hash(path)


@st.cache_resource(show_spinner=False, max_entries=16)
def _map(path: str, mtime: float, split: str, settings: projection.MapSettings) -> projection.Map:
    codes = _codes(path, mtime, split)
    key = projection.cache_key(_file_hash(path, mtime), split, len(codes), settings)
    result = projection.project(codes, settings, key)
    if settings.method == "umap":  # compile UMAP's transform now, so placing a drawing is quick later
        threading.Thread(target=result.projector.transform, args=(codes[:1].numpy(),), daemon=True).start()
    return result


def latent_map(info: ModelInfo, split: str, settings: projection.MapSettings) -> projection.Map:
    """The map of a split's codes: from memory, else the disk cache, else computed (and cached)."""
    return _map(str(info.path), info.path.stat().st_mtime, split, settings)


def map_is_ready(info: ModelInfo, split: str, settings: projection.MapSettings) -> bool:
    """Whether a map can be shown at once (already on disk), without computing it."""
    n = len(split_of(info, split))
    key = projection.cache_key(_file_hash(str(info.path), info.path.stat().st_mtime), split, n, settings)
    return (projection.cache_dir() / f"{key}.npz").is_file()


def classifier_for(dataset_name: str, models: dict[str, ModelInfo] | None = None) -> ModelInfo | None:
    """A classifier for a dataset to predict labels with: a shipped CNN one if there is one."""
    models = models if models is not None else all_models()[0]
    found = [i for i in models.values() if i.config.kind == "classifier" and i.config.dataset == dataset_name]
    found.sort(key=lambda i: (not i.shipped, i.config.encoder != "cnn", i.name))
    return found[0] if found else None


@st.cache_resource(show_spinner=False)
def job_queue() -> JobQueue:
    return JobQueue(MAX_TRAININGS)


def shipped_store() -> ModelStore:
    return ModelStore(shipped_store_dir(), shipped=True)


def user_store() -> ModelStore:
    return ModelStore(user_store_dir())


def all_models() -> tuple[dict[str, ModelInfo], int]:
    """Readable models by name (shipped names win) and the count of unreadable user files."""
    out, bad = {}, 0
    for store in (shipped_store(), user_store()):
        for info in store.list():
            if info.error:
                bad += not info.shipped
                continue
            out.setdefault(info.name, info)
    return out, bad


def free_name(name: str) -> str:
    """A user-model name taken neither by a shipped model nor by another user model."""
    shipped = {i.name for i in shipped_store().list()}
    store = user_store()
    candidate = store.unique_name(name)
    i = 2
    while candidate in shipped:
        candidate = store.unique_name(f"{name}-{i}")
        i += 1
    return candidate


def open_in_editor(start, code: torch.Tensor) -> None:
    """Send a code to the code editor and go there."""
    st.session_state["edit_request"] = (start, code.clone())
    st.switch_page("pages/editor.py")


def select_model(name: str) -> None:
    """Make `name` the current model from anywhere (takes effect on the next run)."""
    st.session_state["pending_model"] = name


# -- the sidebar -------------------------------------------------------------------

def sidebar() -> ModelInfo | None:
    """Language, dataset and model pickers, all kept in the URL. Returns the current model."""
    models, bad = all_models()
    pending = st.session_state.pop("pending_model", None)
    if pending in models:
        st.session_state["data"] = models[pending].config.dataset
        st.session_state["model"] = pending
    with st.sidebar:
        # Bound widgets put the shown label in the link, so the options are the labels themselves.
        st.selectbox(t("language"), list(LANGUAGES.values()), key="lang", bind="query-params")
        data = st.selectbox(t("dataset"), DATASETS, format_func=DATASET_TITLES.get, key="data", bind="query-params")
        names = [n for n, i in models.items() if i.config.dataset == data]
        if not names:
            st.info(t("no_models"))
            return None
        if st.session_state.get("model") not in names:
            st.session_state["model"] = names[0]
        name = st.selectbox(t("model"), names, key="model", bind="query-params")
        if not models[name].shipped:
            st.caption(t("yours"))
        if bad:
            st.caption(t("unreadable_models", n=bad))
    return models[name]


def kind_label(kind: str) -> str:
    return t(f"kind_{kind}")


def parts_label(config) -> str:
    return f"{t('enc_' + config.encoder)} → {t('dec_' + config.decoder)}"


def png(images: torch.Tensor | np.ndarray, scale: int = 4) -> bytes:
    """A (28,28) tensor in [0,1] or a uint8 array as PNG bytes, enlarged without blur."""
    arr = to_uint8(images) if isinstance(images, torch.Tensor) else images
    return png_bytes(arr, scale)


def probability_chart(probs: torch.Tensor, names, key: str | None = None) -> None:
    st.plotly_chart(charts.probabilities(probs, names), key=key)
