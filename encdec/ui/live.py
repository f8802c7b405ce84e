"""The in-page element (Streamlit Components v2, no iframe) that runs the models in the browser.

Its JavaScript is the chapters in live/ beside this file, joined in the order of their names into the
one ES module the page loads (no bundler, no build step). One component serves every view; a view is
mounted with a small description (JSON): what it shows, the addresses of the blobs it fetches itself
(blobs.py) and its words in the page's language. Every mount has a key, so a new model or a new start
never remounts what the hand is using.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from . import state

HERE = Path(__file__).resolve().parent
CHAPTERS = sorted((HERE / "live").glob("*.js"))


def module_text() -> str:
    """The element's whole module: the chapters, joined in order (the browser tests load the same text)."""
    return "\n".join(p.read_text(encoding="utf-8") for p in CHAPTERS)


# Not in a shadow root: its styles are all under .live, and tests and tools can find its parts.
_element = st.components.v2.component("encdec_live", js=module_text(), css=(HERE / "live.css").read_text(encoding="utf-8"),
                                      isolate_styles=False)


def _noop() -> None:
    """State changes are read from the element's result; nothing to do in a callback."""


def view(key: str, data: dict, **sends) -> object:
    """Mount a view (`data["view"]`) and return its result; `sends` names the values the view may send
    back (each gets its own change callback)."""
    return _element(key=key, data=data, **{f"on_{name}_change": _noop for name in sends}, default=sends or None)


def sent(key: str, name: str):
    """The value `name` a view sent back last, read before the view is mounted in this run."""
    return state.element_value(key, name)
