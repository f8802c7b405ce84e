"""Folders of named models: the shipped ones, a person's own, a classroom's.

One mapping between a model's name and its file: the file of name N is N + '.safetensors' in the
store's folder, always. Names the store makes (`safe_name`) are letters and digits of any script,
'.', '_' and '-', never a path, never hidden, never ending in '.safetensors'; a file put there by
other means is listed under its file name without the suffix, and Delete acts on exactly that file.
A new model never replaces another: its name is chosen and taken in one atomic step.
"""
from __future__ import annotations

import os
import re
import threading
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from . import settings
from .checkpoint import (MAX_BYTES, SUFFIX, CheckpointError, check, load, model_info, publish, read_header,
                         write_bytes, write_temporary)
from .models import EncoderDecoder, ModelConfig, shown

MAX_NAME = 80                     # characters in a model name
STALE_SECONDS = 600               # a temporary file this old is left over from a killed save

_NOT_IN_NAMES = re.compile(r"[^\w.\-]+")  # \w is Unicode: letters and digits of every script, and _


def _without_suffix(text: str) -> str:
    while text.lower().endswith(SUFFIX):
        text = text[: -len(SUFFIX)]
    return text


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a model, as a key ('empty', 'too_long', 'characters', 'dots'), or None.
    Pages turn the key into a sentence in their language."""
    stem = _without_suffix(name.strip())
    if not stem:
        return "empty"
    if len(stem) > MAX_NAME:
        return "too_long"
    if any(unicodedata.category(c)[0] == "C" for c in stem) or "/" in stem or "\\" in stem:
        return "characters"
    if not any(c.isalnum() for c in stem):
        return "dots" if set(stem) <= {"."} else "characters"
    if stem.startswith("."):
        return "dots"
    return None


def safe_name(name: str) -> str:
    """A file stem of letters and digits (any script), '.', '_' and '-'; never hidden, empty or a path,
    and never ending in '.safetensors' (every such ending is taken off)."""
    stem = _NOT_IN_NAMES.sub("-", unicodedata.normalize("NFC", name.strip()).replace("/", "-").replace("\\", "-"))
    while True:  # until nothing changes: a cut can uncover another ending
        tidy = _without_suffix(stem.strip(".-_"))[:MAX_NAME]
        if tidy == stem:
            break
        stem = tidy
    if not any(c.isalnum() for c in stem):
        raise CheckpointError(f"{shown(name)} is not a usable model name; use letters, digits, '-' or '_'.")
    return stem


def user_store_dir() -> Path:
    """`$ENCDEC_HOME/models` (default `~/.encdec/models`)."""
    return settings.home() / "models"


def shipped_store_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "models"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: Path
    config: ModelConfig | None
    meta: dict
    shipped: bool
    error: str | None = None  # set when the file could not be read
    mtime: float = 0.0        # the file's modification time when it was listed
    source: str = "own"       # "shipped", "class" (published to a classroom) or "own"
    size: int = 0             # bytes, when it was listed

    @property
    def metrics(self) -> dict:
        return self.meta.get("metrics", {})

    @property
    def ref(self) -> str:
        """How the app names it in the model picker and in links: class models carry a prefix, so
        a visitor's own model never hides one of the class's."""
        return f"class:{self.name}" if self.source == "class" else self.name

    @property
    def version(self) -> tuple[str, float, int]:
        """Which version of the file this is: (path, time, size) when it was listed."""
        return str(self.path), self.mtime, self.size


_headers: OrderedDict = OrderedDict()  # (path, mtime, size) -> (config, meta) or error; shared by all stores
_headers_lock = threading.Lock()


def _cached_header(path: Path, stat) -> tuple[ModelConfig | None, dict, str | None]:
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _headers_lock:
        if key in _headers:
            _headers.move_to_end(key)
            return _headers[key]
    try:
        config, meta = read_header(path)
        value = (config, meta, None)
    except CheckpointError as e:
        value = (None, {}, str(e))
    with _headers_lock:
        _headers[key] = value
        while len(_headers) > 1024:
            _headers.popitem(last=False)
    return value


class ModelStore:
    """A folder of checkpoints, each named by its file (see the module's notes)."""

    def __init__(self, root: str | os.PathLike, *, shipped: bool = False, reserved=(), source: str | None = None):
        self.root = Path(root)
        self.shipped = shipped
        self.source = source or ("shipped" if shipped else "own")
        self.reserved = frozenset(reserved)  # names taken elsewhere (the shipped models)
        if not shipped:
            self.clean_leftovers()

    def path_for(self, name: str) -> Path:
        """The file of the model called `name` (which need not exist); CheckpointError for anything that
        is not a name: a path, a hidden or empty name, control characters."""
        if not isinstance(name, str) or not name or name.startswith(".") or "/" in name or "\\" in name \
                or any(unicodedata.category(c)[0] == "C" for c in name) or len(name) > 4 * MAX_NAME:
            raise CheckpointError(f"{shown(name)} is not the name of a model here.")
        return self.root / (name + SUFFIX)

    def list(self) -> list[ModelInfo]:
        """Every model file, readable or not (then with `error` set); one bad file never hides the rest."""
        if not self.root.is_dir():
            return []
        out = []
        for p in sorted(self.root.glob("*" + SUFFIX)):
            if p.name.startswith("."):
                continue  # temporary files of a save in progress
            try:
                stat = os.stat(p)
                if not p.is_file():
                    continue
            except OSError:
                continue  # deleted while listing
            config, meta, error = _cached_header(p, stat)
            out.append(ModelInfo(p.name[: -len(SUFFIX)], p, config, meta, self.shipped, error, stat.st_mtime,
                                 self.source, stat.st_size))
        return out

    def load(self, name: str, device="cpu") -> EncoderDecoder:
        return load(self.path_for(name), device)

    def _candidates(self, name: str, limit: int = 1000):
        stem = safe_name(name)
        for i in range(1, limit + 1):
            candidate = stem if i == 1 else f"{stem[:MAX_NAME - 5]}-{i}"
            if candidate not in self.reserved:
                yield self.root / (candidate + SUFFIX)

    def save(self, model: EncoderDecoder, name: str, frames: dict | None = None, **meta) -> str:
        """Save under `name`, or `name-2`, `name-3`… if taken; returns the name it got."""
        self._writable()
        self.root.mkdir(parents=True, exist_ok=True)
        info = model_info(model, meta.pop("metrics", None), meta)
        path = publish(write_temporary(model, self.root, info, frames), self._candidates(name))
        if path is None:
            raise CheckpointError(f"Every name like {shown(safe_name(name))} is taken; choose another name.")
        model.meta = info
        return path.name[: -len(SUFFIX)]

    def save_bytes(self, data: bytes, name: str) -> str:
        """Save a checkpoint this app made elsewhere (a worker's result) under a free name like `name`."""
        self._writable()
        self.root.mkdir(parents=True, exist_ok=True)
        path = publish(write_bytes(data, self.root), self._candidates(name))
        if path is None:
            raise CheckpointError(f"Every name like {shown(safe_name(name))} is taken; choose another name.")
        return path.name[: -len(SUFFIX)]

    def import_bytes(self, data: bytes, name: str) -> str:
        """Check uploaded bytes as `load` and `read_frames` do, then give them a free name in the store;
        returns the name."""
        self._writable()
        self.root.mkdir(parents=True, exist_ok=True)
        shown_name = safe_name(name) + SUFFIX if name_problem(name) is None else "the file"
        if len(data) > MAX_BYTES:
            raise CheckpointError(f"{shown_name} is larger than {MAX_BYTES >> 20} MB, far beyond any model here; choose an encdec .safetensors checkpoint.")
        tmp = write_bytes(data, self.root)
        try:
            try:
                check(tmp)
            except CheckpointError as e:
                raise CheckpointError(str(e).replace(tmp.name, shown_name)) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        path = publish(tmp, self._candidates(name if name_problem(name) is None else "upload"))
        if path is None:
            raise CheckpointError(f"Every name like {shown_name} is taken; rename the file and upload it again.")
        return path.name[: -len(SUFFIX)]

    def delete(self, name: str) -> None:
        self._writable()
        path = self.path_for(name)
        if not path.is_file():
            raise CheckpointError(f"There is no model named {shown(name)} to delete.")
        path.unlink()

    def clean_leftovers(self) -> int:
        """Remove temporary files that killed saves left behind (only old ones: a save in progress
        is young). Returns how many were removed."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for p in self.root.glob(".tmp*"):
            try:
                if p.is_file() and time.time() - p.stat().st_mtime > STALE_SECONDS:
                    p.unlink()
                    removed += 1
            except OSError:
                pass
        return removed

    def _writable(self):
        if self.shipped:
            raise CheckpointError("Shipped models are read-only; save or delete your own models instead.")
