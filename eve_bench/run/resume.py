"""What makes a finished sample reusable: its cache key, its seed, and the check a resumed run
makes before serving a record instead of calling the model (docs/results.md, Durability)."""

from __future__ import annotations

import functools
from pathlib import Path

from eve_bench.hashing import content_hash, files_stamp, json_hash
from eve_bench.run.config import RunConfig
from eve_bench.run.results import SampleRecord
from eve_bench.sample import Sample
from eve_bench.suites import Suite
from eve_bench.video import frames_digest

CACHE_FORMAT = 1


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


def model_file_stamps(model_args: dict) -> dict:
    """Model args that name weights on disk enter the cache key through their files' stamps, so
    weights retrained in place are a new experiment even though the argument string did not change."""
    return {k: files_stamp(v) for k, v in model_args.items() if isinstance(v, str) and v and Path(v).exists()}


def cache_key(cfg: RunConfig, suite: Suite, sample: Sample, seed: int, stamps: dict) -> str:
    return json_hash({
        "format": CACHE_FORMAT,
        "model": cfg.model,
        "model_args": cfg.model_args,
        "model_files": stamps,
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
