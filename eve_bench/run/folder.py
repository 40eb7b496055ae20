"""The run folder (`--out`): where each sample's files go, who may write there, and for what.

Four rules keep a folder's results credited to the model that made them:
- one process at a time: a run holds an exclusive lock on `DIR/.lock` (released by the kernel when
  the process ends, however it ends), and a second run on the folder fails at once;
- one configuration per folder: `DIR/run.json` names the model, its args, the seed, the frame
  policy and the suite; another configuration is refused unless asked to overwrite, which clears
  the folder's results first;
- a run that has not finished is never read as finished: the last run's `summary.json` and
  `samples.jsonl` are withdrawn before this one writes anything, and written again at its end;
- a sample is finished only with the exact frames it scored (records carry the frames' digest).
Writers are atomic; what a killed writer leaves behind (hidden temporary names) is removed when
the next run takes the lock, since no other process can be writing then.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

from eve_bench.atomic import atomic_write_text
from eve_bench.errors import RunError
from eve_bench.sample import Sample

IDENTITY_NAME = "run.json"
LOCK_NAME = ".lock"
RESULTS = ("submission", "previews", "records", "samples.jsonl", "summary.json", IDENTITY_NAME)
PUBLISHED = ("summary.json", "samples.jsonl")  # what a finished run adds; readers look for the summary first
# Temporary names of the atomic writers in eve_bench/video.py: ".<name>.<random>.tmp[.mp4]" and
# ".<name>.old-<pid>" (a folder being replaced).
_LEFTOVER = re.compile(r"^\..+\.(tmp(\.mp4)?|old-\d+)$")


class RunFolder:
    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def frames(self, sample: Sample) -> Path:
        return self.root / "submission" / sample.group / sample.video_id / sample.edit_id

    def record(self, sample: Sample) -> Path:
        return self.root / "records" / sample.group / sample.video_id / f"{sample.edit_id}.json"

    def preview(self, sample: Sample) -> Path:
        return self.root / "previews" / sample.group / sample.video_id / f"{sample.edit_id}.mp4"

    def discard(self, sample: Sample) -> None:
        """Remove a sample's outputs (from an earlier configuration of its cache key) once it failed,
        so the submission holds no frames its record does not vouch for."""
        shutil.rmtree(self.frames(sample), ignore_errors=True)
        self.preview(sample).unlink(missing_ok=True)

    @contextmanager
    def locked(self):
        """Hold the folder's lock for the duration; RunError if another process holds it."""
        import fcntl

        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle = open(self.root / LOCK_NAME, "a+")
        except FileExistsError:
            raise RunError(f"--out {self.root}: exists and is not a folder") from None
        except OSError as e:
            raise RunError(f"--out {self.root}: cannot write there ({e.strerror or e})") from None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                raise RunError(
                    f"--out {self.root} is in use by another eve-bench process (pid {holder}); "
                    "wait for it to finish or choose another --out"
                ) from None
            with writing(self.root / LOCK_NAME):
                handle.seek(0)
                handle.truncate()
                handle.write(f"{os.getpid()}\n")
                handle.flush()
            yield self

    def claim(self, identity: dict, overwrite: bool) -> None:
        """Make the folder this configuration's and withdraw the last run's results (call with the
        lock held, before anything else is written)."""
        path = self.root / IDENTITY_NAME
        text = json.dumps(identity, sort_keys=True, default=str) + "\n"
        identity = json.loads(text)  # compared as stored: tuples become lists, paths strings
        try:
            previous = json.loads(path.read_text())
        except FileNotFoundError:
            previous = None
        except (OSError, ValueError):
            previous = {"unreadable": str(path)}
        if previous is not None and not isinstance(previous, dict):
            previous = {"unreadable": str(path)}
        if previous is not None and previous != identity:
            if not overwrite:
                changed = "; ".join(
                    f"{k} was {previous.get(k)!r}, now {identity.get(k)!r}"
                    for k in sorted(set(previous) | set(identity)) if previous.get(k) != identity.get(k)
                )
                raise RunError(
                    f"--out {self.root} holds results of another configuration ({changed}); pass --overwrite to "
                    "replace them, or choose another --out"
                )
            self.clear()
        with writing(path):
            atomic_write_text(path, text)
        for name in PUBLISHED:
            _remove(self.root / name)

    def clear(self) -> None:
        """Remove the results (only the names eve-bench writes: --out may hold other files)."""
        for name in RESULTS:
            _remove(self.root / name)

    def remove_leftovers(self) -> list[Path]:
        """Delete what killed atomic writers left (call with the lock held); returns the paths."""
        found = [p for p in self.root.iterdir() if _LEFTOVER.match(p.name)]
        for name in ("submission", "previews", "records"):
            if (self.root / name).is_dir():
                found += [p for p in (self.root / name).rglob(".*") if _LEFTOVER.match(p.name)]
        for path in found:
            _remove(path)
        return found


def _remove(path: Path) -> None:
    with writing(path):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


@contextmanager
def writing(path: Path):
    """Turn a failed write (disk full, read-only, permissions) into a RunError naming the file: the
    environment stopped the run; the model is not to blame."""
    try:
        yield
    except OSError as e:
        raise RunError(
            f"cannot write {path}: {e.strerror or e}. The run stopped; finished samples are kept, and re-running "
            "the command resumes"
        ) from e
