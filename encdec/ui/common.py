"""Shell pieces every page uses: the language, the frame and sidebar, the model stores, places for new models."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from .. import engine, settings
from ..data import DATASET_TITLES, DATASETS, DataError
from ..engine import EngineError
from ..imaging import png_bytes, to_uint8
from ..settings import SettingsError
from ..store import ModelInfo
from ..workspace import QuotaError
from . import state, visitor
from .state import Key, Link
from .text import LANGUAGES, text

_run = threading.local()  # each session's script runs in its own thread
# The browser tab's icon, served by this server: a material-symbol icon would be fetched from the internet,
# which a classroom's offline network cannot reach.
ICON = str(Path(__file__).resolve().parent / "icon.png")


def _frame(where: str | None = None) -> None:
    """Page settings and the sidebar; `where` is the page being opened (None when not known)."""
    st.set_page_config(page_title=text(lang(), "app_title"), page_icon=ICON, layout="wide",
                       initial_sidebar_state="collapsed" if state.link(Link.PRESENT) == "1" else "auto")
    try:  # a bad setting, a missing dataset or a cluster that does not answer is said once, here, on every page
        settings.home(), settings.workers(), settings.data_dir(), settings.ray_address()
        state.put("current", sidebar(where))
        from . import cache

        cache.dataset(st.session_state.get(Key.DATA, "mnist"))
        engine.shared()
    except (SettingsError, DataError, EngineError) as e:
        st.error(str(e))
        st.stop()


def shell(pages: list) -> None:
    """The page frame and sidebar, then the chosen page (called by app.py only)."""
    # Navigation first: the browser must know the page before anything in the sidebar (the workspace
    # key, on a classroom server) can ask for a rerun, or that rerun would land on the home page.
    chosen = st.navigation(pages, position="hidden" if state.link(Link.PRESENT) == "1" else "sidebar")
    _frame(chosen.url_path)
    _run.shell = True
    try:
        chosen.run()
    finally:
        _run.shell = False


def require_shell() -> None:
    """Pages call this first. A first visit to a deep link on a server started without app.py's start-up
    hook (AppTest) runs the page file alone: draw the frame here for that run."""
    if not getattr(_run, "shell", False):
        from .server import no_pages_folder_mode

        no_pages_folder_mode()
        _frame()


_LANGUAGE_CODES = {name: code for code, name in LANGUAGES.items()}


def lang() -> str:
    """The interface language's code: the sidebar's choice, else the link's (?lang=中文), else English."""
    chosen = st.session_state.get(Key.LANG) or state.link(Link.LANG)
    return chosen if chosen in LANGUAGES else _LANGUAGE_CODES.get(chosen, "en")


def t(key: str, **values) -> str:
    return text(lang(), key, **values)


def texts(*keys: str, **renamed: str) -> dict:
    """Strings for an element's view: each key as itself, and `renamed` as name=key."""
    return {**{k: t(k) for k in keys}, **{name: t(k) for name, k in renamed.items()}}


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
    info = state.get("current")
    if info is None and needs_model:
        st.stop()
    return info


# -- the model stores -------------------------------------------------------------------------------------

def all_models() -> tuple[dict[str, ModelInfo], int]:
    """Readable models this visitor may open, by their `ref` (shipped, the class's, their own), and
    the count of their own files that could not be read."""
    out, bad = {}, 0
    for store in (visitor.shipped_store(), visitor.class_store(), visitor.my_store()):
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


def owner() -> str:
    """Whose jobs these are (per-workspace limits, fair turns)."""
    ws = visitor.current().workspace
    return ws.id if ws is not None else ""


def reserve(size: int = 0, job: bool = False):
    """Hold a place for a new model of about `size` bytes (and, for a job, one more training) in this
    visitor's workspace, checked and taken in one step; returns (the reservation or None in local mode,
    None) or (None, a sentence in the page's language saying why not)."""
    who = visitor.current()
    if who.workspace is None:
        return None, t("workspace_wait")
    if not who.shared:
        return None, None
    quotas = settings.quotas()
    try:
        return who.workspace.reserve(size, quotas, job=job), None
    except QuotaError as e:
        return None, t(f"quota_{e.key}", n=e.limit, mb=e.limit)


def cannot_save(size: int = 0, job: bool = False) -> str | None:
    """Why this visitor could not add a model of `size` bytes now (or start a job), for showing before
    they try (places held by queued jobs count); None when they can. `reserve` is what takes the place."""
    who = visitor.current()
    if who.workspace is None:
        return t("workspace_wait")
    if not who.shared:
        return None
    quotas = settings.quotas()
    if job and who.workspace.jobs_held() >= quotas["trainings"]:
        return t("quota_trainings", n=quotas["trainings"])
    full = who.workspace.room_for(size, quotas)
    return None if full is None else t(f"quota_{full}", n=quotas["models"], mb=quotas["megabytes"])


def job_size(config, times: int = 1) -> int:
    """About the size of the model a job will save: `times` the float32 weights of `config`."""
    return 4 * times * config.num_parameters()


def submit(slot: str, size: int, start) -> None:
    """Start a job of this session in `slot` once a place for its model (about `size` bytes) is reserved:
    `start(reservation)` submits it to the engine. A full quota or a full queue is said in one sentence
    and nothing starts; otherwise the page runs again and shows the job."""
    reservation, why = reserve(size, job=True)
    if why:
        st.warning(why)
        return
    try:
        job = start(reservation)
    except EngineError as e:
        if reservation is not None:
            reservation.release()
        st.warning(t(e.key, **e.values))
        return
    state.once("jobs", {})[slot] = job
    st.rerun()


def job_of(slot: str):
    """This session's job in `slot`, or None."""
    return state.once("jobs", {}).get(slot)


def open_in_editor(start, code: torch.Tensor) -> None:
    """Send a code to the code editor and go there."""
    state.put("edit_request", (start, code.clone()))
    state.switch_page("pages/editor.py")


def select_model(name: str) -> None:
    """Make `name` the current model from anywhere (takes effect on the next run)."""
    state.put("pending_model", name)


# -- the sidebar -------------------------------------------------------------------------------------

BOUND = (Key.LANG, Key.DATA, Key.MODEL)  # the sidebar's pickers, kept in the link


def _keep() -> None:
    kept = state.once("kept", {})
    for key in BOUND:
        if key in st.session_state:
            kept[key] = st.session_state[key]


def sidebar(where: str | None = None) -> ModelInfo | None:
    """Language, dataset and model pickers, all kept in the URL, and in shared mode who is working.
    `where` is the page this run was asked for (None when not known). Returns the current model."""
    visitor.adopt_link_key()
    if visitor.shared_mode():
        with st.sidebar:
            who()  # first: the visitor's models depend on it
    models, bad = all_models()
    pending = state.pop("pending_model")
    # The model a link asks for is kept from the session's first run until this visitor's models are
    # known (a classroom visitor's may arrive one run later): then it is opened, or said to be out of reach.
    asked = state.once("asked_model", state.link(Link.MODEL) or "")
    if asked and visitor.current().workspace is not None:
        state.put("asked_model", "")
        if asked in models:
            pending = pending or asked
        else:  # said on every run of this page (the pickers' own rerun would otherwise take it away at once)
            state.put("not_visible", (asked, where))
    if (said := state.get("not_visible")) is not None:
        if said[1] == where:
            st.warning(t("model_not_visible", name=said[0][:80]))
        else:
            state.put("not_visible", None)
    # A picker's value that came from the opening link alone falls back to its default on the next
    # page: on a change of page, what this session showed last (or the person chose: on_change) is put back.
    moved = where is not None and state.get("where") != where
    if where is not None:
        state.put("where", where)
    kept = state.once("kept", {})
    for key in BOUND:
        if moved and key in kept:
            st.session_state[key] = kept[key]
    if pending in models:
        st.session_state[Key.DATA] = models[pending].config.dataset
        st.session_state[Key.MODEL] = pending
    with st.sidebar:
        # Bound widgets put the shown label in the link, so the options are the labels themselves.
        st.selectbox(t("language"), list(LANGUAGES.values()), key=Key.LANG, bind="query-params", on_change=_keep)
        data = st.selectbox(t("dataset"), DATASETS, format_func=DATASET_TITLES.get, key=Key.DATA, bind="query-params",
                            on_change=_keep)
        names = [n for n, i in models.items() if i.config.dataset == data]
        if not names:
            st.info(t("no_models"))
            _keep()
            return None
        if st.session_state.get(Key.MODEL) not in names:
            st.session_state[Key.MODEL] = names[0]
        name = st.selectbox(t("model"), names, key=Key.MODEL, bind="query-params", on_change=_keep)
        if models[name].source != "shipped":
            st.caption(t(f"source_{models[name].source}_note"))
        if bad:
            st.caption(t("unreadable_models", n=bad))
    _keep()
    return models[name]


def who() -> None:
    """Shared mode: sign in or out, or (without sign-in) the browser's workspace key."""
    if visitor.login_configured():
        person = visitor.current()
        if person.workspace is None:
            st.caption(t("signin_needed"))
            st.button(t("signin"), on_click=st.login)
        else:
            st.caption(t("signed_in_as", email=person.email))
            st.button(t("signout"), on_click=st.logout)
    else:
        visitor.remember_browser_key()


# -- small views ----------------------------------------------------------------------------------------

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
