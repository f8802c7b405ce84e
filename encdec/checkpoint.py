"""Checkpoints: one .safetensors file per model, config and metadata as JSON.

Loading never unpickles: safetensors holds only raw tensors and a JSON header,
and every field is checked before a model is built from it.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .models import ConfigError, EncoderDecoder, ModelConfig, build

FORMAT = "encdec"
FORMAT_VERSION = 1
SUFFIX = ".safetensors"
MAX_BYTES = 200 * 1024 * 1024  # no model of this project comes near this


class CheckpointError(ValueError):
    """A file is not a usable model checkpoint; the message says why and what to do."""


def save(model: EncoderDecoder, path: str | os.PathLike, *, metrics: dict | None = None, **meta) -> Path:
    """Write `model` atomically: a temporary file in the same folder, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = dict(model.meta)
    info.update(meta)
    if metrics is not None:
        info["metrics"] = metrics
    info.setdefault("dataset", model.config.dataset)
    info.setdefault("created", datetime.now(timezone.utc).isoformat(timespec="seconds"))
    header = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "config": json.dumps(model.config.to_dict()),
        "meta": json.dumps(info, default=float),
    }
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=header)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    model.meta = info
    return path


def read_header(path: str | os.PathLike) -> tuple[ModelConfig, dict]:
    """Config and metadata of a checkpoint, without loading its weights."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise CheckpointError(f"{name}: no such model file.")
    if path.stat().st_size > MAX_BYTES:
        raise CheckpointError(f"{name} is larger than {MAX_BYTES >> 20} MB, far beyond any model here; choose an encdec .safetensors checkpoint.")
    with path.open("rb") as f:
        head = f.read(8)
    if len(head) < 8 or int.from_bytes(head, "little") > path.stat().st_size:
        raise CheckpointError(f"{name} is not a safetensors checkpoint (it may be truncated or another kind of file); choose a .safetensors model saved by this app.")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError, ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{name} is not a readable safetensors checkpoint ({e}); choose a .safetensors model saved by this app.") from None
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{name} is a safetensors file but not an encoder-decoder model from this app; choose a checkpoint this app saved.")
    if header.get("format_version") != str(FORMAT_VERSION):
        raise CheckpointError(f"{name} has checkpoint format version {header.get('format_version')!r}, but this app reads version {FORMAT_VERSION}; retrain or re-save it with this version.")
    try:
        config = ModelConfig.from_dict(json.loads(header["config"]))
        meta = json.loads(header.get("meta", "{}"))
        if not isinstance(meta, dict):
            raise ValueError("metadata is not an object")
    except (KeyError, ValueError, TypeError, ConfigError) as e:
        raise CheckpointError(f"{name} has an invalid model description ({e}); it cannot be loaded.") from None
    return config, meta


def load(path: str | os.PathLike, device: str | torch.device = "cpu") -> EncoderDecoder:
    """Load a checkpoint into an eval-mode model on `device` (CPU by default)."""
    path = Path(path)
    config, meta = read_header(path)
    model = build(config)
    expected = model.state_dict()
    try:
        with safe_open(str(path), framework="pt") as f:
            keys = set(f.keys())
            if keys != set(expected):
                missing, extra = sorted(set(expected) - keys), sorted(keys - set(expected))
                raise CheckpointError(
                    f"{path.name} does not match its own description ({config.title}): "
                    f"missing {len(missing)} and unexpected {len(extra)} weights; it cannot be loaded.")
            state = {}
            for k in keys:
                t = f.get_tensor(k)
                if t.shape != expected[k].shape or t.dtype != expected[k].dtype:
                    raise CheckpointError(
                        f"{path.name}: weight {k} has shape {tuple(t.shape)} {t.dtype} but {config.title} "
                        f"needs {tuple(expected[k].shape)} {expected[k].dtype}; it cannot be loaded.")
                state[k] = t
    except (SafetensorError, OSError, RuntimeError) as e:
        raise CheckpointError(f"{path.name} is damaged ({e}); choose an intact checkpoint.") from None
    if not all(torch.isfinite(t).all() for t in state.values() if t.is_floating_point()):
        raise CheckpointError(f"{path.name} holds weights that are not finite numbers; it cannot be used.")
    model.load_state_dict(state, strict=True)
    model.meta = meta
    return model.to(device).eval()


# -- the model store ---------------------------------------------------------

_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A file stem with only letters, digits, '.', '_' and '-', never hidden or empty."""
    stem = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name
    stem = _NAME_RE.sub("-", Path(stem).name).strip(".-_")[:80]
    if not stem:
        raise CheckpointError(f"{name!r} is not a usable model name; use letters, digits, '-' or '_'.")
    return stem


def user_store_dir() -> Path:
    """`$ENCDEC_HOME/models` if ENCDEC_HOME is set, else `~/.encdec/models`."""
    home = os.environ.get("ENCDEC_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".encdec") / "models"


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

    @property
    def metrics(self) -> dict:
        return self.meta.get("metrics", {})


class ModelStore:
    """A folder of checkpoints. Names are sanitised so no path escapes the folder."""

    def __init__(self, root: str | os.PathLike, *, shipped: bool = False):
        self.root = Path(root)
        self.shipped = shipped

    def path_for(self, name: str) -> Path:
        return self.root / (safe_name(name) + SUFFIX)

    def list(self) -> list[ModelInfo]:
        if not self.root.is_dir():
            return []
        out = []
        for p in sorted(self.root.glob("*" + SUFFIX)):
            if p.name.startswith("."):
                continue  # temporary files of a save in progress
            try:
                config, meta = read_header(p)
                out.append(ModelInfo(p.stem, p, config, meta, self.shipped))
            except CheckpointError as e:
                out.append(ModelInfo(p.stem, p, None, {}, self.shipped, str(e)))
        return out

    def load(self, name: str, device="cpu") -> EncoderDecoder:
        return load(self.path_for(name), device)

    def save(self, model: EncoderDecoder, name: str, **kw) -> Path:
        self._writable()
        return save(model, self.path_for(name), **kw)

    def unique_name(self, name: str) -> str:
        stem, i = safe_name(name), 2
        candidate = stem
        while self.path_for(candidate).exists():
            candidate, i = f"{stem}-{i}", i + 1
        return candidate

    def import_bytes(self, data: bytes, name: str) -> str:
        """Validate uploaded bytes with `load`, then move them into the store under a free name."""
        self._writable()
        self.root.mkdir(parents=True, exist_ok=True)
        if len(data) > MAX_BYTES:
            raise CheckpointError(f"{name} is larger than {MAX_BYTES >> 20} MB, far beyond any model here; choose an encdec .safetensors checkpoint.")
        stem = self.unique_name(name)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=SUFFIX, dir=self.root)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            try:
                load(tmp)
            except CheckpointError as e:
                raise CheckpointError(str(e).replace(Path(tmp).name, safe_name(name) + SUFFIX)) from None
            os.replace(tmp, self.path_for(stem))
        finally:
            Path(tmp).unlink(missing_ok=True)
        return stem

    def delete(self, name: str) -> None:
        self._writable()
        path = self.path_for(name)
        if not path.is_file():
            raise CheckpointError(f"There is no model named {safe_name(name)!r} to delete.")
        path.unlink()

    def _writable(self):
        if self.shipped:
            raise CheckpointError("Shipped models are read-only; save or delete your own models instead.")
