"""What makes a finished sample reusable: its cache key, its seed, and the check a resumed run
makes before serving a record instead of calling the model (docs/results.md, Durability)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable

from eve_bench.hashing import cached_files_digest, content_hash, json_hash
from eve_bench.run.config import RunConfig
from eve_bench.run.results import SampleRecord
from eve_bench.sample import Sample
from eve_bench.suites import Suite
from eve_bench.video import frames_digest

# Part of every cache key: bump it with any change that alters what a model is given or how its
# outputs are written (and only then), so that finished samples run again; a refactor keeps them.
# tests/test_trust.py pins today's key, so that no key changes by accident.
CACHE_FORMAT = 2


def sample_seed(seed: int, sample: Sample) -> int:
    return int(content_hash(f"{seed}/{sample.key}")[:8], 16)


@functools.lru_cache(maxsize=None)
def model_version(spec: str) -> str:
    """Version of the installed distribution that provides the model's top-level package.

    Cached: scanning the installed distributions takes a fraction of a second, once per sample
    otherwise."""
    import importlib.metadata as md

    import eve_bench

    top = spec.split(":")[0].split(".")[0]
    dists = md.packages_distributions().get(top)
    if dists:
        try:
            return f"{dists[0]}=={md.version(dists[0])}"
        except md.PackageNotFoundError:
            pass
    return f"eve-bench=={eve_bench.__version__}"


def keyed_model_args(model_args: dict, reads: Callable[..., dict] | None = None) -> dict:
    """The model args as the cache key sees them: an arg naming a file or folder by its content
    (every file's bytes beneath it), so weights retrained in place are a new experiment although
    the argument did not change, and the same weights elsewhere (another checkout) are the same.

    `reads`: the model factory's account of what it loads (its attribute `reads`, called with the
    model args, returning {arg: {part: path}}). Such an arg is keyed by exactly those parts, so a
    file beside them that the model never opens (another model's weights in the same checkpoint)
    keeps its results, and an arg left at its default is keyed by the files the default names."""
    keyed = {k: f"sha256:{cached_files_digest(v)}" if names_a_path(v) else v for k, v in model_args.items()}
    for arg, parts in (reads(**model_args) if reads is not None else {}).items():
        # by part name and content only, so the same parts anywhere give the same key
        keyed[arg] = "sha256:" + json_hash({part: cached_files_digest(path) if os.path.exists(path) else None
                                            for part, path in sorted(parts.items())})
    return keyed


def names_a_path(value: object) -> bool:
    # os.path.exists says False, where pathlib raises, for a text longer than a file name may be.
    return isinstance(value, str) and bool(value) and os.path.exists(value)


def cache_key(cfg: RunConfig, suite: Suite, sample: Sample, seed: int, model_args: dict) -> str:
    """`model_args`: `keyed_model_args(cfg.model_args)`, computed once per run."""
    return json_hash({
        "format": CACHE_FORMAT,
        "model": cfg.model,
        "model_args": model_args,
        "model_version": model_version(cfg.model),
        "suite": [suite.name, suite.version],
        "sample": [sample.key, sample.fingerprint],
        "seed": seed,
        "frames": cfg.selection.frame_policy.to_dict(),
    })


def finished(record: SampleRecord | None, key: str, frames_dir: Path) -> bool:
    """A record counts only under the current key and with exactly the frames it scored on disk."""
    return (record is not None and record.status == "ok" and record.cache_key == key
            and record.frames_sha256 == frames_digest(frames_dir))


def failed_before(record_path: Path) -> bool:
    record = SampleRecord.load(record_path)
    return record is not None and record.status == "failed"
