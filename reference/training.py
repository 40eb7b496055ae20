"""The shared accelerate training loop of the three entry points.

Each entry point supplies a `torch.nn.Module` whose `forward(batch)` returns the loss, whose
trainable parameters are the only ones with `requires_grad`, and an `export(module)` callback
that writes the trained part into the EVE checkpoint (called with EMA weights swapped in).

The run's folder (record, settings, loss log, checkpoints) is reference/run_folder.py's. Resume:
the newest checkpoint is loaded when `resume` is on, and the data stream is re-seeded with
(seed, step) (`stream_seed`) so the resumed run does not replay the same items.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch

from eve_bench.encoders.precision import ACCELERATE, torch_dtype
from reference.data import batch_iterator
from reference.run_folder import (
    adopt_run_config,
    resume_state,
    run_record,
    save_checkpoint,
    start_run_record,
    truncate_log,
    write_train_config,
)

if TYPE_CHECKING:
    from reference.backbone import Backbone


@dataclass
class TrainConfig:
    output_dir: str = "runs/reference"
    """training state: checkpoints and loss.jsonl"""
    steps: int = 1000
    """optimizer steps in total (including resumed ones)"""
    batch_size: int = 16
    lr: float = 1e-4
    weight_decay: float = 0.0
    lr_warmup_steps: int = 0
    max_grad_norm: float = 1.0
    gradient_accumulation_steps: int = 1
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    """compute precision (mixed: the trained weights stay float32; frozen modules are cast to it)"""
    gradient_checkpointing: bool = False
    use_ema: bool = True
    ema_decay: float = 0.999
    seed: int = 0
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    resume: bool = True
    """continue from the newest checkpoint in output_dir/checkpoints"""
    export_only: bool = False
    """write the newest checkpoint's part (EMA weights) into the EVE checkpoint and stop, writing nothing
    in output_dir: a snapshot of a run in progress (point --weights at a copy to leave the run's alone)"""
    log_every: int = 10
    num_workers: int = 0
    """DataLoader worker processes drawing the batches (0: in the training process; a GPU wants several)"""
    cpu: bool = False
    """force CPU even when an accelerator is present"""

    @property
    def mixed_precision(self) -> str:
        """`precision` as accelerate names it."""
        return ACCELERATE[self.precision]

    def note(self, **extra) -> dict:
        """What a checkpoint records about how one of its parts was trained."""
        run_id = run_record(self.output_dir).get("id")
        return {"steps": self.steps, "seed": self.seed, "batch_size": self.batch_size, "lr": self.lr,
                "lr_warmup_steps": self.lr_warmup_steps, "run": self.output_dir,
                **({"run_id": run_id} if run_id else {}), **extra}


def continues_part(weights: str | Path, part: str, init_adapter: str | None) -> dict:
    """The run fact `record_adapter` needs, decided when the run starts (an export may later go to a
    copy of the checkpoint): does it start from the adapter the checkpoint holds?"""
    return {"continues": bool(init_adapter) and Path(init_adapter).resolve() == (Path(weights) / part).resolve()}


def record_adapter(weights: Path, part: str, cfg: TrainConfig, init_adapter: str | None, **extra) -> None:
    """Record an adapter export in the checkpoint's notes. A run that started from the adapter its
    checkpoint held (`continues_part`, as in reference/continue_adapters_gpu.sh) continues that
    adapter's lineage; one started elsewhere (a public ControlNet) names its start instead."""
    from reference.checkpoint import EVEConfig

    note = cfg.note(**extra)
    if init_adapter:
        note["init_adapter"] = str(init_adapter)
    record = run_record(cfg.output_dir)  # a run older than run records: judged now instead
    continued = record["continues"] if "continues" in record else continues_part(weights, part, init_adapter)["continues"]
    EVEConfig.record_training(weights, part, note, default_layout=True, continued=continued)


def stream_seed(cfg: TrainConfig, start_step: int) -> int:
    """The data seed of a run (re)started at `start_step`: a resumed run must not replay the items
    it has already trained on."""
    return cfg.seed + 1_000_003 * start_step


def run_training(
    cfg: TrainConfig,
    module: torch.nn.Module,
    stream_fn: Callable[[int], Iterable[dict]],
    export: Callable[[torch.nn.Module], None] | None = None,
    frozen: list[torch.nn.Module] | tuple = (),
    run_facts: dict | None = None,
) -> dict:
    """Train `module` for cfg.steps optimizer steps; returns a summary dict.

    `stream_fn(seed)` returns the item stream, batched here (`cfg.batch_size`, `cfg.num_workers`).
    `frozen` modules are moved to the device and, with mixed precision, cast to its dtype.
    `run_facts`: what was true when the run first started, kept in its run record (`run_record`)."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from diffusers.training_utils import EMAModel

    out = Path(cfg.output_dir)
    release_accelerator_state()  # a previous run in this process may have used other settings
    accelerator = Accelerator(
        mixed_precision=cfg.mixed_precision,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        cpu=cfg.cpu,
        project_dir=str(out),
    )
    set_seed(cfg.seed)
    wdtype = torch_dtype(cfg.precision)
    for m in frozen:
        m.to(accelerator.device, dtype=wdtype)
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise ValueError("nothing to train: no parameter requires grad")
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / cfg.lr_warmup_steps) if cfg.lr_warmup_steps > 0 else 1.0
    )
    module, optimizer, scheduler = accelerator.prepare(module, optimizer, scheduler)
    ema = None
    if cfg.use_ema:
        ema = EMAModel(params, decay=cfg.ema_decay)
        ema.to(accelerator.device)
        accelerator.register_for_checkpointing(ema)

    step, ckpt = resume_state(accelerator, cfg, out)
    if cfg.export_only:
        adopt_run_config(cfg, out)
        cfg.steps = step  # the export's notes then record the steps the snapshot really had

    if accelerator.is_main_process and not cfg.export_only:
        out.mkdir(parents=True, exist_ok=True)
        write_train_config(out, cfg)
        start_run_record(out, run_facts or {}, fresh=ckpt is None)
    log_path = out / "loss.jsonl"
    if ckpt is not None and accelerator.is_main_process and not cfg.export_only:
        truncate_log(log_path, step)
    it = None if cfg.export_only else batch_iterator(stream_fn(stream_seed(cfg, step)), cfg.batch_size, cfg.num_workers)
    module.train()
    t0 = time.time()
    running, count, last_loss = 0.0, 0, float("nan")
    while step < cfg.steps:
        batch = next(it)
        with accelerator.accumulate(module):
            with accelerator.autocast():
                loss = module(batch)
            accelerator.backward(loss)
            if accelerator.sync_gradients and cfg.max_grad_norm > 0:
                accelerator.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        value = accelerator.gather(loss.detach().float()).mean().item()
        if not math.isfinite(value):
            raise FloatingPointError(f"loss became {value} at step {step}")
        running += value
        count += 1
        if accelerator.sync_gradients:
            step += 1
            if ema is not None:
                ema.step(params)
            last_loss = running / count
            if accelerator.is_main_process and (step % cfg.log_every == 0 or step == cfg.steps or step == 1):
                with open(log_path, "a") as f:
                    f.write(json.dumps({"step": step, "loss": last_loss, "lr": scheduler.get_last_lr()[0],
                                        "seconds": round(time.time() - t0, 3)}) + "\n")
            running, count = 0.0, 0
            if cfg.checkpoint_every > 0 and (step % cfg.checkpoint_every == 0 or step == cfg.steps):
                save_checkpoint(accelerator, out, step, cfg.keep_checkpoints)

    accelerator.wait_for_everyone()
    unwrapped = accelerator.unwrap_model(module)
    if export is not None and accelerator.is_main_process:
        if ema is not None:
            ema.store(params)
            ema.copy_to(params)
        export(unwrapped)
        if ema is not None:
            ema.restore(params)
    return {"step": step, "loss": last_loss, "seconds": time.time() - t0, "log": str(log_path)}


def release_accelerator_state() -> None:
    """Forget accelerate's per-process singletons (mixed precision, accumulation) so that several
    trainings with different settings can run in one process (the process group is kept)."""
    try:
        from accelerate.state import AcceleratorState, GradientState

        AcceleratorState._reset_state(reset_partial_state=False)
        GradientState._reset_state()
    except (ImportError, AttributeError):  # pragma: no cover - private API moved
        pass


class FrozenBackboneLoss(torch.nn.Module):
    """Base of the losses that train parts on top of a frozen backbone (t2i, edit and video adapters).

    The backbone is held in a list so that it is not registered: its weights stay out of the
    accelerate checkpoint, the EMA and the optimizer, and the trained parts keep their state-dict keys."""

    def __init__(self, backbone: Backbone):
        super().__init__()
        self._backbone = [backbone]

    @property
    def backbone(self) -> Backbone:
        return self._backbone[0]

    @property
    def device(self) -> torch.device:
        """Where accelerate placed the trained parts; batches are moved there."""
        return next(self.parameters()).device


def diffusion_noise(backbone, latents: torch.Tensor, generator=None):
    """(noise, timesteps, noisy) for a DDPM training step on latents (first dim = batch)."""
    noise = torch.randn(latents.shape, generator=generator, device=latents.device, dtype=latents.dtype)
    n = backbone.scheduler.config.num_train_timesteps
    t = torch.randint(0, n, (latents.shape[0],), generator=generator, device=latents.device).long()
    return noise, t, backbone.scheduler.add_noise(latents, noise, t)
