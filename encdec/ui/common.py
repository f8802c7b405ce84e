"""Shell pieces every page uses: the language, the frame and sidebar, the model stores, the job queue."""
from __future__ import annotations

import threading

import numpy as np
import streamlit as st
import torch

from .. import settings
from ..store import ModelInfo
from ..data import DATASET_TITLES, DATASETS, DataError
from ..imaging import png_bytes, to_uint8
from ..jobs import JobQueue
from ..settings import SettingsError
from . import cache, charts
from .text import LANGUAGES, text
from .visitor import (adopt_link_key, class_store, current, login_configured, my_store,  # noqa: F401 - pages use them
                      remember_browser_key, shared_mode, shipped_store)

_run = threading.local()  # each session's script runs in its own thread


def _frame(where: str | None = None) -> None:
    """Page settings and the sidebar; `where` is the page being opened (None when not known)."""
    st.set_page_config(page_title=text(lang(), "app_title"), page_icon=":material/tune:", layout="wide")
    try:  # a bad setting or a missing dataset is said once, here, on every page
        settings.home(), settings.max_trainings(), settings.data_dir()
        st.session_state["current"] = sidebar(where)
        cache.dataset(st.session_state.get("data", "mnist"))
    except (SettingsError, DataError) as e:
        st.error(str(e))
        st.stop()


def shell(pages: list) -> None:
    """The page frame and sidebar, then the chosen page (called by app.py only)."""
    # Navigation first: the browser must know the page before anything in the sidebar (the workspace
    # key, on a classroom server) can ask for a rerun, or that rerun would land on the home page.
    chosen = st.navigation(pages)
    _frame(chosen.url_path)
    _run.shell = True
    try:
        chosen.run()
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


def option_labels(prefix: str):
    """A widget's format_func: option v shown as t(prefix + v), in this run's language (a widget
    may call it outside the run)."""
    now = lang()
    return lambda v: text(now, f"{prefix}{v}")


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


# -- the model stores -------------------------------------------------------------------------

def all_models() -> tuple[dict[str, ModelInfo], int]:
    """Readable models this visitor may open, by their `ref` (shipped, the class's, their own), and
    the count of their own files that could not be read."""
    out, bad = {}, 0
    for store in (shipped_store(), class_store(), my_store()):
        for info in store.list() if store is not None else []:
            if info.error:
                bad += info.source == "own"
                continue
            out.setdefault(info.ref, info)
    return out, bad


def models_of(kind: str | None, dataset_name: str, code_dim: int | None = None) -> dict[str, ModelInfo]:
    """The readable models of a kind (any kind for None) for a dataset (and a code size), by ref."""
    return {n: i for n, i in all_models()[0].items()
            if (kind is None or i.config.kind == kind) and i.config.dataset == dataset_name
            and (code_dim is None or i.config.code_dim == code_dim)}


def classifier_for(dataset_name: str) -> ModelInfo | None:
    """A classifier for a dataset to predict labels with: a shipped CNN one if there is one."""
    found = sorted(models_of("classifier", dataset_name).values(),
                   key=lambda i: (not i.shipped, i.config.encoder != "cnn", i.name))
    return found[0] if found else None


@st.cache_resource(show_spinner=False)
def job_queue() -> JobQueue:
    return JobQueue(settings.max_trainings())


def cannot_save(size: int = 0, job: bool = False) -> str | None:
    """Why this visitor cannot add a model of `size` bytes now (or start a job that makes one), as a
    sentence in the page's language; None when they can. Local mode has no quotas."""
    visitor = current()
    if visitor.workspace is None:
        return t("workspace_wait")
    if not visitor.shared:
        return None
    quotas = settings.quotas()
    if job and job_queue().active(visitor.workspace.id) >= quotas["trainings"]:
        return t("quota_trainings", n=quotas["trainings"])
    full = visitor.workspace.room_for(size, quotas)
    if full == "models":
        return t("quota_models", n=quotas["models"])
    if full == "megabytes":
        return t("quota_megabytes", mb=quotas["megabytes"])
    return None


def cannot_train(config, times: int = 1) -> str | None:
    """`cannot_save` for a job that will save a model about `times` the size of `config`'s
    (its float32 weights)."""
    return cannot_save(4 * times * config.num_parameters(), job=True)


def owner() -> str:
    """Whose jobs these are (per-workspace limits)."""
    ws = current().workspace
    return ws.id if ws is not None else ""


def open_in_editor(start, code: torch.Tensor) -> None:
    """Send a code to the code editor and go there."""
    st.session_state["edit_request"] = (start, code.clone())
    st.switch_page("pages/editor.py")


def select_model(name: str) -> None:
    """Make `name` the current model from anywhere (takes effect on the next run)."""
    st.session_state["pending_model"] = name


# -- the sidebar -------------------------------------------------------------------------------

BOUND = ("lang", "data", "model")  # the sidebar's pickers, kept in the link


def _keep() -> None:
    for key in BOUND:
        if key in st.session_state:
            st.session_state[f"_kept_{key}"] = st.session_state[key]


def sidebar(where: str | None = None) -> ModelInfo | None:
    """Language, dataset and model pickers, all kept in the URL, and in shared mode who is working.
    `where` is the page this run was asked for (None when not known). Returns the current model."""
    adopt_link_key()
    if shared_mode():
        with st.sidebar:
            who()  # first: the visitor's models depend on it
    models, bad = all_models()
    pending = st.session_state.pop("pending_model", None)
    # The model a link asks for is kept from the session's first run until this visitor's models are
    # known (a classroom visitor's arrive one run later): then it is opened, or said to be out of reach.
    asked = st.session_state.setdefault("_asked_model", st.query_params.get("model") or "")
    if asked and current().workspace is not None:
        st.session_state["_asked_model"] = ""
        if asked in models:
            pending = pending or asked
        else:
            st.warning(t("model_not_visible", name=asked[:80]))
    # A picker's value that came from the opening link alone falls back to its default on the next
    # page: on a change of page, what this session showed last (or the person chose: on_change) is put back.
    moved = where is not None and st.session_state.get("_where") != where
    if where is not None:
        st.session_state["_where"] = where
    for key in BOUND:
        if moved and f"_kept_{key}" in st.session_state:
            st.session_state[key] = st.session_state[f"_kept_{key}"]
    if pending in models:
        st.session_state["data"] = models[pending].config.dataset
        st.session_state["model"] = pending
    with st.sidebar:
        # Bound widgets put the shown label in the link, so the options are the labels themselves.
        st.selectbox(t("language"), list(LANGUAGES.values()), key="lang", bind="query-params", on_change=_keep)
        data = st.selectbox(t("dataset"), DATASETS, format_func=DATASET_TITLES.get, key="data", bind="query-params",
                            on_change=_keep)
        names = [n for n, i in models.items() if i.config.dataset == data]
        if not names:
            st.info(t("no_models"))
            _keep()
            return None
        if st.session_state.get("model") not in names:
            st.session_state["model"] = names[0]
        name = st.selectbox(t("model"), names, key="model", bind="query-params", on_change=_keep)
        if models[name].source != "shipped":
            st.caption(t(f"source_{models[name].source}_note"))
        if bad:
            st.caption(t("unreadable_models", n=bad))
    _keep()
    return models[name]


def who() -> None:
    """Shared mode: sign in or out, or (without sign-in) the browser's workspace key."""
    if login_configured():
        visitor = current()
        if visitor.workspace is None:
            st.caption(t("signin_needed"))
            st.button(t("signin"), on_click=st.login)
        else:
            st.caption(t("signed_in_as", email=visitor.email))
            st.button(t("signout"), on_click=st.logout)
    else:
        remember_browser_key()


# -- small views -------------------------------------------------------------------------------

def kind_label(kind: str) -> str:
    return t(f"kind_{kind}")


def parts_label(config) -> str:
    return f"{t('enc_' + config.encoder)} → {t('dec_' + config.decoder)}"


def metric_names() -> dict:
    return {k: t("metric_" + k) for k in ("accuracy", "mse", "bce", "neg_elbo")}


def png(images: torch.Tensor | np.ndarray, scale: int = 4) -> bytes:
    """A (28,28) tensor in [0,1] or a uint8 array as PNG bytes, enlarged without blur."""
    arr = to_uint8(images) if isinstance(images, torch.Tensor) else images
    return png_bytes(arr, scale)


def probability_chart(probs: torch.Tensor, names, key: str | None = None) -> None:
    st.plotly_chart(charts.probabilities(probs, names), key=key)


def codes_or_stop(info: ModelInfo, split_name: str = "test") -> torch.Tensor:
    """The split's codes; a model whose codes overflow gets one sentence and the page ends."""
    from ..latent import all_finite

    codes = cache.codes(info, split_name)
    if not all_finite(codes):
        st.warning(t("codes_not_finite", name=info.name))
        st.stop()
    return codes
