"""Who owns which models on a server.

Local (the default): one person, whose models are in `ENCDEC_HOME/models`. Shared (a classroom
server): every visitor works in a private workspace, `ENCDEC_HOME/workspaces/<id>/models`, where
<id> is a hash of the visitor's browser key or sign-in, so nothing a visitor sends ever names a
folder. The class's models, published by a teacher, are in `ENCDEC_HOME/class/models`.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
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
        return len(files), sum(p.stat().st_size for p in files)

    def make_teacher(self, password: str) -> None:
        """Remember that this workspace's holder knew the teacher password (a hash of it, so a new
        password ends it); the teacher's browser keeps the key, so a reload keeps the role."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "teacher").write_text(_password_hash(password))

    def is_teacher(self, password: str | None) -> bool:
        mark = self.root / "teacher"
        return bool(password) and mark.is_file() and hmac.compare_digest(mark.read_text().strip(), _password_hash(password))

    def room_for(self, size: int, quotas: dict) -> str | None:
        """None when a model of `size` bytes still fits, else which quota it would break
        ('models' or 'megabytes')."""
        count, used = self.usage()
        if count + 1 > quotas["models"]:
            return "models"
        if used + size > quotas["megabytes"] * 1024 * 1024:
            return "megabytes"
        return None


def _password_hash(password: str) -> str:
    return hashlib.sha256(f"encdec:teacher:{password}".encode()).hexdigest()


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
