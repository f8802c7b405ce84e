"""The code editor's state as short URL query parameters, so a link shows the same screen.

    ?model=mnist-cnn-ae-16&start=test-42&z=0.12,-1.3,...
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch

MAX_ABS = 1e4  # no code value in a trained model comes near this


@dataclass(frozen=True)
class Start:
    """Where an edit starts: a test digit, the mean code, zeros, or a code sent from elsewhere
    (a drawn digit, a point of a map), which then travels in the link as ?z=."""
    kind: str          # "test" | "mean" | "zeros" | "code"
    index: int = 0     # test image index when kind == "test"

    def to_param(self) -> str:
        return f"test-{self.index}" if self.kind == "test" else self.kind


def parse_start(text: str | None, n_test: int) -> Start:
    """Parse ?start=...; anything unreadable or out of range raises ValueError with the reason."""
    if not text:
        return Start("test", 0)
    if text in ("mean", "zeros", "code"):
        return Start(text)
    m = re.fullmatch(r"test-(\d{1,6})", text)
    if not m:
        raise ValueError(f"The start {text!r} in the link is not 'mean', 'zeros', 'code' or 'test-N'.")
    index = int(m.group(1))
    if index >= n_test:
        raise ValueError(f"The link asks for test digit {index}, but the test split has {n_test} digits (0 to {n_test - 1}).")
    return Start("test", index)


def encode_code(code: torch.Tensor, digits: int = 3) -> str:
    return ",".join(f"{v:.{digits}f}".rstrip("0").rstrip(".") or "0"
                    for v in code.reshape(-1).tolist())


def decode_code(text: str, code_dim: int) -> torch.Tensor:
    """Parse ?z=...; the wrong count or non-numbers raise ValueError with the reason."""
    parts = text.split(",")
    if len(parts) != code_dim:
        raise ValueError(f"The code in the link has {len(parts)} numbers, but this model's code has {code_dim}.")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError("The code in the link contains something that is not a number.") from None
    if not all(math.isfinite(v) and abs(v) <= MAX_ABS for v in values):
        raise ValueError(f"The code in the link has a value that is not finite or beyond ±{MAX_ABS:g}.")
    return torch.tensor(values)


def parse_link(start: str | None, code: str | None, code_dim: int, n_test: int) -> tuple[Start, torch.Tensor | None]:
    """The editor's ?start= and ?z= together; ValueError says what in the link is wrong."""
    begin = parse_start(start, n_test)
    z = decode_code(code, code_dim) if code is not None else None
    if begin.kind == "code" and z is None:
        raise ValueError("The link starts from a code but does not include one (?z=...).")
    return begin, z


def parse_bounded_int(text: str | None, lo: int, hi: int, what: str) -> int | None:
    """An integer setting from the URL; None when absent, ValueError when unreadable or out of range."""
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"The {what} in the link, {text!r}, is not a whole number; it must be from {lo} to {hi}.") from None
    if not lo <= value <= hi:
        raise ValueError(f"The {what} in the link, {value}, is outside the allowed range {lo} to {hi}.")
    return value
