"""On-disk cache of embeddings keyed by (encoder id, content hash), so re-scoring is cheap.

The content hash covers the exact array (bytes, shape, dtype) or text handed to the encoder, so a
changed video or prompt can never hit a stale entry; the encoder id must name the weights (by
their content: `local_weights.weights_id`, so the same weights in any folder share entries) and
the preprocessing. Entries are written through a temporary name and renamed into place.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from eve_bench.atomic import atomic_file
from eve_bench.hashing import cache_root, content_hash

# Part of every entry's key: bump it when the cache's layout or what an entry holds changes, and
# only then (an encoder whose outputs change says so in its own id).
EMBEDDING_CACHE_FORMAT = 1


def default_cache_dir() -> Path:
    return cache_root() / "embeddings"


class EmbeddingCache:
    def __init__(self, root: str | os.PathLike | None = None, enabled: bool = True) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.enabled = enabled
        self.hits = 0
        self.misses = 0

    def _path(self, encoder_id: str, key: str) -> Path:
        safe = content_hash(f"{EMBEDDING_CACHE_FORMAT}|{encoder_id}")[:16]
        return self.root / safe / key[:2] / f"{key}.npy"

    def get(self, encoder_id: str, key: str) -> np.ndarray | None:
        if not self.enabled:
            return None
        path = self._path(encoder_id, key)
        try:
            value = np.load(path, allow_pickle=False)
        except (FileNotFoundError, ValueError, OSError):
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, encoder_id: str, key: str, value: np.ndarray) -> None:
        if not self.enabled:
            return
        with atomic_file(self._path(encoder_id, key)) as tmp, open(tmp, "wb") as f:
            np.save(f, np.asarray(value), allow_pickle=False)

    def get_or_compute(self, encoder_id: str, items: list, compute) -> list[np.ndarray]:
        """Embeddings for `items` (arrays or strings); `compute(missing_items) -> array (N, D)`
        is called once, batched, for the items not in the cache."""
        keys = [content_hash(x) for x in items]
        out: list[np.ndarray | None] = [self.get(encoder_id, k) for k in keys]
        todo = [i for i, v in enumerate(out) if v is None]
        if todo:
            fresh = compute([items[i] for i in todo])
            for i, value in zip(todo, fresh):
                value = np.asarray(value)
                self.put(encoder_id, keys[i], value)
                out[i] = value
        return out  # type: ignore[return-value]
