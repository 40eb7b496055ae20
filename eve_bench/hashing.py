"""The one way eve-bench hashes files and content for cache keys.

- `files_stamp`: names, sizes and modification times under a path (weights folders named in
  model args or metric options): a file rewritten in place is new, without reading gigabytes;
- `content_hash`: the exact bytes of an array (with its shape and dtype) or a text, for keys that
  must change whenever the content does (embedding cache, frames digests);
- `json_hash`: a JSON-serialisable description (cache keys, seeds);
- `files_digest`: the bytes of every file under a path, for identities that must survive a copy.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable

import numpy as np


def files_stamp(path: str | os.PathLike) -> str:
    """Hash of every file's relative path, size and mtime under `path` (a file or a folder)."""
    root = Path(path)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(root) if f != root else f.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def content_hash(obj) -> str:
    """sha256 of a numpy array (with shape and dtype) or a string."""
    h = hashlib.sha256()
    if isinstance(obj, np.ndarray):
        arr = np.ascontiguousarray(obj)
        h.update(f"{arr.dtype}{arr.shape}".encode())
        h.update(arr.data)
    else:
        h.update(str(obj).encode())
    return h.hexdigest()


def named_bytes_hash(parts: Iterable[tuple[str, bytes]], length: int = 32) -> str:
    """Hash of (name, bytes) pairs in order (a frame folder: each frame's name and file bytes)."""
    h = hashlib.sha256()
    for name, data in parts:
        h.update(name.encode() + b"\0" + data)
    return h.hexdigest()[:length]


def json_hash(obj, length: int = 24) -> str:
    """Short hash of a JSON-serialisable object (keys sorted; other objects by str)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:length]


def files_digest(path: str | os.PathLike, suffixes: tuple[str, ...] = ()) -> str:
    """Hash of every file's relative path and bytes under `path` (a file or a folder), optionally
    only files ending in `suffixes`: the same content gives the same digest in any folder, after
    a fresh clone or a copy, where `files_stamp` would not."""
    root = Path(path)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    h = hashlib.sha256()
    for f in files:
        if suffixes and not f.name.endswith(suffixes):
            continue
        h.update(f"{f.relative_to(root).as_posix() if f != root else f.name}\0".encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()[:24]
