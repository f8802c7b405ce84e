"""Where a classroom's teacher is in the lesson, for the students' pages to follow.

One small JSON file in the class's folder (`ENCDEC_HOME/class/lesson.json`): the step, what the step
shows (a code, a place, a frame), and a count that grows with every move. The teacher's page writes it
through the server's follow route with the class's lesson key; every student's page reads it through the
same route twice a second. Reading costs a stat of the file and, when it changed, one small read:
several web servers sharing ENCDEC_HOME all serve the same lesson.
"""
from __future__ import annotations

import hmac
import json
import os
import secrets
import tempfile
import threading
from pathlib import Path

MAX_BYTES = 16 * 1024   # a step's state is a few numbers; anything larger is refused
STEPS = 64              # steps a lesson may have, at most


def folder(home: Path) -> Path:
    return home / "class"


def lesson_key(home: Path) -> str:
    """The class's secret that lets a page move the lesson (given only to teachers' pages), made once."""
    path = folder(home) / "lesson-key"
    try:
        return path.read_text().strip()
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(24)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        f.write(key)
    try:
        os.link(tmp, path)  # the first page to make it wins; others read that one
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    return path.read_text().strip()


def check(position) -> dict | None:
    """A position as the teacher's page sends it ({step, state}), checked like any user input; None when unusable."""
    if not isinstance(position, dict) or set(position) - {"step", "state"}:
        return None
    step, state = position.get("step"), position.get("state", {})
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < STEPS or not isinstance(state, dict):
        return None
    if len(json.dumps(state)) > MAX_BYTES or not all(isinstance(k, str) and len(k) <= 8 for k in state):
        return None
    if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) and (not isinstance(v, str) or len(v) <= 4000)
               for v in state.values()):
        return None
    return {"step": step, "state": state}


class Lesson:
    """The class's lesson position: `move` (the teacher) and `read` (everyone), across processes."""

    def __init__(self, home: Path):
        self.path = folder(home) / "lesson.json"
        self._lock = threading.RLock()
        self._seen: tuple | None = None   # (mtime_ns, size) of the file last read
        self._value: dict = {"step": 0, "state": {}, "seq": 0}

    def read(self) -> dict:
        try:
            info = os.stat(self.path)
        except OSError:
            return {"step": 0, "state": {}, "seq": 0, "led": False}
        stamp = (info.st_mtime_ns, info.st_size)
        with self._lock:
            if stamp != self._seen and info.st_size <= MAX_BYTES * 2:
                try:
                    value = json.loads(self.path.read_text())
                    if check({k: value[k] for k in ("step", "state")}) is not None and isinstance(value.get("seq"), int):
                        self._value = value
                except (OSError, ValueError, KeyError, TypeError):
                    pass
                self._seen = stamp
            return {**self._value, "led": True}

    def move(self, key: str, expected: str, position) -> dict | None:
        """Move the lesson when `key` is the class's lesson key and the position is sound; the new
        position, or None (and nothing changes)."""
        checked = check(position)
        if checked is None or not key or not hmac.compare_digest(key.encode(), expected.encode()):
            return None
        with self._lock:
            current = self.read()
            value = {**checked, "seq": int(current.get("seq", 0)) + 1}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-")
            with os.fdopen(fd, "w") as f:
                json.dump(value, f)
            os.replace(tmp, self.path)
            return value
