"""Checkpoints: one .safetensors file per model, config and metadata as JSON.

Loading never unpickles: safetensors holds only raw tensors and a JSON header, and every field
is checked before a model is built from it: the header's size and nesting, the config, a typed
model card (numbers where numbers belong), and every declared tensor's name, shape and dtype
against what the config needs, before a single weight is allocated.
"""
from __future__ import annotations

import json
import math
import os
import re
import tempfile
import threading
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from . import settings
from .data import DATASETS
from .models import EncoderDecoder, ModelConfig, build, shown

FORMAT = "encdec"
FORMAT_VERSION = 1
SUFFIX = ".safetensors"
MAX_BYTES = 200 * 1024 * 1024     # the largest model (models.MAX_PARAMETERS float32 weights) and its header
MAX_HEADER_BYTES = 2 * 1024 * 1024  # safetensors' JSON header: tensor table, config and metadata
MAX_JSON_DEPTH = 12               # the model card is shallow; deeper nesting is refused
MAX_NAME = 80                     # characters in a model name
STALE_SECONDS = 600               # a temporary file this old is left over from a killed save
_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
           "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8}
_UMASK = os.umask(0)
os.umask(_UMASK)


class CheckpointError(ValueError):
    """A file is not a usable model checkpoint; the message says why and what to do."""


# -- writing ---------------------------------------------------------------------------------

def _write_temporary(model: EncoderDecoder, folder: Path, info: dict) -> Path:
    """The whole checkpoint in a hidden temporary file in `folder`, with ordinary permissions."""
    header = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "config": json.dumps(model.config.to_dict()),
        "meta": json.dumps(info, default=float, ensure_ascii=False),
    }
    if len(header["meta"].encode()) > MAX_HEADER_BYTES // 2:
        raise CheckpointError("This model's description is too large to save; it should never be.")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    extras = getattr(model, "extras", {}) or {}
    check_extras({k: (tuple(v.shape), v.dtype) for k, v in extras.items()})
    tensors.update({k: v.detach().to("cpu").contiguous() for k, v in extras.items()})
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=SUFFIX, dir=folder)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=header)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a saved model is an ordinary file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


_publish_lock = threading.Lock()  # only for file systems without hard links


def _publish(tmp: Path, candidates) -> Path | None:
    """Give `tmp` the first name in `candidates` that does not exist yet, in one atomic step
    (a hard link fails when the name exists, so two writers never take the same name); None
    when every candidate is taken. `tmp` is gone afterwards either way."""
    try:
        for path in candidates:
            try:
                os.link(tmp, path)
                return path
            except FileExistsError:
                continue
            except OSError as e:
                if e.errno not in (1, 38, 95):  # EPERM, ENOSYS, EOPNOTSUPP: no hard links here
                    raise
                with _publish_lock:
                    if path.exists():
                        continue
                    os.replace(tmp, path)
                    return path
        return None
    finally:
        tmp.unlink(missing_ok=True)


def _model_info(model: EncoderDecoder, metrics: dict | None, meta: dict) -> dict:
    info = dict(model.meta)
    info.update(meta)
    if metrics is not None:
        info["metrics"] = metrics
    info.setdefault("dataset", model.config.dataset)
    info.setdefault("created", datetime.now(timezone.utc).isoformat(timespec="seconds"))
    return info


def save(model: EncoderDecoder, path: str | os.PathLike, *, metrics: dict | None = None,
         overwrite: bool = True, **meta) -> Path:
    """Write `model` atomically: a temporary file in the same folder, then a rename (or, with
    overwrite=False, a link that fails if `path` exists: then CheckpointError, and nothing changes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = _model_info(model, metrics, meta)
    tmp = _write_temporary(model, path.parent, info)
    if overwrite:
        try:
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    elif _publish(tmp, [path]) is None:
        raise CheckpointError(f"{path.name} exists already; choose another name or allow overwriting.")
    model.meta = info
    return path


def check_output(path: str | os.PathLike) -> Path:
    """Refuse, before any work, an output path a checkpoint could not be written to."""
    text = str(path)
    if not text.strip():
        raise CheckpointError("The output path is empty; give a file name ending in .safetensors.")
    path = Path(text).expanduser()
    if path.is_dir():
        raise CheckpointError(f"{shown(text, 120)} is a folder; give a file name inside it, e.g. {path / 'model.safetensors'}.")
    parent = path.parent
    for above in [parent, *parent.parents]:
        if above.exists():
            if not above.is_dir():
                raise CheckpointError(f"{shown(text, 120)} is under {above}, which is a file, not a folder.")
            break
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".tmp-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise CheckpointError(f"Cannot write to {shown(str(parent), 120)} ({e.strerror or e}); choose a folder you can write to.") from None
    return path


# -- reading ---------------------------------------------------------------------------------

def _depth(value, limit: int) -> int:
    """How deeply lists and objects nest in a parsed JSON value (stops counting past `limit`)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d)
            if deepest > limit:
                return deepest
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def _json(text, what: str):
    if not isinstance(text, str):
        raise ValueError(f"the {what} is missing")
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"the {what} nests too deeply") from None
    if _depth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise ValueError(f"the {what} nests more than {MAX_JSON_DEPTH} levels deep")
    return value


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_meta(meta) -> dict:
    """The model card's typed fields; ValueError says which field is wrong."""
    if not isinstance(meta, dict):
        raise ValueError("its metadata is not a JSON object")
    metrics = meta.get("metrics", {})
    if not isinstance(metrics, dict) or len(metrics) > 64:
        raise ValueError("metrics is not an object of at most 64 numbers")
    for k, v in metrics.items():
        if len(k) > 64 or not _number(v):
            raise ValueError(f"metrics.{shown(k)[1:-1]} is {shown(v)}, not a finite number")
    for key in ("created", "dataset"):
        if key in meta and (not isinstance(meta[key], str) or len(meta[key]) > 64):
            raise ValueError(f"{key} is not a short text")
    if "dataset" in meta and meta["dataset"] not in DATASETS:
        raise ValueError(f"dataset is {shown(meta['dataset'])}, not one of {', '.join(DATASETS)}")
    for key in ("recipe", "history"):
        if key in meta and not isinstance(meta[key], dict):
            raise ValueError(f"{key} is not an object")
    for key, values in meta.get("history", {}).items():
        if not isinstance(values, list) or len(values) > 10_000 or not all(v is None or _number(v) for v in values):
            raise ValueError(f"history.{shown(key)[1:-1]} is not a list of numbers")
    return meta


def _open_header(path: Path) -> dict:
    """The safetensors header's own metadata, after checking the file's size and header length."""
    name = path.name
    if path.is_dir():
        raise CheckpointError(f"{name} is a folder, not a model file; choose a .safetensors file.")
    if not path.is_file():
        raise CheckpointError(f"{name}: no such model file.")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise CheckpointError(f"{name} is larger than {MAX_BYTES >> 20} MB, far beyond any model here; choose an encdec .safetensors checkpoint.")
    with path.open("rb") as f:
        head = f.read(8)
    n = int.from_bytes(head, "little") if len(head) == 8 else -1
    if n < 2 or n + 8 > size:
        raise CheckpointError(f"{name} is not a safetensors checkpoint (it may be truncated or another kind of file); choose a .safetensors model saved by this app.")
    if n > MAX_HEADER_BYTES:
        raise CheckpointError(f"{name} has a {n >> 10} KB description, far more than a model of this app carries; it cannot be loaded.")
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except (SafetensorError, OSError, ValueError, UnicodeDecodeError, RecursionError) as e:
        raise CheckpointError(f"{name} is not a readable safetensors checkpoint ({shown(str(e), 120)[1:-1]}); choose a .safetensors model saved by this app.") from None


def read_header(path: str | os.PathLike) -> tuple[ModelConfig, dict]:
    """Config and metadata of a checkpoint, checked, without loading its weights."""
    path = Path(path)
    name = path.name
    header = _open_header(path)
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{name} is a safetensors file but not an encoder-decoder model from this app; choose a checkpoint this app saved.")
    if header.get("format_version") != str(FORMAT_VERSION):
        raise CheckpointError(f"{name} has checkpoint format version {shown(header.get('format_version'))}, but this app reads version {FORMAT_VERSION}; retrain or re-save it with this version.")
    try:
        config = ModelConfig.from_dict(_json(header.get("config"), "config"))
        meta = check_meta(_json(header.get("meta", "{}"), "metadata"))
    except (ValueError, TypeError) as e:  # ConfigError is a ValueError
        raise CheckpointError(f"{name} has an invalid model description ({e}); it cannot be loaded.") from None
    return config, meta


# Tensors a checkpoint may carry besides the model's own: the code space while it trained (frames.py).
EXTRAS = {"frames.xy": torch.float16, "frames.labels": torch.uint8, "frames.when": torch.float32}
MAX_FRAME_POINTS = 10_000_000  # frames x points, far above what a training records


def check_extras(shapes: dict) -> None:
    """Extra tensors must be exactly the frames' three, with shapes that agree and sizes in bounds."""
    if not shapes:
        return
    if set(shapes) != set(EXTRAS) or any(shapes[k][1] != EXTRAS[k] for k in EXTRAS):
        raise ValueError("its extra tensors are not the training frames this app records")
    (f, n, two), (m,), (g, pair) = shapes["frames.xy"][0], shapes["frames.labels"][0], shapes["frames.when"][0]
    if two != 2 or pair != 2 or m != n or g != f or f * n > MAX_FRAME_POINTS:
        raise ValueError("its training frames have shapes that do not agree")


def _check_tensors(f, path: Path, config: ModelConfig) -> None:
    """Every declared tensor against the config's shapes, and their total size against the file."""
    expected = config.state_shapes()
    keys = set(f.keys())
    extra = {k: (tuple(f.get_slice(k).get_shape()), _DTYPES.get(f.get_slice(k).get_dtype()))
             for k in keys - set(expected) if k.startswith("frames.")}
    try:
        check_extras(extra)
    except ValueError as e:
        raise CheckpointError(f"{path.name}: {e}; it cannot be loaded.") from None
    keys -= set(extra)
    if keys != set(expected):
        missing, extra = sorted(set(expected) - keys), sorted(keys - set(expected))
        raise CheckpointError(
            f"{path.name} does not match its own description ({config.title}): "
            f"missing {len(missing)} and unexpected {len(extra)} weights; it cannot be loaded.")
    need = sum(math.prod(shape) * dtype.itemsize for shape, dtype in extra.values())
    for k in sorted(keys):
        part = f.get_slice(k)
        shape, dtype = tuple(part.get_shape()), _DTYPES.get(part.get_dtype())
        want_shape, want_dtype = expected[k]
        if shape != want_shape or dtype != want_dtype:
            raise CheckpointError(
                f"{path.name}: weight {shown(k)[1:-1]} has shape {shape} {part.get_dtype()} but {config.title} "
                f"needs {want_shape} {want_dtype}; it cannot be loaded.")
        need += math.prod(shape) * want_dtype.itemsize
    if need > path.stat().st_size:
        raise CheckpointError(f"{path.name} is too short for the weights it declares; it is damaged.")


def _read_tensors(path: Path, config: ModelConfig, weights: bool) -> dict[str, torch.Tensor]:
    """The model's weights (or, with weights=False, the extra tensors), after every declared tensor
    has been checked against `config` and before anything is allocated."""
    try:
        with safe_open(str(path), framework="pt") as f:
            _check_tensors(f, path, config)
            return {k: f.get_tensor(k) for k in f.keys() if (k not in EXTRAS) == weights}
    except (SafetensorError, OSError, RuntimeError) as e:
        raise CheckpointError(f"{path.name} is damaged ({shown(str(e), 120)[1:-1]}); choose an intact checkpoint.") from None


def load(path: str | os.PathLike, device: str | torch.device = "cpu") -> EncoderDecoder:
    """Load a checkpoint into an eval-mode model on `device` (CPU by default)."""
    path = Path(path)
    config, meta = read_header(path)
    state = _read_tensors(path, config, weights=True)
    if not all(torch.isfinite(t).all() for t in state.values() if t.is_floating_point()):
        raise CheckpointError(f"{path.name} holds weights that are not finite numbers; it cannot be used.")
    model = build(config)
    model.load_state_dict(state, strict=True)
    model.meta = meta
    return model.to(device).eval()


def metric_summary(metrics: dict, names: dict | None = None) -> str:
    """A model's test score in one line: accuracy for a classifier, else MSE and BCE per pixel
    (and -ELBO for a VAE). `names` translates the labels (the Models page passes its language's)."""
    names = names or {"accuracy": "accuracy", "mse": "MSE/pixel", "bce": "BCE/pixel", "neg_elbo": "-ELBO"}
    if "accuracy" in metrics:
        return f"{names['accuracy']} {metrics['accuracy']:.2%}"
    parts = [f"{names[k]} {metrics[k]:.4f}" for k in ("mse", "bce") if k in metrics]
    if "neg_elbo" in metrics:
        parts.append(f"{names['neg_elbo']} {metrics['neg_elbo']:.1f} nats" + (f" (KL {metrics['kl']:.1f})" if "kl" in metrics else ""))
    return ", ".join(parts) or "–"


def read_frames(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The training frames a checkpoint carries (empty when it has none); the file is checked as by `load`."""
    path = Path(path)
    return _read_tensors(path, read_header(path)[0], weights=False)


# -- names -----------------------------------------------------------------------------------

_NOT_IN_NAMES = re.compile(r"[^\w.\-]+")  # \w is Unicode: letters and digits of every script, and _


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a model, as a key ('empty', 'too_long', 'characters', 'dots'), or None.
    Pages turn the key into a sentence in their language."""
    stem = name.strip()
    if stem.lower().endswith(SUFFIX):
        stem = stem[: -len(SUFFIX)]
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
    """A file stem of letters and digits (any script), '.', '_' and '-'; never hidden, empty or a path."""
    stem = unicodedata.normalize("NFC", name.strip())
    if stem.lower().endswith(SUFFIX):
        stem = stem[: -len(SUFFIX)]
    stem = _NOT_IN_NAMES.sub("-", stem.replace("/", "-").replace("\\", "-")).strip(".-_")[:MAX_NAME]
    if not any(c.isalnum() for c in stem):
        raise CheckpointError(f"{shown(name)} is not a usable model name; use letters, digits, '-' or '_'.")
    return stem


def user_store_dir() -> Path:
    """`$ENCDEC_HOME/models` (default `~/.encdec/models`)."""
    return settings.home() / "models"


def shipped_store_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "models"


# -- the model store ---------------------------------------------------------------------------

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

    @property
    def metrics(self) -> dict:
        return self.meta.get("metrics", {})

    @property
    def ref(self) -> str:
        """How the app names it in the model picker and in links: class models carry a prefix, so
        a visitor's own model never hides one of the class's."""
        return f"class:{self.name}" if self.source == "class" else self.name


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
    """A folder of checkpoints. Names are sanitised so no path escapes the folder; a new model
    never replaces another: its name is chosen and taken in one atomic step."""

    def __init__(self, root: str | os.PathLike, *, shipped: bool = False, reserved=(), source: str | None = None):
        self.root = Path(root)
        self.shipped = shipped
        self.source = source or ("shipped" if shipped else "own")
        self.reserved = frozenset(reserved)  # names taken elsewhere (the shipped models)
        if not shipped:
            self.clean_leftovers()

    def path_for(self, name: str) -> Path:
        return self.root / (safe_name(name) + SUFFIX)

    def list(self) -> list[ModelInfo]:
        """Every model file, readable or not (then with `error` set); one bad file never hides the rest."""
        if not self.root.is_dir():
            return []
        out = []
        for p in sorted(self.root.glob("*" + SUFFIX)):
            if p.name.startswith("."):
                continue  # temporary files of a save in progress
            try:
                stat = p.stat()
            except OSError:
                continue  # deleted while listing
            config, meta, error = _cached_header(p, stat)
            out.append(ModelInfo(p.stem, p, config, meta, self.shipped, error, stat.st_mtime, self.source))
        return out

    def load(self, name: str, device="cpu") -> EncoderDecoder:
        return load(self.path_for(name), device)

    def _candidates(self, name: str, limit: int = 1000):
        stem = safe_name(name)
        for i in range(1, limit + 1):
            candidate = stem if i == 1 else f"{stem[:MAX_NAME - 5]}-{i}"
            if candidate not in self.reserved:
                yield self.root / (candidate + SUFFIX)

    def save(self, model: EncoderDecoder, name: str, **meta) -> str:
        """Save under `name`, or `name-2`, `name-3`… if taken; returns the name it got."""
        self._writable()
        self.root.mkdir(parents=True, exist_ok=True)
        info = _model_info(model, meta.pop("metrics", None), meta)
        path = _publish(_write_temporary(model, self.root, info), self._candidates(name))
        if path is None:
            raise CheckpointError(f"Every name like {shown(safe_name(name))} is taken; choose another name.")
        model.meta = info
        return path.stem

    def import_bytes(self, data: bytes, name: str) -> str:
        """Validate uploaded bytes with `load`, then give them a free name in the store; returns it."""
        self._writable()
        self.root.mkdir(parents=True, exist_ok=True)
        shown_name = safe_name(name) + SUFFIX if name_problem(name) is None else "the file"
        if len(data) > MAX_BYTES:
            raise CheckpointError(f"{shown_name} is larger than {MAX_BYTES >> 20} MB, far beyond any model here; choose an encdec .safetensors checkpoint.")
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=SUFFIX, dir=self.root)
        tmp = Path(tmp)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o666 & ~_UMASK)
            try:
                load(tmp)
            except CheckpointError as e:
                raise CheckpointError(str(e).replace(tmp.name, shown_name)) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        path = _publish(tmp, self._candidates(name if name_problem(name) is None else "upload"))
        if path is None:
            raise CheckpointError(f"Every name like {shown_name} is taken; rename the file and upload it again.")
        return path.stem

    def delete(self, name: str) -> None:
        self._writable()
        path = self.path_for(name)
        if not path.is_file():
            raise CheckpointError(f"There is no model named {shown(safe_name(name))} to delete.")
        path.unlink()

    def clean_leftovers(self) -> int:
        """Remove temporary files that killed saves left behind (only old ones: a save in progress
        is young). Returns how many were removed."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for p in self.root.glob(".tmp-*"):
            try:
                if time.time() - p.stat().st_mtime > STALE_SECONDS:
                    p.unlink()
                    removed += 1
            except OSError:
                pass
        return removed

    def _writable(self):
        if self.shipped:
            raise CheckpointError("Shipped models are read-only; save or delete your own models instead.")
