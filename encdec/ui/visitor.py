"""Who is using this session, and which models are theirs.

Local mode (the default): one person, everything in ENCDEC_HOME/models. Shared mode (ENCDEC_SHARED=1,
or Streamlit's sign-in configured in .streamlit/secrets.toml): each visitor works in a private
workspace: the signed-in user's, or else one named by an unguessable key that the browser keeps
in its localStorage and in a cookie of this site (the live element writes both; the cookie lets a new
page of the same browser be known at its very first run). A personal link (?workspace=KEY) opens
the same workspace in another browser; the key is taken out of the address at once and never
goes into any link the app makes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from .. import settings, workspace
from ..store import ModelStore, shipped_store_dir
from ..workspace import Workspace
from . import state
from .state import Key, Link

COOKIE = "encdec_key"  # written by the element's workspace view (live/16-workspace.js)


@dataclass(frozen=True)
class Visitor:
    shared: bool
    workspace: Workspace | None      # None until a shared visitor's browser has told its key
    teacher: bool = False
    email: str | None = None


def _secret(*path: str):
    """A value from .streamlit/secrets.toml, or None (there may be no secrets file at all)."""
    try:
        value = st.secrets
        for part in path:
            value = value[part]
        return value
    except Exception:  # no file, no section, no key
        return None


def login_configured() -> bool:
    return _secret("auth") is not None


def teacher_password() -> str | None:
    """From secrets.toml ([encdec] teacher_password), else ENCDEC_TEACHER_PASSWORD."""
    return _secret("encdec", "teacher_password") or os.environ.get("ENCDEC_TEACHER_PASSWORD") or None


def shared_mode() -> bool:
    return settings.shared() or login_configured()


def current() -> Visitor:
    """This session's visitor (read again at each run: a key or a sign-in can arrive at any run)."""
    home = settings.home()
    if not shared_mode():
        return Visitor(False, workspace.local(home))
    if login_configured():
        user = st.user
        if not getattr(user, "is_logged_in", False):
            return Visitor(True, None)
        email = str(user.get("email") or user.get("sub") or "")
        ws = workspace.for_user(home, email) if email else None
        return Visitor(True, ws, teacher=email.lower() in settings.teachers() or _teacher(ws), email=email)
    key = state.get("workspace_key")
    if not workspace.valid_key(key):
        key = _cookie_key()
        if key is not None:
            state.put("workspace_key", key)
    ws = workspace.for_key(home, key) if workspace.valid_key(key) else None
    return Visitor(True, ws, teacher=_teacher(ws))


def _cookie_key() -> str | None:
    try:
        key = st.context.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 - no request context (a test harness)
        return None
    return key if workspace.valid_key(key) else None


def _teacher(ws: Workspace | None) -> bool:
    return ws is not None and ws.is_teacher(teacher_password())


def adopt_link_key() -> None:
    """A personal link's key becomes this session's, and leaves the address before anything else runs."""
    key = state.link(Link.WORKSPACE)
    if key is not None:
        state.drop_link(Link.WORKSPACE)
        if workspace.valid_key(key):
            state.put("workspace_key", key)
            state.put("workspace_from_link", True)


def remember_browser_key() -> None:
    """Shared mode without sign-in: the live element gives the browser's key (making one the first
    time, keeping it in localStorage) and adopts a key that came with a personal link."""
    from . import live

    adopted = state.get("workspace_key") if state.pop("workspace_from_link", False) else None
    if not workspace.valid_key(state.get("workspace_key")) and (cookie := _cookie_key()) is not None:
        state.put("workspace_key", cookie)  # a browser seen before: known from this first run, no second run
    known = workspace.valid_key(state.get("workspace_key"))
    sent = live.view(Key.WORKSPACE_VIEW, {"view": "workspace", "adopt": adopted, "known": known}, browser_key=None).browser_key
    if not known and workspace.valid_key(sent):
        state.put("workspace_key", sent)  # this very run goes on with the visitor's workspace


def shipped_store() -> ModelStore:
    return ModelStore(shipped_store_dir(), shipped=True)


def class_store() -> ModelStore | None:
    return workspace.class_store(settings.home()) if shared_mode() else None


def my_store() -> ModelStore | None:
    """Where this visitor's own models are saved (None until a shared visitor's key has arrived);
    the shipped models' names stay free."""
    ws = current().workspace
    return ws.store(reserved=[i.name for i in shipped_store().list()]) if ws is not None else None
