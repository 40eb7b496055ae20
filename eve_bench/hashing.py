"""The one way eve-bench hashes files and content for cache keys.

- `files_digest`: the bytes of every file under a path, so the same content gives the same
  identity in any folder, after a fresh clone or a copy (weights named in model args or metric
  options, the reference teachers);
- `cached_files_digest`: the same digest, remembered per folder so that gigabytes of weights are
  read once, not on every run;
- `content_hash`: the exact bytes of an array (with its shape and dtype) or a text, for keys that
  must change whenever the content does (embedding cache, frames digests);
- `json_hash`: a JSON-serialisable description (cache keys, seeds).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from eve_bench.atomic import atomic_write_text

# Bump when the digest cache's entries change meaning; old entries are then recomputed.
DIGEST_CACHE_FORMAT = 1


def cache_root() -> Path:
    """eve-bench's cache folder: $EVE_BENCH_CACHE, default ~/.cache/eve_bench (embeddings, digests)."""
    return Path(os.environ.get("EVE_BENCH_CACHE", Path.home() / ".cache" / "eve_bench"))


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


def _listed(root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """`root` itself when it is a file (named on purpose, whatever its name), else the regular
    files under it ending in `suffixes` (all when empty), in a fixed order. Special files (FIFOs,
    devices) are never listed, so never opened."""
    if root.is_file():
        return [root]
    return [p for p in sorted(root.rglob("*")) if p.is_file() and (not suffixes or p.name.endswith(suffixes))]


def _name(f: Path, root: Path) -> str:
    return f.relative_to(root).as_posix() if f != root else f.name


def _digest(root: Path, files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f"{_name(f, root)}\0".encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()[:24]


def files_digest(path: str | os.PathLike, suffixes: tuple[str, ...] = ()) -> str:
    """Hash of every file's relative path and bytes under `path` (a file or a folder), optionally
    only a folder's files ending in `suffixes`: the same content gives the same digest in any
    folder."""
    root = Path(path)
    return _digest(root, _listed(root, suffixes))


def cached_files_digest(path: str | os.PathLike, suffixes: tuple[str, ...] = ()) -> str:
    """`files_digest(path, suffixes)`, remembered in `cache_root()/digests/`: an entry is reused
    while every listed file keeps its name, size, mtime and ctime (ctime changes on any write,
    even one that restores the mtime), so weights are read once per machine, not once per run.
    Only the lookup is per machine (keyed by the resolved path); the digest itself is not."""
    root = Path(path).resolve()
    files = _listed(root, suffixes)
    # Stated before hashing: a file rewritten while it is read leaves an entry that never matches.
    stats = [[_name(f, root), st.st_size, st.st_mtime_ns, st.st_ctime_ns] for f in files for st in [f.stat()]]
    entry = cache_root() / "digests" / f"{json_hash([str(root), list(suffixes)])}.json"
    try:
        cached = json.loads(entry.read_text())
        if cached["format"] == DIGEST_CACHE_FORMAT and cached["files"] == stats:
            return cached["digest"]
    except (OSError, ValueError, KeyError, TypeError):
        pass  # absent, unreadable or from another format: computed afresh
    digest = _digest(root, files)
    try:
        atomic_write_text(entry, json.dumps({"format": DIGEST_CACHE_FORMAT, "path": str(root), "digest": digest,
                                             "files": stats}))
    except OSError:
        pass  # a read-only cache costs time, never correctness
    return digest
