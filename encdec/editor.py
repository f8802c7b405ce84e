"""The code editor's state as Python keeps it: where an edit started, the start code, the edited code,
the order of the dimensions. The page's element holds what the hand changes; Python needs this state to
open the editor where a link or another page says, and to draw the pictures itself for a model the
page cannot run. Plain data with plain methods.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import latent
from .models import EncoderDecoder
from .sent import numbers
from .urlstate import Start


@dataclass
class Editor:
    model_name: str                  # the name of the model this state belongs to
    start: Start
    base: torch.Tensor               # (k,) the start code
    code: torch.Tensor               # (k,) the edited code
    initial: torch.Tensor            # (k,) the code this version began with (what the page starts from)
    order: list[int]                 # dimensions, most influential first
    custom: torch.Tensor | None = None  # a code sent from elsewhere (a drawing, a map point, a link)
    version: int = 0                 # grows whenever the code is set here rather than by the hand
    seen: int = 0                    # the last release of the hand taken for this version

    @classmethod
    def begin(cls, name: str, model: EncoderDecoder, codes: torch.Tensor, ranges: latent.Ranges, start: Start,
              custom: torch.Tensor | None = None, code: torch.Tensor | None = None, version: int = 0,
              order=None) -> "Editor":
        """A fresh edit of `name` from `start` (its code edited to `code`, when a link says so). `order` is the
        model's order of dimensions (its digest's); without it they are ranked at the start code."""
        base = start_code(start, codes, ranges, custom)
        order = [int(d) for d in order] if order is not None else latent.rank_dimensions(model, base, ranges)[0]
        first = (code if code is not None else base).clone().float()
        return cls(name, start, base, first.clone(), first, order, custom, version + 1)

    @staticmethod
    def first() -> Start:
        """Where an edit starts when nothing says otherwise: the first test digit."""
        return Start("test", 0)

    def take(self, sent) -> bool:
        """Take what the page sent on a release ({version, seq, code}) if it edits this version and
        is new; False (and nothing changes) otherwise, or for anything but k finite numbers within
        the link's bounds (the page is user input too)."""
        if not isinstance(sent, dict) or sent.get("version") != self.version:
            return False
        seq, values = sent.get("seq"), numbers(sent.get("code"), self.base.numel())
        if not isinstance(seq, int) or seq <= self.seen or values is None:
            return False
        self.code, self.seen = torch.tensor(values, dtype=torch.float32), seq
        return True



def start_code(start: Start, codes: torch.Tensor, ranges: latent.Ranges, custom: torch.Tensor | None) -> torch.Tensor:
    """The code an edit starts from: a test digit's, the mean, zeros, or one sent from elsewhere."""
    if start.kind == "code":
        if custom is None:
            raise ValueError("There is no code to start from; send one from the map or the draw page.")
        return custom.clone().float()
    if start.kind == "mean":
        return ranges.mean.clone()
    if start.kind == "zeros":
        return torch.zeros(codes.shape[1])
    return codes[start.index].clone()
