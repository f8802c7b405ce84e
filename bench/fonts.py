"""A held-out set of digits in printed, serif, script and handwriting fonts, made by other code than
the digits classifiers learn from (encdec/strokes.py) and than bench/drawn.py.

Every digit of every font found is set at a random size and place on a 280x280 box, turned and
slanted a little, thickened or thinned (the font's outline stroked or eroded), and made 28x28 by
`encdec.digitize.to_mnist`. Fonts come from the system (Debian: fonts-urw-base35 for serif and
script, fonts-comic-neue, fonts-bwht, fonts-dancingscript, fonts-kaushanscript, fonts-kristi,
fonts-humor-sans, fonts-dkg-handwriting, fonts-breip, fonts-femkeklaver, fonts-klee for
handwriting); the set is empty where there are none.

    python -m bench.fonts --out fonts.png    # a contact sheet, one row per font
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

BOX = 280
# Families whose digits are not ordinary digits (symbols, ornaments, old-style or missing figures).
SKIP = ("symbol", "dingbat", "d050000l", "initials", "keyboard", "math", "mono cjk", "cjk hk", "cjk kr",
        "cjk tc", "cjk jp", "display")
# What each family is, for the table (anything else is "print").
KINDS = {"serif": ("serif", "roman", "c059", "p052", "bookman", "libertine", "gentium", "times"),
         "script": ("z003", "script", "dancing", "kaushan", "typoscript", "kristi"),
         "handwriting": ("comic", "because we", "humor", "dkg", "breip", "femke", "klee", "andika")}


def kind_of(family: str) -> str:
    low = family.lower()
    return next((k for k, words in KINDS.items() if any(w in low for w in words)), "print")


def fonts() -> list[tuple[str, str]]:
    """(file, family) of every OpenType or TrueType font that fontconfig lists, symbols left out."""
    try:
        out = subprocess.run(["fc-list", ":", "file", "family"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = {}
    for line in out.splitlines():
        path, _, family = line.partition(": ")
        family = family.split(",")[0].strip()
        if path.endswith((".otf", ".ttf")) and not any(s in family.lower() for s in SKIP) and has_digits(path):
            found.setdefault(path, family)
    return sorted(found.items())


def has_digits(font_path: str) -> bool:
    """Whether the font draws digits of its own, not its 'missing glyph' box."""
    from PIL import Image, ImageDraw, ImageFont

    def drawn(text):
        img = Image.new("L", (64, 64), 0)
        ImageDraw.Draw(img).text((32, 32), text, fill=255, font=ImageFont.truetype(font_path, 40), anchor="mm")
        return img.tobytes()
    try:
        missing = drawn("\ue000")
        return all(drawn(str(d)) != missing for d in (0, 1, 7))
    except OSError:
        return False


def _digit(font_path: str, digit: int, rng: np.random.Generator) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    size = int(rng.uniform(120, 230))
    font = ImageFont.truetype(font_path, size)
    img = Image.new("L", (BOX * 2, BOX * 2), 0)
    draw = ImageDraw.Draw(img)
    bold = int(rng.choice([0, 0, 1, 2, 4, 7]))
    draw.text((BOX, BOX), str(digit), fill=255, font=font, anchor="mm", stroke_width=bold, stroke_fill=255)
    shear, angle = rng.uniform(-0.3, 0.25), rng.normal(0, 6)
    img = img.transform(img.size, Image.AFFINE, (1, shear, -shear * BOX, 0, 1, 0), resample=Image.BILINEAR)
    img = img.rotate(angle, resample=Image.BILINEAR)
    ink = np.asarray(img, dtype=np.float32) / 255.0
    if rng.random() < 0.25:  # a thinner pen than the font's
        from scipy import ndimage

        ink = ndimage.grey_erosion(ink, size=(3, 3))
    rows, cols = np.flatnonzero(ink.max(1) > 0.1), np.flatnonzero(ink.max(0) > 0.1)
    if len(rows) == 0:
        return ink[: BOX, : BOX] * 0
    # Put the digit somewhere on the box at its size (the box is what the Draw page has).
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    box = np.zeros((BOX, BOX), dtype=np.float32)
    h, w = min(crop.shape[0], BOX - 4), min(crop.shape[1], BOX - 4)
    top, left = (int(rng.integers(0, BOX - h + 1)), int(rng.integers(0, BOX - w + 1)))
    box[top:top + h, left:left + w] = crop[:h, :w]
    return box


def font_digits(per_font: int = 3, seed: int = 7):
    """(images (N, 28, 28) float32, labels (N,), kinds (N,) str) over every font found; N may be 0."""
    from encdec.digitize import DrawingError, to_mnist

    rng = np.random.default_rng(seed)
    images, labels, kinds = [], [], []
    for path, family in fonts():
        for digit in range(10):
            for _ in range(per_font):
                try:
                    images.append(to_mnist(_digit(path, digit, rng)).numpy())
                except (DrawingError, OSError):
                    continue  # a font without this digit
                labels.append(digit)
                kinds.append(kind_of(family))
    if not images:
        return np.zeros((0, 28, 28), np.float32), np.zeros(0, np.int64), np.zeros(0, str)
    return np.stack(images), np.asarray(labels), np.asarray(kinds)


def main(argv=None) -> int:
    import argparse

    import torch

    from encdec.imaging import grid, png_bytes

    p = argparse.ArgumentParser(prog="python -m bench.fonts", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="fonts.png")
    a = p.parse_args(argv)
    images, labels, _ = font_digits(per_font=1)
    rows = len(images) // 10
    sheet = torch.from_numpy(images[: rows * 10]).reshape(rows, 10, 28, 28)
    Path(a.out).write_bytes(png_bytes(grid(sheet[: min(rows, 60)]), 2))
    print(f"wrote {a.out}: {len(images)} digits in {len(fonts())} fonts")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
