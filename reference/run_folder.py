"""A training run's folder (`--output-dir`), the same for every trainer:

  run.json               the run's record: a random id and the facts of its first start
  train_config.json      the settings it trains with
  loss.jsonl             one JSON line per logged step (step, loss, lr, seconds)
  checkpoints/step_<N>/  accelerate state (model, optimizer, EMA, RNG) + trainer.json

Every file is written atomically (eve_bench.atomic), and a checkpoint is `step_<N>.partial` until
it is complete, so a run killed at any moment leaves nothing that passes for finished. Resuming
loads the newest checkpoint and cuts loss.jsonl back to it, so the log always describes the
weights beside it.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING

from eve_bench.atomic import atomic_write_text

if TYPE_CHECKING:
    from reference.training import TrainConfig

RUN_RECORD = "run.json"
TRAIN_CONFIG = "train_config.json"
# what an --export-only command decides for itself; every other setting is the run's own
_EXPORT_LOCAL = frozenset({"weights", "output_dir", "export_only", "resume", "cpu", "num_workers"})


def run_record(output_dir: str | Path) -> dict:
    """A run's record: {"id": a random id, and the facts of its first start}; {} for a run that
    predates records."""
    path = Path(output_dir) / RUN_RECORD
    return json.loads(path.read_text()) if path.is_file() else {}


def start_run_record(out: Path, facts: dict, fresh: bool) -> None:
    """Written at a run's first start (`fresh`: no checkpoint to resume, so a folder reused by a
    new run gets a new record) and kept through resumes and exports. The id tells runs apart where
    their folders cannot (the same folder reused, or one run named by two spellings of it)."""
    if not fresh and run_record(out):
        return
    atomic_write_text(out / RUN_RECORD, json.dumps({"id": uuid.uuid4().hex, **facts}) + "\n")


def write_train_config(out: Path, cfg) -> None:
    """The settings of a (re)started run, as `adopt_run_config` reads them back."""
    atomic_write_text(out / TRAIN_CONFIG, json.dumps(asdict(cfg), indent=2, default=str) + "\n")


def adopt_run_config(cfg: TrainConfig, out: Path) -> None:
    """Take the run's settings from its train_config.json, so that an export's notes say how the
    run was trained (its lr, batch size, ...), not the defaults of the exporting command line."""
    path = out / TRAIN_CONFIG
    if not path.is_file():
        return
    saved = json.loads(path.read_text())
    for f in fields(cfg):
        if f.name in saved and f.name not in _EXPORT_LOCAL:
            setattr(cfg, f.name, saved[f.name])


def checkpoints(output_dir: str | Path) -> list[Path]:
    """Finished checkpoints, oldest first. One being written is `step_N.partial` until it is
    complete, so a run killed while saving leaves nothing that passes for a checkpoint."""
    done = [p for p in Path(output_dir, "checkpoints").glob("step_*")
            if p.name.removeprefix("step_").isdigit() and (p / "trainer.json").is_file()]
    return sorted(done, key=lambda p: int(p.name.removeprefix("step_")))


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    ckpts = checkpoints(output_dir)
    return ckpts[-1] if ckpts else None


def save_checkpoint(accelerator, out: Path, step: int, keep: int) -> None:
    """The accelerator's registered state as checkpoints/step_<step>, keeping the newest `keep`."""
    final = out / "checkpoints" / f"step_{step:07d}"
    partial = final.with_name(final.name + ".partial")
    if accelerator.is_main_process:
        for stale in (out / "checkpoints").glob("step_*.partial"):  # left by a run killed while saving
            shutil.rmtree(stale, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(partial))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (partial / "trainer.json").write_text(json.dumps({"step": step}) + "\n")
        shutil.rmtree(final, ignore_errors=True)
        partial.rename(final)
        ckpts = checkpoints(out)
        for old in ckpts[: max(0, len(ckpts) - keep)]:
            shutil.rmtree(old, ignore_errors=True)


def resume_state(accelerator, cfg: TrainConfig, out: Path) -> tuple[int, Path | None]:
    """Load the newest checkpoint under `out` into the accelerator's registered state when the run
    resumes or exports; returns (step, checkpoint), (0, None) for a fresh start."""
    ckpt = latest_checkpoint(out) if cfg.resume or cfg.export_only else None
    if cfg.export_only and ckpt is None:
        raise FileNotFoundError(f"--export-only: no checkpoint under {out / 'checkpoints'} to export")
    if ckpt is None:
        return 0, None
    accelerator.load_state(str(ckpt))
    step = json.loads((ckpt / "trainer.json").read_text())["step"]
    accelerator.print(f"resumed from {ckpt} at step {step}")
    return step, ckpt


def truncate_log(path: Path, step: int) -> None:
    """Keep the lines of a loss.jsonl logged at or before `step`. A line cut short by a kill is
    dropped too."""
    if not path.is_file():
        return
    lines = path.read_text().splitlines(keepends=True)
    keep = []
    for line in lines:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if line.endswith("\n") and row["step"] <= step:
            keep.append(line)
    if len(keep) != len(lines):
        atomic_write_text(path, "".join(keep))
