"""Bytes the pages fetch themselves: a model's weights, a split's codes, a map, the test digits.

A page's element gets a short address (`/encdec/blob/KEY`) instead of the bytes, and fetches them over
HTTP, where the browser keeps them (`Cache-Control: immutable`): a page load sends a few hundred bytes
of JSON, and a model a browser has seen is never sent to it again, not even after a reload. KEY is a
hash of what the bytes are (their kind and the content they come from), so it is the same on every
server process and unguessable without the content. The bytes are kept here, in memory, up to a bound.
Bytes that compress well (8-bit pictures) are gzip-compressed once when they are made; the rest (float
weights and codes, which gzip shrinks by a few percent for a tenth of a second per model) are sent as
they are, marked so that the server's own compression leaves them alone: it would otherwise compress
them again for every browser that fetches them.
"""
from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from typing import Callable

MAX_BYTES = 512 * 1024 * 1024  # what this process keeps at most (the least recently fetched goes first)
PREFIX = "/encdec/blob/"

_lock = threading.Lock()
_kept: OrderedDict[str, tuple[bytes, str]] = OrderedDict()  # key -> (bytes, their Content-Encoding)
_size = 0


def key_of(*parts) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def put(key: str, make: Callable[[], bytes], compress: bool = False) -> str:
    """Keep the bytes `make()` gives under `key` (made, and compressed when asked, once) and return the
    address a page fetches them at."""
    global _size
    with _lock:
        if key in _kept:
            _kept.move_to_end(key)
            return PREFIX + key
    data = make()
    kept = (gzip.compress(data, compresslevel=6, mtime=0), "gzip") if compress else (data, "identity")
    with _lock:
        if key not in _kept:
            _kept[key] = kept
            _size += len(kept[0])
            while _size > MAX_BYTES and len(_kept) > 1:
                _, (old, _) = _kept.popitem(last=False)
                _size -= len(old)
    return PREFIX + key


def get(key: str) -> tuple[bytes, str] | None:
    """(the bytes kept under `key`, their Content-Encoding), or None."""
    with _lock:
        found = _kept.get(key)
        if found is not None:
            _kept.move_to_end(key)
        return found
