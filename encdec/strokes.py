"""Digits written with a pen, made by code, in the ways people are taught to write them.

MNIST's writers were American: their 1 is mostly a plain stick, their 7 has no bar, their 4 is
mostly closed. A child elsewhere writes a 1 with a flag and a foot, crosses the 7, leaves the 4
open, gives the 9 a curved tail, or writes serif or script forms. Each digit here has several
such forms (`FORMS`), each a few strokes with random proportions, written by a random hand
(slant, rotation, width, a smooth bend, a pen from thin to thick) at a random place and size on a
280x280 box like the Draw page's, and made 28x28 by the app's own `digitize.to_mnist`.

Classifiers see these digits beside MNIST's (the `styles` augmentation, `augment.py`); the
held-out checks in `bench/` are made by other code (other strokes, and fonts).

    images, labels = strokes.digits(1000, seed=0)   # uint8 (1000, 28, 28), int64 (1000,)
"""
from __future__ import annotations

import functools
import math

import numpy as np

BOX = 280  # the Draw page's canvas, in pixels


# -- strokes in a unit box: x to the right, y down, the digit about 1 high -------------------------

def line(*points) -> np.ndarray:
    """A polyline through `points`, with enough points along each piece to bend smoothly."""
    out = [np.asarray(points[0], dtype=np.float64)[None]]
    for a, b in zip(points[:-1], points[1:]):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        n = max(2, int(np.hypot(*(b - a)) * 24) + 1)
        out.append(a + (b - a) * np.linspace(0, 1, n)[1:, None])
    return np.concatenate(out)


def arc(cx, cy, rx, ry, start, end, n: int = 0) -> np.ndarray:
    """An ellipse's arc from angle `start` to `end` in degrees (0 = right, 90 = down); any sweep, either way."""
    n = n or max(6, int(abs(end - start) / 8))
    a = np.radians(np.linspace(start, end, n))
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], 1)


def curve(*control) -> np.ndarray:
    """A Bezier curve through its first and last control points (three or four of them)."""
    p = np.asarray(control, dtype=np.float64)
    t = np.linspace(0, 1, 20)[:, None]
    if len(p) == 3:
        return (1 - t) ** 2 * p[0] + 2 * (1 - t) * t * p[1] + t ** 2 * p[2]
    return (1 - t) ** 3 * p[0] + 3 * (1 - t) ** 2 * t * p[1] + 3 * (1 - t) * t ** 2 * p[2] + t ** 3 * p[3]


def joined(*parts) -> np.ndarray:
    """One stroke from pieces drawn one after the other without lifting the pen."""
    return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts])


# -- the forms of each digit: functions of a random generator, returning strokes -------------------

def _zero(r):
    rx, start = r.uniform(0.2, 0.42), r.uniform(-120, -60)
    sweep = r.choice([-1, 1]) * r.uniform(345, 385)
    return [arc(0.5, 0.5, rx, 0.5, start, start + sweep)]


def _zero_pointed(r):
    top, w = r.uniform(0.4, 0.6), r.uniform(0.25, 0.4)
    return [joined(curve((top, 0), (0.5 - w * 1.6, 0.2), (0.5 - w * 1.4, 1.05), (0.5, 1.0)),
                   curve((0.5, 1.0), (0.5 + w * 1.4, 0.95), (0.5 + w * 1.6, 0.15), (top + 0.02, 0.03)))]


def _one_stick(r):
    return [line((0.5 + r.uniform(-0.06, 0.06), 0), (0.5, 1))]


def _one_flag(r, foot=False, long=False):
    """A 1 with a flag at the top (a stroke up to the stem's top, at least 25 degrees steep, so it
    never reads as a 7's bar), with or without a foot."""
    reach = r.uniform(0.2, 0.36) if long else r.uniform(0.08, 0.24)
    drop = reach * r.uniform(0.55, 1.3)
    stem = [(0.55 - reach, drop), (0.55, 0), (0.55 + r.uniform(-0.05, 0.03), 1)]
    flag = line(*stem[:2])
    if r.random() < 0.3:  # a curved flag, written in one swing, bulging down
        flag = curve(stem[0], (0.55 - reach * 0.35, drop * 0.75), stem[1])
    strokes = [joined(flag, line(*stem[1:])[1:])]
    if foot:
        w = r.uniform(0.14, 0.32)
        strokes.append(line((0.55 - w, 1), (0.55 + w * r.uniform(0.8, 1.2), 1)))
    return strokes


def _two(r):
    top = arc(0.5, 0.3, r.uniform(0.26, 0.34), r.uniform(0.22, 0.3), r.uniform(180, 215), r.uniform(355, 400))
    return [joined(top, line(top[-1], (r.uniform(0.08, 0.2), 1))[1:], line((0.12, 1), (r.uniform(0.78, 0.98), 1))[1:])]


def _two_loop(r):
    """A script 2: the diagonal curls into a small loop where it meets the base."""
    top = arc(0.5, 0.3, r.uniform(0.26, 0.34), 0.27, r.uniform(185, 215), r.uniform(360, 400))
    radius, cx = r.uniform(0.06, 0.12), r.uniform(0.22, 0.32)
    loop = arc(cx, 1 - 1.2 * radius, radius, radius, 120, 380)
    return [joined(top, line(top[-1], loop[0])[1:], loop[1:],
                   line(loop[-1], (cx + radius, 1), (r.uniform(0.8, 0.98), 0.97 + r.uniform(-0.03, 0.02)))[1:])]


def _two_curly(r):
    """A 2 whose top swings and whose base waves."""
    return [joined(curve((0.15, 0.25), (0.35, -0.08), (0.85, 0.0), (0.7, 0.42)),
                   curve((0.7, 0.42), (0.5, 0.65), (0.15, 0.9), (0.12, 1.0))[1:],
                   curve((0.12, 1.0), (0.4, 0.9), (0.65, 1.05), (0.92, 0.94))[1:])]


def _three(r):
    up, down = r.uniform(0.22, 0.32), r.uniform(0.26, 0.36)
    return [joined(arc(0.5, 0.26, up, 0.25, r.uniform(175, 225), 450),
                   arc(0.5, 0.74, down, 0.26, 270, r.uniform(495, 545))[1:])]


def _three_flat(r):
    """A 3 with a flat top, as in print and in many schools."""
    left = r.uniform(0.12, 0.25)
    bowl = arc(0.5, 0.7, r.uniform(0.28, 0.36), 0.3, 250, r.uniform(500, 540))
    return [joined(line((left, 0), (0.82, 0), (0.42, 0.42)), line((0.42, 0.42), bowl[0])[1:], bowl[1:])]


def _four_closed(r, foot=False):
    stem_x = r.uniform(0.58, 0.72)
    bar = r.uniform(0.58, 0.75)
    strokes = [line((stem_x, 0), (r.uniform(0.04, 0.16), bar), (r.uniform(0.86, 1.0), bar)),
               line((stem_x, r.uniform(0.0, 0.15)), (stem_x + r.uniform(-0.04, 0.04), 1))]
    if foot:
        strokes.append(line((stem_x - 0.16, 1), (stem_x + 0.16, 1)))
    return strokes


def _four_open(r):
    """An open 4: the left stroke and the stem never meet at the top."""
    left_top = r.uniform(0.1, 0.35)
    bar = r.uniform(0.52, 0.7)
    stem_x = r.uniform(0.6, 0.75)
    return [line((left_top, 0), (r.uniform(0.06, 0.2), bar), (r.uniform(0.85, 1.0), bar)),
            line((stem_x, r.uniform(0.0, 0.3)), (stem_x + r.uniform(-0.06, 0.02), 1))]


def _five(r, one_stroke=False):
    stem_top, stem_x = (0.25, 0), r.uniform(0.18, 0.3)
    bowl = arc(0.48, 0.68, r.uniform(0.3, 0.38), r.uniform(0.26, 0.32), 225, r.uniform(495, 535))
    body = joined(line(stem_top, (stem_x, 0.45)), line((stem_x, 0.45), bowl[0])[1:], bowl[1:])
    bar_end = (r.uniform(0.72, 0.95), r.uniform(-0.04, 0.04))
    if one_stroke:
        return [joined(line(bar_end, stem_top), body[1:])]
    return [body, line(stem_top, bar_end)]


def _six(r, straight=False):
    radius = r.uniform(0.2, 0.33)
    cy = 1 - radius
    loop = arc(0.5, cy, radius, radius * r.uniform(0.85, 1.05), 180, -180)
    start = (r.uniform(0.6, 0.8), 0)
    if straight:
        stem = line(start, (0.5 - radius + 0.02, cy - 0.05))
    else:
        stem = curve(start, (0.5 - radius * 0.9, r.uniform(0.02, 0.15)), (0.5 - radius, cy - 0.05), loop[0])
    return [joined(stem, loop[1:])]


def _seven(r, bar=False, tick=False, curved=False):
    left, right = r.uniform(0.05, 0.2), r.uniform(0.8, 0.98)
    foot = (r.uniform(0.28, 0.55), 1)
    stem = curve((right, 0), (r.uniform(0.55, 0.75), 0.4), foot) if curved else line((right, 0), foot)
    top = line((left, r.uniform(0.12, 0.25)), (left, 0), (right, 0)) if tick else line((left, r.uniform(-0.03, 0.05)), (right, 0))
    strokes = [joined(top, stem[1:])]
    if bar:
        y = r.uniform(0.42, 0.58)
        x_on_stem = right + (foot[0] - right) * y
        w = r.uniform(0.18, 0.3)
        strokes.append(line((x_on_stem - w, y), (x_on_stem + w * r.uniform(0.6, 1.0), y + r.uniform(-0.04, 0.02))))
    return strokes


def _eight(r):
    n = 64
    top_w, bottom_w = r.uniform(0.18, 0.28), r.uniform(0.25, 0.36)
    waist = r.uniform(0.4, 0.52)
    t = np.linspace(0, 2 * math.pi, n) + (math.pi if r.random() < 0.5 else 0)
    y = 0.5 - 0.5 * np.cos(t)
    w = np.where(y < waist, top_w, bottom_w)
    return [np.stack([0.5 + w * np.sin(2 * t), y], 1)]


def _eight_loops(r):
    top = r.uniform(0.18, 0.26)
    bottom = r.uniform(0.24, 0.33)
    return [arc(0.5, top, r.uniform(0.16, 0.26), top, 90, 450),
            arc(0.5, 2 * top + bottom, r.uniform(0.24, 0.34), bottom, -90, 270)]


def _nine(r, tail="straight"):
    radius = r.uniform(0.2, 0.32)
    cx, cy = 0.45, radius
    loop = arc(cx, cy, radius, radius * r.uniform(0.85, 1.1), 0, -360)
    x0 = cx + radius
    if tail == "straight":
        end = line((x0, cy), (x0 + r.uniform(-0.12, 0.03), 1))
    elif tail == "curved":
        end = curve((x0, cy), (x0 + 0.02, 0.75), (x0 - 0.1, 1.02), (x0 - r.uniform(0.35, 0.5), r.uniform(0.85, 0.95)))
    else:  # a serif tail: straight, then a small hook to the left
        end = joined(line((x0, cy), (x0, 0.9)), arc(x0 - 0.1, 0.9, 0.1, 0.1, 0, 135)[1:])
    return [joined(loop, end[1:])]


FORMS = {
    0: [_zero, _zero, _zero_pointed],
    1: [_one_stick, _one_flag, lambda r: _one_flag(r, foot=True), lambda r: _one_flag(r, long=True),
        lambda r: _one_flag(r, foot=True, long=True)],
    2: [_two, _two, _two_loop, _two_curly],
    3: [_three, _three, _three_flat],
    4: [_four_closed, _four_open, _four_open, lambda r: _four_closed(r, foot=True)],
    5: [_five, lambda r: _five(r, one_stroke=True)],
    6: [_six, lambda r: _six(r, straight=True)],
    7: [_seven, lambda r: _seven(r, bar=True), lambda r: _seven(r, tick=True), lambda r: _seven(r, curved=True),
        lambda r: _seven(r, bar=True, curved=True)],
    8: [_eight, _eight_loops],
    9: [_nine, lambda r: _nine(r, "curved"), lambda r: _nine(r, "serif")],
}


# -- a hand and a pen -----------------------------------------------------------------------------------

def _hand(points: np.ndarray, r: np.random.Generator) -> np.ndarray:
    """The same strokes as a random person writes them: a smooth bend, slant, width and rotation."""
    x, y = points[:, 0].copy(), points[:, 1].copy()
    for _ in range(2):
        kx, ky = r.uniform(0.4, 1.6, 2)
        phase = r.uniform(0, 2 * math.pi, 2)
        amp = r.normal(0, 0.03, 2)
        x, y = x + amp[0] * np.sin(2 * math.pi * ky * y + phase[0]), y + amp[1] * np.sin(2 * math.pi * kx * x + phase[1])
    slant = r.uniform(-0.45, 0.35)               # x moves right as y goes up: most people lean right
    width = r.uniform(0.6, 1.25)
    angle = math.radians(float(np.clip(r.normal(0, 7), -16, 16)))
    x, y = (x - 0.5) * width + slant * (0.5 - y), y - 0.5
    c, s = math.cos(angle), math.sin(angle)
    return np.stack([c * x - s * y, s * x + c * y], 1)


def render(strokes, pen: float, size: int = BOX) -> np.ndarray:
    """Strokes in box pixels -> ink (size, size) in [0, 1], drawn by a round pen at twice the size and
    averaged down (the soft edges a browser's canvas gives)."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (2 * size, 2 * size), 0)
    draw = ImageDraw.Draw(img)
    width, radius = max(1, int(round(2 * pen))), pen
    for stroke in strokes:
        pts = [(2 * float(px), 2 * float(py)) for px, py in stroke]
        if len(pts) > 1:
            draw.line(pts, fill=255, width=width, joint="curve")
        for px, py in (pts[0], pts[-1]):
            draw.ellipse((px - radius, py - radius, px + radius, py + radius), fill=255)
    return np.asarray(img.resize((size, size), Image.BOX), dtype=np.float32) / 255.0


def written(digit: int, r: np.random.Generator, form: int | None = None) -> tuple[list[np.ndarray], float]:
    """One way of writing `digit` (a random form unless `form` is given), placed on the box: its
    strokes in box pixels and the pen's width."""
    forms = FORMS[digit]
    strokes = forms[r.integers(len(forms)) if form is None else form % len(forms)](r)
    flat = _hand(np.concatenate(strokes), r)
    lo, hi = flat.min(0), flat.max(0)
    height = r.uniform(100, 240)                 # how tall the digit is on the box
    scale = height / max(hi[1] - lo[1], 1e-6)
    pen = float(np.clip(r.lognormal(math.log(15), 0.45), 4, 38)) * (0.45 + 0.55 * height / 240)
    span = (hi - lo) * scale
    origin = r.uniform(0, 1, 2) * np.maximum(BOX - span - pen, 0) + pen / 2
    placed, at = [], 0
    for s in strokes:
        placed.append((flat[at:at + len(s)] - lo) * scale + origin)
        at += len(s)
    return placed, pen


@functools.lru_cache(maxsize=4)
def digits(n: int, seed: int = 0, box: int = BOX // 2) -> tuple[np.ndarray, np.ndarray]:
    """`n` written digits (classes in turn, forms at random), made 28x28 by `digitize.to_mnist`:
    uint8 images (n, 28, 28) and int64 labels (n,). The same (n, seed) gives the same digits.
    They are drawn on a box of `box` pixels (half the page's by default: to_mnist shrinks every
    digit to 20 pixels, so the result hardly differs, and it is four times less to draw)."""
    from .digitize import to_mnist

    r = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    labels = np.arange(n, dtype=np.int64) % 10
    for i, digit in enumerate(labels):
        strokes, pen = written(int(digit), r)
        shrink = box / BOX
        images[i] = np.round(to_mnist(render([s * shrink for s in strokes], pen * shrink, box)).numpy() * 255)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels
