"""One model call: the request, the guarded call, the output's checks and its files on disk.

What counts against a model: its own exceptions and invalid outputs. A failed write is the
environment (RunError, the run stops); a model that hangs past --timeout or raises SystemExit /
KeyboardInterrupt stops the run (models/guard.py).
"""

from __future__ import annotations

import random
import sys
import time
import traceback

import numpy as np

from eve_bench.models import EditRequest
from eve_bench.models.guard import ModelStopped, call_edit
from eve_bench.run.folder import RunFolder, writing
from eve_bench.run.results import SampleRecord
from eve_bench.sample import Sample
from eve_bench.video import Video, frames_digest, frames_problem, write_frames_dir, write_mp4


def output_problem(output, source: Video) -> str | None:
    frames = output.frames if isinstance(output, Video) else getattr(output, "frames", output)
    problem = frames_problem(frames, shape=source.frames.shape)
    return f"model returned an invalid video: {problem}" if problem else None


def generate(model, sample: Sample, source: Video, folder: RunFolder, record: SampleRecord, *,
             timeout: float | None, fail_fast: bool, previews: bool) -> str | None:
    """Call the model and write its output; the model's errors fail the record. Returns why the
    run must stop (a timeout, a SystemExit or KeyboardInterrupt in the model), or None."""
    request = EditRequest(
        # The model gets its own copy: an in-place edit must not change the reference it is scored against.
        video=Video(source.frames.copy(), fps=source.fps, meta=dict(source.meta)),
        instruction=sample.instruction,
        source_caption=sample.source_caption,
        target_caption=sample.target_caption,
        task=sample.task,
        seed=record.seed,
        video_id=sample.video_id,
        group=sample.group,
    )
    seed_everything(record.seed)
    t1 = time.perf_counter()
    try:
        output = call_edit(model, request, timeout)
        problem = output_problem(output, source)
        if problem:
            raise ValueError(problem)
    except ModelStopped as e:
        record.status, record.error = "failed", str(e)
        return str(e)
    except Exception as e:
        if fail_fast:
            raise
        record.status = "failed"
        record.error = f"{type(e).__name__}: {e}"
        record.traceback = traceback.format_exc(limit=-3)[-2000:]
        return None
    t2 = time.perf_counter()
    if not isinstance(output, Video):
        output = Video(output.frames if hasattr(output, "frames") else output, fps=source.fps)
    frames_dir = folder.frames(sample)
    with writing(frames_dir):
        write_frames_dir(output, frames_dir)
    record.output = str(frames_dir.relative_to(folder.root))
    record.frames_sha256 = frames_digest(frames_dir)
    preview = folder.preview(sample)
    with writing(preview):
        if previews:
            write_mp4(output, preview)
            record.preview = str(preview.relative_to(folder.root))
        else:  # an earlier run's preview would show another output than this record's
            preview.unlink(missing_ok=True)
    record.timings.update(edit_s=round(t2 - t1, 4), write_s=round(time.perf_counter() - t2, 4))
    return None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
