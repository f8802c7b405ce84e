"""What a page's element sends back to Python (a code on release, a drawn digit, a place on a map)
is user input like any other: it is checked here, in one place."""
from __future__ import annotations

import math

MAX_ABS = 1e4  # no code value of a trained model comes near this


def numbers(values, n: int, limit: float = MAX_ABS) -> list[float] | None:
    """`n` plain finite numbers, each within +-limit, from what a page sent back; None for anything
    else (a wrong count, text, booleans, NaN, infinities, integers beyond a float's range)."""
    if not isinstance(values, (list, tuple)) or len(values) != n:
        return None
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        try:
            v = float(v)
        except OverflowError:  # an integer with hundreds of digits
            return None
        if not math.isfinite(v) or abs(v) > limit:
            return None
        out.append(v)
    return out
