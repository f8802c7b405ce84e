"""The environment variables this project reads, each checked in one place.

A bad value raises `SettingsError` with one sentence saying which variable and what to set;
the CLI turns it into exit code 2 and the app into a message on every page.
"""
from __future__ import annotations

import os
from pathlib import Path


class SettingsError(ValueError):
    """An environment variable has a value this project cannot use."""


def _shown(value: str, limit: int = 60) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "…")


def integer(name: str, default: int, lo: int, hi: int) -> int:
    """A whole-number variable from lo to hi; unset or empty gives the default."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} is {_shown(raw)}, not a whole number; set it to a number from {lo} to {hi}, "
                            "or unset it.") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name} is {value}; set it to a number from {lo} to {hi}, or unset it.")
    return value


def flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} is {_shown(raw)}; set it to 1 or 0, or unset it.")


def folder(name: str, default: Path) -> Path:
    """A folder variable; it need not exist yet, but it must not be a file."""
    raw = os.environ.get(name, "")
    path = Path(raw).expanduser() if raw.strip() else default
    if path.exists() and not path.is_dir():
        raise SettingsError(f"{name} points at {str(path)[:200]}, which is a file; point it at a folder "
                            "(it is created when missing).")
    return path


def home() -> Path:
    """`ENCDEC_HOME`: your models (`models/`), workspaces and the map cache (`cache/`)."""
    return folder("ENCDEC_HOME", Path.home() / ".encdec")


def data_dir() -> Path:
    """`ENCDEC_DATA_DIR`: the folder above `MNIST/raw` and `FashionMNIST/raw` (default `./data`)."""
    return folder("ENCDEC_DATA_DIR", Path("data"))


def download_allowed() -> bool:
    """`ENCDEC_DOWNLOAD=0` forbids network downloads (CI sets it)."""
    return flag("ENCDEC_DOWNLOAD", True)


def workers() -> int:
    """`ENCDEC_WORKERS`: trainings, probes and new decoders that run at once (each in a worker process,
    or as a task on the Ray cluster); later ones wait in a queue."""
    return integer("ENCDEC_WORKERS", 1, 1, 64)


def map_workers() -> int:
    """`ENCDEC_MAP_WORKERS`: map fits and model digests that run at once, beside the trainings."""
    return integer("ENCDEC_MAP_WORKERS", 1, 1, 16)


def worker_threads() -> int:
    """`ENCDEC_WORKER_THREADS`: torch threads of each local worker (0: every core for a training, one
    for a map)."""
    return integer("ENCDEC_WORKER_THREADS", 0, 0, 256)


IDLE = "idle"  # ENCDEC_WORKER_NICE's value for "only the cycles nothing else wants"
IDLE_SUPPORTED = hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE")


def worker_nice() -> int | str:
    """`ENCDEC_WORKER_NICE`: how much local workers yield the processor to the web server, so that pages
    stay quick while trainings run beside them. `idle` (the default where the system has it, Linux):
    workers run only on cycles that nothing at normal priority wants (SCHED_IDLE), so pages come before
    trainings; a number from 0 to 19 is a Unix nice value added to theirs (10 elsewhere)."""
    raw = os.environ.get("ENCDEC_WORKER_NICE", "").strip().lower()
    if raw == IDLE or (not raw and IDLE_SUPPORTED):
        if not IDLE_SUPPORTED:
            raise SettingsError("ENCDEC_WORKER_NICE is 'idle', which this system does not offer; set it to a "
                                "number from 0 to 19, or unset it.")
        return IDLE
    try:
        return integer("ENCDEC_WORKER_NICE", 10, 0, 19)
    except SettingsError:
        raise SettingsError(f"ENCDEC_WORKER_NICE is {_shown(raw)}; set it to idle or to a number from 0 to 19, "
                            "or unset it.") from None


def max_queue() -> int:
    """`ENCDEC_MAX_QUEUE`: trainings that may wait at once on a server; one more is refused with a sentence."""
    return integer("ENCDEC_MAX_QUEUE", 20, 1, 1000)


def ray_cpus() -> int:
    """`ENCDEC_RAY_CPUS`: the CPUs each piece of long work asks the Ray cluster for (and its torch threads)."""
    return integer("ENCDEC_RAY_CPUS", 1, 1, 256)


def ray_address() -> str | None:
    """`ENCDEC_RAY_ADDRESS`: run long work on this Ray cluster ('auto', 'host:port' or
    'ray://host:10001') instead of local worker processes."""
    raw = os.environ.get("ENCDEC_RAY_ADDRESS", "").strip()
    if not raw:
        return None
    if raw != "auto" and not (raw.startswith("ray://") or ":" in raw) or any(c.isspace() for c in raw) or len(raw) > 200:
        raise SettingsError(f"ENCDEC_RAY_ADDRESS is {_shown(raw)}; set it to auto, host:port or ray://host:10001, "
                            "or unset it to run long work on this machine.")
    return raw


def shared() -> bool:
    """`ENCDEC_SHARED=1`: a classroom server, where every visitor works in a private workspace."""
    return flag("ENCDEC_SHARED", False)


def teachers() -> frozenset[str]:
    """`ENCDEC_TEACHERS`: the e-mail addresses of signed-in users who teach (comma-separated)."""
    return frozenset(e.strip().lower() for e in os.environ.get("ENCDEC_TEACHERS", "").split(",") if e.strip())


def quotas() -> dict[str, int]:
    """Per-workspace limits on a classroom server (a visitor who reaches one is told what to delete)."""
    return {"models": integer("ENCDEC_QUOTA_MODELS", 20, 1, 10_000),
            "megabytes": integer("ENCDEC_QUOTA_MB", 100, 1, 1_000_000),
            "trainings": integer("ENCDEC_QUOTA_TRAININGS", 1, 1, 64),
            "upload_mb": integer("ENCDEC_QUOTA_UPLOAD_MB", 20, 1, 200)}
