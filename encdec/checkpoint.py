"""Checkpoints: one .safetensors file per model, config and metadata as JSON.

Loading never unpickles: safetensors holds only raw tensors and a JSON header, and every field
is checked before a model is built from it: the header's size and nesting, the config, a typed
model card (numbers where numbers belong), and every declared tensor's name, shape and dtype
against what the config needs, before a single weight is allocated. A checkpoint may carry the
code space as it trained (frames.py), bounded by what the recorder itself writes.

Weights are float32, or float16 where a file was saved with `half=True` (the shipped models: half
the size; they are float32 again once loaded). The store of named models is store.py.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

from .data import DATASETS
from .frames import MAX_FRAMES, SAMPLE
from .models import EncoderDecoder, ModelConfig, build, shown

FORMAT = "encdec"
FORMAT_VERSION = 1
SUFFIX = ".safetensors"
MAX_BYTES = 200 * 1024 * 1024     # the largest model (models.MAX_PARAMETERS float32 weights) and its header
MAX_HEADER_BYTES = 2 * 1024 * 1024  # safetensors' JSON header: tensor table, config and metadata
MAX_JSON_DEPTH = 12               # the model card is shallow; deeper nesting is refused
MAX_NAME = 80                     # characters in a model name
_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
           "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8}
STORED_AS = {torch.float32: (torch.float32, torch.float16)}  # what a weight may be stored as, by what it is
_UMASK = os.umask(0)
os.umask(_UMASK)


class CheckpointError(ValueError):
    """A file is not a usable model checkpoint; the message says why and what to do."""


# -- writing ---------------------------------------------------------------------------------

def _tensors(model: EncoderDecoder, frames: dict | None, half: bool) -> dict[str, torch.Tensor]:
    """What the file holds: the weights (float16 with `half`) and the training frames, checked."""
    tensors = {}
    for k, v in model.state_dict().items():
        v = v.detach().to("cpu")
        tensors[k] = (v.half() if half and v.dtype == torch.float32 else v).contiguous()
    frames = frames or {}
    check_frames({k: (tuple(v.shape), v.dtype) for k, v in frames.items()})
    check_frame_values(frames)
    tensors.update({k: v.detach().to("cpu").contiguous() for k, v in frames.items()})
    return tensors


def encode(model: EncoderDecoder, info: dict, frames: dict | None = None, half: bool = False) -> bytes:
    """The whole checkpoint as bytes: the model's weights, its training frames and its description."""
    header = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "config": json.dumps(model.config.to_dict()),
        "meta": json.dumps(info, default=float, ensure_ascii=False),
    }
    if len(header["meta"].encode()) > MAX_HEADER_BYTES // 2:
        raise CheckpointError("This model's description is too large to save; it should never be.")
    return safetensors_bytes(_tensors(model, frames, half), metadata=header)


def write_temporary(model: EncoderDecoder, folder: Path, info: dict, frames: dict | None = None,
                    half: bool = False) -> Path:
    """The whole checkpoint in a hidden temporary file in `folder` (`.tmp-*`, the only kind of file a
    killed save can leave), with ordinary permissions."""
    return write_bytes(encode(model, info, frames, half), folder)


def to_bytes(model: EncoderDecoder, *, metrics: dict | None = None, frames: dict | None = None, half: bool = False,
             **meta) -> bytes:
    """What `save` would write, as bytes (a worker hands them to the app, which saves them)."""
    return encode(model, model_info(model, metrics, meta), frames, half)


def load_bytes(data: bytes, device: str | torch.device = "cpu") -> EncoderDecoder:
    """A model from a checkpoint's bytes, checked exactly as `load` checks a file."""
    with tempfile.TemporaryDirectory(prefix="encdec-") as folder:
        path = Path(folder) / ("model" + SUFFIX)
        path.write_bytes(data)
        return load(path, device)


def write_bytes(data: bytes, folder: Path) -> Path:
    """`data` in a new hidden temporary file in `folder`, flushed to disk, with ordinary permissions."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a saved model is an ordinary file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


_publish_lock = threading.Lock()  # only for file systems without hard links


def publish(tmp: Path, candidates) -> Path | None:
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


def model_info(model: EncoderDecoder, metrics: dict | None, meta: dict) -> dict:
    info = dict(model.meta)
    info.update(meta)
    if metrics is not None:
        info["metrics"] = metrics
    info.setdefault("dataset", model.config.dataset)
    info.setdefault("created", datetime.now(timezone.utc).isoformat(timespec="seconds"))
    return info


def save(model: EncoderDecoder, path: str | os.PathLike, *, metrics: dict | None = None, overwrite: bool = True,
         frames: dict | None = None, half: bool = False, **meta) -> Path:
    """Write `model` (and the training `frames`, frames.Recorder.tensors()) atomically: a temporary
    file in the same folder, then a rename (or, with overwrite=False, a link that fails if `path`
    exists: then CheckpointError, and nothing changes). `half` stores the weights as float16."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = model_info(model, metrics, meta)
    tmp = write_temporary(model, path.parent, info, frames, half)
    if overwrite:
        try:
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    elif publish(tmp, [path]) is None:
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
FRAMES = {"frames.xy": torch.float16, "frames.labels": torch.uint8, "frames.when": torch.float32}
MAX_EPOCH = 1e6  # frames.when holds (epoch, loss); no training here runs anywhere near this many epochs


def check_frames(shapes: dict) -> None:
    """Extra tensors must be exactly the frames' three, with shapes that agree and at most what the
    recorder writes: 1 to frames.MAX_FRAMES frames of 1 to frames.SAMPLE points (ValueError otherwise)."""
    if not shapes:
        return
    if set(shapes) != set(FRAMES) or any(shapes[k][1] != FRAMES[k] for k in FRAMES):
        raise ValueError("its extra tensors are not the training frames this app records")
    xy, labels, when = shapes["frames.xy"][0], shapes["frames.labels"][0], shapes["frames.when"][0]
    if len(xy) != 3 or len(labels) != 1 or len(when) != 2:
        raise ValueError("its training frames have shapes that do not agree")
    (f, n, two), (m,), (g, pair) = xy, labels, when
    if two != 2 or pair != 2 or m != n or g != f:
        raise ValueError("its training frames have shapes that do not agree")
    if not (1 <= f <= MAX_FRAMES and 1 <= n <= SAMPLE):
        raise ValueError(f"its training frames hold {f:,} frames of {n:,} points; a training records 1 to "
                         f"{MAX_FRAMES} frames of 1 to {SAMPLE:,} points")


def check_frame_values(tensors: dict) -> None:
    """The frames' values: finite positions, finite (epoch, loss) with epochs from 0 on, labels 0 to 9."""
    if not tensors:
        return
    xy, labels, when = tensors["frames.xy"], tensors["frames.labels"], tensors["frames.when"]
    if not bool(torch.isfinite(xy).all()) or not bool(torch.isfinite(when).all()):
        raise ValueError("its training frames hold numbers that are not finite")
    if int(labels.max()) > 9 or float(when[:, 0].min()) < 0 or float(when[:, 0].max()) > MAX_EPOCH:
        raise ValueError("its training frames hold labels or epochs this app never records")


def _check_tensors(f, path: Path, config: ModelConfig) -> None:
    """Every declared tensor against the config's shapes, and their total size against the file."""
    expected = config.state_shapes()
    keys = set(f.keys())
    extra = {k: (tuple(f.get_slice(k).get_shape()), _DTYPES.get(f.get_slice(k).get_dtype()))
             for k in keys - set(expected) if k.startswith("frames.")}
    try:
        check_frames(extra)
    except ValueError as e:
        raise CheckpointError(f"{path.name}: {e}; it cannot be loaded.") from None
    keys -= set(extra)
    if keys != set(expected):
        missing, unexpected = sorted(set(expected) - keys), sorted(keys - set(expected))
        raise CheckpointError(
            f"{path.name} does not match its own description ({config.title}): "
            f"missing {len(missing)} and unexpected {len(unexpected)} weights; it cannot be loaded.")
    need = sum(math.prod(shape) * dtype.itemsize for shape, dtype in extra.values())
    for k in sorted(keys):
        part = f.get_slice(k)
        shape, dtype = tuple(part.get_shape()), _DTYPES.get(part.get_dtype())
        want_shape, want_dtype = expected[k]
        if shape != want_shape or dtype not in STORED_AS.get(want_dtype, (want_dtype,)):
            raise CheckpointError(
                f"{path.name}: weight {shown(k)[1:-1]} has shape {shape} {part.get_dtype()} but {config.title} "
                f"needs {want_shape} {want_dtype}; it cannot be loaded.")
        need += math.prod(shape) * dtype.itemsize
    if need > path.stat().st_size:
        raise CheckpointError(f"{path.name} is too short for the weights it declares; it is damaged.")


def _read_tensors(path: Path, config: ModelConfig, weights: bool) -> dict[str, torch.Tensor]:
    """The model's weights as the model holds them (or, with weights=False, the frames), after every
    declared tensor has been checked against `config` and before anything is allocated."""
    expected = config.state_shapes()
    try:
        with safe_open(str(path), framework="pt") as f:
            _check_tensors(f, path, config)
            out = {k: f.get_tensor(k) for k in f.keys() if (k not in FRAMES) == weights}
    except (SafetensorError, OSError, RuntimeError) as e:
        raise CheckpointError(f"{path.name} is damaged ({shown(str(e), 120)[1:-1]}); choose an intact checkpoint.") from None
    if weights:
        return {k: v.to(expected[k][1]) for k, v in out.items()}
    try:
        check_frame_values(out)
    except ValueError as e:
        raise CheckpointError(f"{path.name}: {e}; it cannot be loaded.") from None
    return out


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


def check(path: str | os.PathLike) -> EncoderDecoder:
    """Everything `load` checks, and the training frames too: what an upload must pass."""
    model = load(path)
    read_frames(path)
    return model


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
    """The training frames a checkpoint carries (empty when it has none), checked: shapes, sizes and
    values within what the recorder writes (CheckpointError otherwise)."""
    path = Path(path)
    return _read_tensors(path, read_header(path)[0], weights=False)


def round_weights(model: EncoderDecoder, dtype: torch.dtype = torch.float16) -> EncoderDecoder:
    """Round the model's float32 weights to what `dtype` can hold (in place, still float32), so that a
    model evaluated now is the model a file saved with `half=True` loads."""
    with torch.no_grad():
        for v in model.state_dict().values():
            if v.dtype == torch.float32:
                v.copy_(v.to(dtype).float())
    return model


