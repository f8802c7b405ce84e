"""Who owns which models on a server.

Local (the default): one person, whose models are in `ENCDEC_HOME/models`. Shared (a classroom
server): every visitor works in a private workspace, `ENCDEC_HOME/workspaces/<id>/models`, where
<id> is a hash of the visitor's browser key or sign-in, so nothing a visitor sends ever names a
folder. The class's models, published by a teacher, are in `ENCDEC_HOME/class/models`.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import SUFFIX, CheckpointError
from .store import ModelStore

KEY_BYTES = 24                                   # 192 random bits per browser
_KEY = re.compile(r"[A-Za-z0-9_-]{32,64}")       # what a browser key may look like


def new_key() -> str:
    """A fresh, unguessable browser key (URL-safe)."""
    return secrets.token_urlsafe(KEY_BYTES)


def valid_key(key) -> bool:
    return isinstance(key, str) and _KEY.fullmatch(key) is not None


class QuotaError(CheckpointError):
    """A workspace is full: `key` says which quota ('models', 'megabytes', 'trainings'), `limit` its size."""

    def __init__(self, key: str, limit: int):
        self.key, self.limit = key, limit
        super().__init__(f"This workspace has reached its quota of {limit} {key}; delete a model first.")


RESERVATION_STALE = 120  # seconds: a reservation not refreshed for this long belongs to a server that stopped


@dataclass(frozen=True)
class Workspace:
    id: str          # a hash: it never contains anything a visitor typed
    root: Path

    def store(self, reserved=()) -> ModelStore:
        return ModelStore(self.root / "models", reserved=reserved)

    def usage(self) -> tuple[int, int]:
        """(models, bytes) in this workspace."""
        folder = self.root / "models"
        files = [p for p in folder.glob("*" + SUFFIX) if not p.name.startswith(".")] if folder.is_dir() else []
        sizes = []
        for p in files:
            with contextlib.suppress(OSError):
                sizes.append(p.stat().st_size)
        return len(sizes), sum(sizes)

    # -- quotas: checked and reserved in one step, across threads and processes ----------------------

    @contextlib.contextmanager
    def lock(self):
        """This workspace alone, for as long as the block runs (an flock on its own file: it holds
        between threads, processes and web servers on one machine's disk)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _reservations(self) -> list[dict]:
        """Live reservations (stale ones are removed)."""
        folder, out = self.root / "reserved", []
        for p in folder.glob("*.json") if folder.is_dir() else []:
            try:
                if time.time() - p.stat().st_mtime > RESERVATION_STALE:
                    p.unlink()
                    continue
                out.append(json.loads(p.read_text()))
            except (OSError, ValueError):
                continue
        return out

    def reserve(self, size: int, quotas: dict, job: bool = False) -> "Reservation":
        """Check the quotas for one more model of about `size` bytes (and, for a job, one more
        training) and hold its place, in one atomic step; QuotaError says which quota is full. A
        queued or running job holds its model's place until it ends."""
        with self.lock():
            held = self._reservations()
            count, used = self.usage()
            if job and sum(r.get("job", False) for r in held) + 1 > quotas["trainings"]:
                raise QuotaError("trainings", quotas["trainings"])
            if count + len(held) + 1 > quotas["models"]:
                raise QuotaError("models", quotas["models"])
            if used + sum(int(r.get("size", 0)) for r in held) + size > quotas["megabytes"] * 1024 * 1024:
                raise QuotaError("megabytes", quotas["megabytes"])
            r = Reservation(self.root / "reserved" / f"{uuid.uuid4().hex}.json")
            r.path.parent.mkdir(exist_ok=True)
            r.path.write_text(json.dumps({"size": int(size), "job": job}))
            return r

    def room_for(self, size: int, quotas: dict) -> str | None:
        """None when a model of `size` bytes still fits (held places counted), else which quota it
        would break. For showing; `reserve` is what takes the place."""
        count, used = self.usage()
        held = self._reservations()
        if count + len(held) + 1 > quotas["models"]:
            return "models"
        if used + sum(int(r.get("size", 0)) for r in held) + size > quotas["megabytes"] * 1024 * 1024:
            return "megabytes"
        return None

    def jobs_held(self) -> int:
        return sum(r.get("job", False) for r in self._reservations())

    # -- the teacher --------------------------------------------------------------------------------

    def make_teacher(self, password: str) -> None:
        """Remember that this workspace's holder knew the teacher password (a salted slow hash of it,
        so a new password ends it); the teacher's browser keeps the key, so a reload keeps the role."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "teacher").write_text(password_hash(password))

    def is_teacher(self, password: str | None) -> bool:
        mark = self.root / "teacher"
        if not password or not mark.is_file():
            return False
        try:
            return password_verifies(mark.read_text().strip(), password)
        except OSError:
            return False


@dataclass
class Reservation:
    """A model's place in a workspace, held from a check of the quotas until the model is saved or given up."""
    path: Path

    def release(self) -> None:
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> "Reservation":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


# scrypt with N = 2**15, r = 8: about 60 ms and 32 MiB a hash on this project's 2-core machine, so that
# guessing offline from a copy of ENCDEC_HOME costs a million times more than an unsalted SHA-256.
SCRYPT = {"n": 2 ** 15, "r": 8, "p": 1}


def password_hash(password: str, salt: bytes | None = None) -> str:
    """A teacher mark: 'scrypt$N$r$p$salt$hash' (hex), with a fresh random salt."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, maxmem=64 * 1024 * 1024, dklen=32, **SCRYPT)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${digest.hex()}"


@functools.lru_cache(maxsize=256)
def password_verifies(mark: str, password: str) -> bool:
    """Whether a mark was made from `password` (constant-time compare; each pair is hashed once per
    process, so a page run does not pay for it again). Marks of any other form never verify."""
    parts = mark.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p, salt = int(parts[1]), int(parts[2]), int(parts[3]), bytes.fromhex(parts[4])
        if not (2 ** 10 <= n <= 2 ** 20 and 1 <= r <= 32 and p == 1 and len(salt) == 16):
            return False
        digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), parts[5])


class GuessLimit:
    """Wrong teacher passwords slow down: after the first few, each browser waits twice as long
    before its next guess (up to 5 minutes), and the whole server takes at most `per_minute`
    wrong guesses a minute from everyone together. `check` says how many seconds to wait (0: go)."""

    def __init__(self, free: int = 3, per_minute: int = 12, longest: float = 300.0):
        self.free, self.per_minute, self.longest = free, per_minute, longest
        self._lock = threading.Lock()
        self._who: dict[str, tuple[int, float]] = {}  # browser -> (wrong guesses, when the next may come)
        self._recent: list[float] = []                 # times of the server's recent wrong guesses

    def check(self, who: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._recent = [t for t in self._recent if now - t < 60]
            wait_browser = self._who.get(who, (0, 0.0))[1] - now
            wait_server = (self._recent[0] + 60 - now) if len(self._recent) >= self.per_minute else 0.0
            return max(0.0, wait_browser, wait_server)

    def wrong(self, who: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            n = self._who.get(who, (0, 0.0))[0] + 1
            delay = 0.0 if n <= self.free else min(self.longest, 2.0 ** (n - self.free))
            self._who[who] = (n, now + delay)
            self._recent.append(now)
            if len(self._who) > 10_000:  # forget the oldest browsers, never the server's count
                self._who.pop(next(iter(self._who)))

    def right(self, who: str) -> None:
        with self._lock:
            self._who.pop(who, None)


def _id(kind: str, secret: str) -> str:
    return f"{kind}-" + hashlib.sha256(f"encdec:{kind}:{secret}".encode()).hexdigest()[:32]


def for_key(home: Path, key: str) -> Workspace:
    """The workspace of a browser key (refused unless it looks like one this app makes)."""
    if not valid_key(key):
        raise CheckpointError("That workspace key is not one this app makes.")
    wid = _id("key", key)
    return Workspace(wid, home / "workspaces" / wid)


def for_user(home: Path, email: str) -> Workspace:
    """The workspace of a signed-in user."""
    wid = _id("user", email.strip().lower())
    return Workspace(wid, home / "workspaces" / wid)


def local(home: Path) -> Workspace:
    """The one workspace of a local app: ENCDEC_HOME/models, as always."""
    return Workspace("local", home)


def class_store(home: Path) -> ModelStore:
    return ModelStore(home / "class" / "models", source="class")


def publish(source: ModelStore, name: str, target: ModelStore) -> str:
    """Copy a model from a workspace to the class (checked again, under a free name); returns its name."""
    path = source.path_for(name)
    if not path.is_file():
        raise CheckpointError(f"There is no model named {name[:40]!r} to publish.")
    return target.import_bytes(path.read_bytes(), path.name)


def password_matches(given: str, expected: str | None) -> bool:
    """Compare a typed teacher password in constant time; no password set means nobody matches."""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())
