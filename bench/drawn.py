"""A held-out set of drawn digits that never came from MNIST, made by code so anyone can remake it.

Each digit is a few pen strokes (polylines in a unit box, several ways of writing most digits),
bent by a random smooth warp, slanted, squeezed and rotated, drawn with a round pen of random
width at a random place and size on a 280x280 black canvas (the Draw page's box), and then made
28x28 by the app's own `encdec.digitize.to_mnist`. Nothing here is fitted to any model.

    python -m bench.drawn --out drawn.png     # a contact sheet of the set
"""
from __future__ import annotations

import math

import numpy as np

CANVAS = 280


def _arc(cx, cy, rx, ry, a0, a1, n=24):
    """Points on an ellipse from angle a0 to a1 (degrees; 0 = right, 90 = down, as on a screen)."""
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in np.linspace(a0, a1, n)]


def _bezier(a, b, c, n=16):
    """A quadratic curve from a to c, pulled towards b."""
    return [((1 - t) ** 2 * a[0] + 2 * (1 - t) * t * b[0] + t * t * c[0],
             (1 - t) ** 2 * a[1] + 2 * (1 - t) * t * b[1] + t * t * c[1]) for t in np.linspace(0, 1, n)]


def _eight(n=64):
    """A figure eight in one stroke, crossing itself in the middle."""
    pts = []
    for t in np.linspace(0, 2 * math.pi, n):
        y = 0.5 - 0.5 * math.cos(t)
        width = 0.26 if y < 0.5 else 0.32
        pts.append((0.5 + width * math.sin(2 * t), y))
    return pts


def _u(rng, lo, hi):
    return float(rng.uniform(lo, hi))


# Each digit: ways of writing it, each a function of a random generator returning strokes;
# each stroke is a list of points (x, y) in about [0, 1], y down. Loops, tails and bars vary in size.
WAYS = {
    0: [lambda r: [_arc(0.5, 0.5, _u(r, 0.2, 0.4), 0.48, _u(r, -120, -60), _u(r, 250, 300), 40)]],
    1: [lambda r: [[(0.5, 0.0), (0.5 + _u(r, -0.05, 0.05), 1.0)]],
        lambda r: [[(0.5 - _u(r, 0.12, 0.25), _u(r, 0.12, 0.25)), (0.52, 0.0), (0.52, 1.0)]],
        lambda r: [[(0.3, 0.2), (0.52, 0.0), (0.52, 1.0)], [(_u(r, 0.2, 0.35), 1.0), (_u(r, 0.7, 0.85), 1.0)]]],
    2: [lambda r: [_arc(0.5, 0.3, 0.3, _u(r, 0.22, 0.3), 190, _u(r, 370, 400)) + [(_u(r, 0.1, 0.2), 1.0), (_u(r, 0.75, 0.95), 1.0)]],
        lambda r: [_arc(0.5, 0.28, 0.32, 0.26, 200, 400) + [(0.2, 0.9)] + _arc(0.3, 0.93, 0.1, 0.07, 180, 360, 8)[1:] + [(0.88, 0.98)]]],
    3: [lambda r: [_arc(0.5, 0.27, _u(r, 0.24, 0.32), 0.25, _u(r, 180, 220), 450) + _arc(0.5, 0.74, _u(r, 0.28, 0.36), 0.26, 270, _u(r, 500, 540))[1:]],
        lambda r: [[(0.18, 0.02), (0.8, 0.02), (0.42, 0.42)] + _arc(0.5, 0.7, 0.32, 0.28, 250, 520)[1:]]],
    4: [lambda r: [[(0.62, 0.0), (0.1, _u(r, 0.55, 0.75)), (0.9, _u(r, 0.55, 0.75))], [(0.66, 0.0), (0.66, 1.0)]],
        lambda r: [[(_u(r, 0.15, 0.3), 0.0), (0.15, _u(r, 0.5, 0.65)), (0.85, 0.6)], [(0.68, _u(r, 0.0, 0.3)), (0.68, 1.0)]]],
    5: [lambda r: [[(_u(r, 0.7, 0.9), 0.0), (0.25, 0.0), (0.2, 0.45)] + _arc(0.48, 0.68, 0.34, 0.3, 230, _u(r, 500, 530))[1:]],
        lambda r: [[(0.25, 0.0), (0.2, 0.45)] + _arc(0.48, 0.68, 0.34, 0.3, 230, 520)[1:], [(0.25, 0.0), (_u(r, 0.7, 0.9), 0.0)]]],
    6: [lambda r: _six(r, straight=False), lambda r: _six(r, straight=True)],
    7: [lambda r: [[(0.12, 0.0), (0.85, 0.0), (_u(r, 0.3, 0.55), 1.0)]],
        lambda r: [[(0.12, 0.0), (0.85, 0.0), (0.42, 1.0)], [(0.3, 0.5), (0.75, 0.5)]],
        lambda r: [[(0.12, 0.15), (0.14, 0.0)] + _bezier((0.86, 0.02), (_u(r, 0.6, 0.75), 0.4), (_u(r, 0.4, 0.55), 1.0))]],
    8: [lambda r: [_eight()],
        lambda r: [_arc(0.5, 0.25, _u(r, 0.18, 0.27), 0.24, 90, 450, 28), _arc(0.5, 0.73, _u(r, 0.25, 0.34), 0.26, -90, 270, 30)]],
    9: [lambda r: _nine(r, curved=False), lambda r: _nine(r, curved=True)],
}


def _six(r, straight: bool):
    """A stem from the top right down into a closed loop at the bottom; the loop's size varies."""
    radius = _u(r, 0.2, 0.33)
    cy = 1.0 - radius
    loop = _arc(0.5, cy, radius, radius * _u(r, 0.85, 1.05), 180, -180, 36)
    if straight:
        return [[(_u(r, 0.55, 0.75), 0.0), (0.5 - radius + 0.02, cy - 0.1)] + loop]
    return [_arc(0.5 - radius + 0.55, cy, 0.55, cy, 270, 180) + loop[1:]]


def _nine(r, curved: bool):
    """A closed loop at the top and a tail down from its right side."""
    radius = _u(r, 0.2, 0.32)
    cx, cy = 0.45, radius
    loop = _arc(cx, cy, radius, radius * _u(r, 0.85, 1.1), 0, -360, 36)
    x0 = cx + radius
    if curved:
        return [loop + _arc(x0 - 0.4, cy, 0.4, 1.0 - cy, 0, 90, 12)[1:]]
    return [loop + [(x0 + _u(r, -0.1, 0.03), 1.0)]]


def _warp(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random smooth bend (low-frequency waves), then slant, squeeze and rotation."""
    x, y = points[:, 0], points[:, 1]
    for _ in range(2):
        fx, fy, px, py = rng.uniform(0.5, 1.5, 2).tolist() + rng.uniform(0, 2 * math.pi, 2).tolist()
        ax, ay = rng.normal(0, 0.035, 2)
        x, y = x + ax * np.sin(2 * math.pi * fy * y + py), y + ay * np.sin(2 * math.pi * fx * x + px)
    shear = rng.uniform(-0.5, 0.35)            # people lean their digits right more often
    width = rng.uniform(0.55, 1.2)
    angle = math.radians(np.clip(rng.normal(0, 7), -15, 15))
    x, y = (x - 0.5) * width + shear * (0.5 - y), y - 0.5
    c, s = math.cos(angle), math.sin(angle)
    return np.stack([c * x - s * y, s * x + c * y], 1)


def render(strokes, pen: float, scale: int = 2) -> np.ndarray:
    """Strokes in canvas pixels -> ink in [0,1], drawn by a round pen and anti-aliased (like a canvas)."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (CANVAS * scale, CANVAS * scale), 0)
    draw = ImageDraw.Draw(img)
    r = pen * scale / 2
    for stroke in strokes:
        pts = [(float(x) * scale, float(y) * scale) for x, y in stroke]
        draw.line(pts, fill=255, width=int(round(pen * scale)), joint="curve")
        for x, y in (pts[0], pts[-1]):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    img = img.resize((CANVAS, CANVAS), Image.BOX)
    return np.asarray(img, dtype=np.float32) / 255.0


def strokes_for(digit: int, rng: np.random.Generator, way: int | None = None):
    """One random way of writing `digit`, as strokes in canvas pixels, and the pen width."""
    ways = WAYS[digit]
    chosen = (ways[rng.integers(len(ways))] if way is None else ways[way % len(ways)])(rng)
    flat = np.concatenate([np.asarray(s, dtype=np.float64) for s in chosen])
    warped = _warp(flat, rng)
    lo, hi = warped.min(0), warped.max(0)
    height = rng.uniform(110, 235)                                  # digit height on the canvas, px
    size = height / max(hi[1] - lo[1], 1e-6)
    pen = rng.uniform(7, 28) * (0.5 + 0.5 * height / 235)         # the Draw page's pen is 18 px
    span = (hi - lo) * size
    room = np.maximum(CANVAS - span - pen, 0)
    origin = rng.uniform(0, 1, 2) * room + pen / 2
    out, start = [], 0
    for s in chosen:
        part = warped[start:start + len(s)]
        start += len(s)
        out.append((part - lo) * size + origin)
    return out, pen


def drawn_digits(n_per_class: int = 120, seed: int = 2024):
    """(images (N,28,28) float32 in [0,1], labels (N,)) made with `encdec.digitize.to_mnist`."""
    from encdec.digitize import to_mnist

    rng = np.random.default_rng(seed)
    images, labels = [], []
    for digit in range(10):
        for i in range(n_per_class):
            strokes, pen = strokes_for(digit, rng)
            images.append(to_mnist(render(strokes, pen)).numpy())
            labels.append(digit)
    return np.stack(images), np.asarray(labels)


def sklearn_digits():
    """The 1,797 8x8 digits by 43 other writers bundled with scikit-learn (UCI), made 28x28 by
    `to_mnist`: low-resolution handwriting from another pen and scanner than MNIST's."""
    from sklearn.datasets import load_digits

    from encdec.digitize import to_mnist

    d = load_digits()
    return np.stack([to_mnist(img / 16.0).numpy() for img in d.images]), d.target.astype(np.int64)


def main(argv=None) -> int:
    import argparse

    import torch

    from encdec.imaging import grid, png_bytes

    p = argparse.ArgumentParser(prog="python -m bench.drawn", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="drawn.png")
    p.add_argument("--per-class", type=int, default=12)
    a = p.parse_args(argv)
    images, _ = drawn_digits(a.per_class)
    sheet = torch.from_numpy(images).reshape(10, a.per_class, 28, 28)
    with open(a.out, "wb") as f:
        f.write(png_bytes(grid(sheet), 2))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
