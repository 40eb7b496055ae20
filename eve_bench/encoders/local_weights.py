"""Where weights come from, for every loader (metrics' encoders, public models, the reference
checkpoints): a folder, or the snapshot of a hub id already in the local Hugging Face cache, never
the network. A run must not start a multi-gigabyte download half-way through a suite.

And the one pickle policy: only safetensors are loaded. A pickled checkpoint (.bin, .pt, ...) can
run code when it loads, so a folder whose weights are only pickles is refused (with how to convert
it once), as is a file that is a pickle whatever its name.

And the one identity of weights in cache keys and metric ids (`weights_id`): their content, never
their path or modification times, so the same weights in two folders or after a fresh clone give
the same ids and share the embedding cache.

Only huggingface_hub is imported here, so a missing-weights error comes in well under a second.
"""

from __future__ import annotations

import os
from pathlib import Path

from eve_bench.hashing import cached_files_digest

# What the loaders read from a weights folder (tensors, configs, tokenizer files): a weights id
# covers these, not training logs, notes or pickles that are never loaded.
WEIGHTS_SUFFIXES = (".safetensors", ".json", ".txt")
PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".ckpt", ".pkl"})
# The first bytes of what torch.save writes: a zip archive (torch >= 1.6) or a bare pickle stream.
_PICKLE_MAGIC = (b"PK\x03\x04", b"\x80")


def is_hub_id(spec: str) -> bool:
    """"owner/name" with nothing that makes it a path."""
    parts = spec.split("/")
    return len(parts) == 2 and all(parts) and not spec.startswith((".", "~")) and "\\" not in spec


def weights_id(path: str | os.PathLike, suffixes: tuple[str, ...] = WEIGHTS_SUFFIXES) -> str:
    """The content identity of a weights file or folder (its files ending in `suffixes`), as cache
    keys and metric ids carry it: `sha256:<24 hex digits>`."""
    return f"sha256:{cached_files_digest(path, suffixes)}"


def local_folder(spec: str) -> Path | None:
    """The folder `spec` names, or the cached snapshot of hub id `spec`; None when neither is on
    this machine."""
    path = Path(spec).expanduser()
    if os.path.isdir(path):  # False, not OSError, for a name longer than the file system allows
        return path
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(spec, local_files_only=True))
    except Exception:  # not cached, or not even a valid repo id (HFValidationError)
        return None


def hub_cache() -> str:
    """The local Hugging Face cache that hub ids are looked up in (HF_HOME / HF_HUB_CACHE)."""
    from huggingface_hub.constants import HF_HUB_CACHE

    return str(HF_HUB_CACHE)


def pickled_only(folder: Path) -> list[str]:
    """The pickled weights files of `folder` when it holds no safetensors (nothing it holds may be
    loaded then); [] when it has safetensors or no pickles."""
    files = [f for f in folder.iterdir() if f.is_file()]
    if any(f.name.endswith(".safetensors") for f in files):
        return []
    return sorted(f.name for f in files if f.suffix in PICKLE_SUFFIXES)


def is_pickle(file: Path) -> bool:
    """Whether `file` is a PyTorch pickle checkpoint, by its first bytes (a renamed one too)."""
    with open(file, "rb") as f:
        return f.read(4).startswith(_PICKLE_MAGIC)
