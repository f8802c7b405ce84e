"""The lesson's words for its element: every step's title, sentences, task and what it says when the
task is done, in the page's language, with the step's own digits and classes filled in."""
from __future__ import annotations

from ..data import class_names
from .text import text

STEPS = ("encoder", "numbers", "plane", "map", "classifier", "loss", "transfer", "arithmetic")
WIDGETS = ("reads", "input", "decoded", "dim", "reset", "clear", "encoder", "decoder", "code", "play", "epoch", "missing",
           "all", "right", "wrong", "axis", "bolder")


def step_texts(lang: str, dataset: str, roles: dict, tasks: dict) -> dict:
    names = class_names(dataset)
    k = roles["enc"].config.code_dim
    a, b = (names[c] for c in tasks["flip"])
    x, y = (names[c] for c in tasks["arith"])
    fill = {"k": k, "a": a, "b": b, "d": names[tasks["plane"]], "x": x, "y": y}
    words = {w: text(lang, f"lesson_{w}") for w in WIDGETS}
    words["count"] = text(lang, "lesson_count", k="{k}")
    words.update(probe_code=text(lang, "probe_code", k=k), probe_pixels=text(lang, "probe_pixels"),
                 probe_pca=text(lang, "probe_pca_column", k=k))
    steps = []
    for i, _ in enumerate(STEPS, 1):
        own = {**fill, "d": names[tasks["misread"]]} if i == 5 else fill
        steps.append({**words, "title": text(lang, f"lesson_s{i}_title"),
                      "body": [text(lang, f"lesson_s{i}_body{j}", **own) for j in (1, 2)],
                      "task": text(lang, f"lesson_s{i}_task", **own), "done": text(lang, f"lesson_s{i}_done", **own)})
    return {"steps": steps, "step_of": text(lang, "lesson_step_of", i="{i}", n="{n}"), "follow": text(lang, "lesson_follow"),
            "stop_following": text(lang, "lesson_stop_following"), "leading": text(lang, "lesson_leading")}
