"""The app's state in short URL query parameters, so that a link shows the same screen.

    ?model=mnist-cnn-ae-16&start=test-42&z=0.12,-1.3,...

A link is user input: everything read from it is checked, and what is wrong is raised as a
`LinkError` whose `key` and `values` the page turns into a sentence in its own language.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch

from .sent import MAX_ABS

MAX_TEXT = 4000    # characters of a code in a link (64 numbers need far fewer)


class LinkError(ValueError):
    """Something in a link cannot be used: `key` names what (a key of the interface's strings,
    prefixed with 'link_'), `values` fill its blanks."""

    def __init__(self, key: str, **values):
        self.key, self.values = key, values
        super().__init__(f"link_{key}: {values}")


@dataclass(frozen=True)
class Start:
    """Where an edit starts: a test digit, the mean code, zeros, or a code sent from elsewhere
    (a drawn digit, a point of a map), which then travels in the link as ?z=."""
    kind: str          # "test" | "mean" | "zeros" | "code"
    index: int = 0     # test image index when kind == "test"

    def to_param(self) -> str:
        return f"test-{self.index}" if self.kind == "test" else self.kind


def _cut(text: str) -> str:
    return text if len(text) <= 40 else text[:40] + "…"


def parse_start(text: str | None, n_test: int) -> Start:
    """Parse ?start=...; anything unreadable or out of range raises LinkError."""
    if not text:
        return Start("test", 0)
    if text in ("mean", "zeros", "code"):
        return Start(text)
    m = re.fullmatch(r"test-(\d{1,6})", text)
    if not m:
        raise LinkError("bad_start", text=_cut(text))
    index = int(m.group(1))
    if index >= n_test:
        raise LinkError("start_range", index=index, n=n_test, last=n_test - 1)
    return Start("test", index)


def code_to_text(code: torch.Tensor, digits: int = 3) -> str:
    """A code as the comma-separated numbers a link carries (?z=...)."""
    return ",".join(f"{v:.{digits}f}".rstrip("0").rstrip(".") or "0" for v in code.reshape(-1).tolist())


def code_from_text(text: str, code_dim: int) -> torch.Tensor:
    """The code in a link (?z=...); the wrong count or non-numbers raise LinkError."""
    if len(text) > MAX_TEXT:
        raise LinkError("code_long")
    parts = text.split(",")
    if len(parts) != code_dim:
        raise LinkError("code_count", n=len(parts), k=code_dim)
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise LinkError("code_nan") from None
    if not all(math.isfinite(v) and abs(v) <= MAX_ABS for v in values):
        raise LinkError("code_range", limit=f"{MAX_ABS:g}")
    return torch.tensor(values)


def parse_link(start: str | None, code: str | None, code_dim: int, n_test: int) -> tuple[Start, torch.Tensor | None]:
    """The editor's ?start= and ?z= together."""
    begin = parse_start(start, n_test)
    z = code_from_text(code, code_dim) if code is not None else None
    if begin.kind == "code" and z is None:
        raise LinkError("code_missing")
    return begin, z


def parse_bounded_int(text: str | None, lo: int, hi: int, what: str) -> int | None:
    """An integer setting from the URL; None when absent, LinkError when unreadable or out of range."""
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        raise LinkError("not_whole", what=what, text=_cut(text), lo=lo, hi=hi) from None
    if not lo <= value <= hi:
        raise LinkError("out_of_range", what=what, value=value, lo=lo, hi=hi)
    return value
