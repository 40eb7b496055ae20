"""Align the adapters of an EVE checkpoint by Factorized Diffusion Distillation: train the
student's LoRA θ_align (and the two discriminator heads) against the frozen edit and video
teachers, on unsupervised items (source clip, instruction, output caption), never a target video.

    python -m reference.train_fdd --weights reference/weights/synth --steps 1500 --batch-size 64
    python -m reference.train_fdd --weights W --name align_no_sds --no-sds          # an ablation
    (the ablations: --name align_random_init --random-init, align_no_sds --no-sds,
     align_no_disc --no-adversarial, align_no_kbin --no-kbin)

The student is written to <weights>/<name>/ (diffusers LoRA format, `reference.student`). Training
state goes to --output-dir (default runs/fdd/<name>): loss.jsonl (per iteration: every loss term,
the discriminators' accuracy, the rollout timesteps) and checkpoints/step_N/ (LoRA, heads, both
optimizers, RNG), from which a re-run resumes. Every iteration's randomness (data, noise,
timesteps) is a function of (seed, iteration), so a resumed run logs what an uninterrupted one
would. docs/fdd.md explains each setting.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from reference import fdd
from reference.data import batches, make_stream
from reference.fdd import FDDSettings
from reference.student import ALIGN_TARGETS, attach_student, save_student
from reference.run_folder import resume_state, truncate_log
from reference.run_folder import save_checkpoint as _save_checkpoint
from reference.run_folder import start_run_record as _start_run_record
from reference.training import TrainConfig, stream_seed
from reference.training import release_accelerator_state as _release_accelerator_state


@dataclass
class FDDTrainConfig(FDDSettings, TrainConfig):
    weights: str = "reference/weights/synth"
    """EVE checkpoint with both adapters; the student is written into it as <name>/"""
    name: str = "align"
    """the student's folder in the checkpoint: "align" (the student reference.eve loads) or
    "align_<variant>" for an ablation"""
    random_init: bool = False
    """ablation "random init": a fresh ControlNet copied from the backbone UNet and identity motion
    modules, trained with the LoRA (the teachers stay the trained adapters)"""
    lora_rank: int = 32
    lora_alpha: float | None = None
    """LoRA alpha (None: the rank, so the scale is 1)"""
    lora_targets: str = ALIGN_TARGETS
    """regex over the motion UNet's module names"""
    disc_lr: float = 1e-4
    steps: int = 1500
    batch_size: int = 64
    """clips per optimizer step (split into micro-batches of batch_size / gradient_accumulation_steps)"""
    lr: float = 1e-5
    use_ema: bool = False
    checkpoint_every: int = 50
    log_every: int = 1
    output_dir: str = ""
    """training state; default runs/fdd/<name>"""


class Trainable(nn.Module):
    """Everything FDD trains, as one module for accelerate's checkpoints: the student's trainable
    parameters (shared with its UNet / ControlNet, so loading a checkpoint updates them in place)
    and the discriminator heads. The frozen parts are not in it and never saved."""

    def __init__(self, student_params: list[nn.Parameter], disc: fdd.Discriminators):
        super().__init__()
        self.student = nn.ParameterList(student_params)
        self.disc = disc


def _micro_batches(cfg: FDDTrainConfig) -> tuple[int, int]:
    accum = max(1, cfg.gradient_accumulation_steps)
    if cfg.batch_size % accum:
        raise ValueError(f"batch_size {cfg.batch_size} does not split into {accum} micro-batches")
    return cfg.batch_size // accum, accum


def _seed(cfg: FDDTrainConfig, step: int, process: int) -> int:
    return stream_seed(cfg, step) + 7919 * process


def _items(stream_fn, cfg: FDDTrainConfig, step: int, micro: int, accum: int, process: int = 0) -> list[dict]:
    """The iteration's micro-batches: a fresh stream seeded by (seed, step, process), so resuming
    at any iteration draws exactly the items an uninterrupted run drew there, and each process of a
    multi-GPU run draws its own."""
    it = batches(stream_fn(_seed(cfg, step, process)), micro)
    return [next(it) for _ in range(accum)]


def _generator(cfg: FDDTrainConfig, step: int, micro: int, process: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(_seed(cfg, step, process) * 31 + micro)


def _average_gradients(accelerator, params) -> None:
    """Average gradients over processes (a no-op on one)."""
    if accelerator.num_processes > 1:
        for p in params:
            if p.grad is not None:
                p.grad = accelerator.reduce(p.grad, reduction="mean")


def _features(cfg: FDDTrainConfig, model, device):
    bb = model.backbone
    if cfg.disc_backbone == "dinov2":
        return fdd.Dinov2Features(cfg.dinov2_path, bb.vae, bb.vae.config.scaling_factor, device)
    return fdd.UNetEncoderFeatures(bb.unet, bb.scheduler, cfg.disc_t_max)


@dataclass
class Session:
    """Everything one FDD run holds: the checkpoint with its teachers, the student, the
    discriminators on their feature network, the guidance in use and both optimizers."""

    model: object
    student: object
    features: object
    disc: fdd.Discriminators
    guidance: fdd.Guidance
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    accelerator: object


def setup(cfg: FDDTrainConfig, accelerator) -> Session:
    """Load the checkpoint, attach a fresh student and build the discriminators and optimizers."""
    from reference.checkpoint import EVEModel

    model = EVEModel.from_pretrained(cfg.weights, require=("edit_adapter", "video_adapter")).to(accelerator.device)
    student = attach_student(model, own_adapters=cfg.random_init, rank=cfg.lora_rank, alpha=cfg.lora_alpha,
                             targets=cfg.lora_targets)
    if cfg.gradient_checkpointing:
        student.video_unet.enable_gradient_checkpointing()
        student.controlnet.enable_gradient_checkpointing()
    features = _features(cfg, model, accelerator.device)
    torch.manual_seed(cfg.seed)
    disc = fdd.Discriminators(features.channels(), model.backbone.text_encoder.config.hidden_size,
                              max(32, model.config.num_frames)).to(accelerator.device)
    student_params = student.trainable()
    opt_g = torch.optim.AdamW(student_params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    opt_d = torch.optim.AdamW(disc.parameters(), lr=cfg.disc_lr, betas=(0.0, 0.999))
    # registered for checkpoints (model.safetensors) but never wrapped in DDP, which would wait for
    # a forward through it; gradients are averaged by hand (_average_gradients)
    accelerator.prepare_model(Trainable(student_params, disc), evaluation_mode=True)
    opt_g, opt_d = accelerator.prepare(opt_g, opt_d)
    return Session(model, student, features, disc, fdd.resolve_guidance(cfg, model.config.sampling), opt_g, opt_d,
                   accelerator)


def train(cfg: FDDTrainConfig, stream_fn=None) -> dict:
    """`stream_fn(seed)` -> iterable of dict(video, instruction, target_caption, task); default:
    the synthetic world's unsupervised edit clips."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    weights = Path(cfg.weights)
    if cfg.random_init and not cfg.name.startswith("align"):
        raise ValueError("name the student folder align_<variant>")
    out = Path(cfg.output_dir or f"runs/fdd/{cfg.name}")
    cfg.output_dir = str(out)
    micro, accum = _micro_batches(cfg)
    _release_accelerator_state()
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision, cpu=cfg.cpu, project_dir=str(out))
    set_seed(cfg.seed)
    session = setup(cfg, accelerator)
    model, student = session.model, session.student
    if stream_fn is None:
        stream_fn = lambda seed: make_stream("edit_clip", seed=seed, size=model.config.resolution,  # noqa: E731
                                             num_frames=model.config.num_frames)

    step, ckpt = resume_state(accelerator, cfg, out)
    log_path = out / "loss.jsonl"
    if not cfg.export_only and accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=2, default=str) + "\n")
        _start_run_record(out, {"weights": str(weights), "name": cfg.name}, fresh=ckpt is None)
        if ckpt is not None:
            truncate_log(log_path, step)
    t0 = time.time()
    last = {}
    while step < cfg.steps and not cfg.export_only:
        last = iteration(cfg, session, _items(stream_fn, cfg, step, micro, accum, accelerator.process_index), step)
        step += 1
        last = {"step": step, **last, "seconds": round(time.time() - t0, 3)}
        if accelerator.is_main_process and (step % cfg.log_every == 0 or step == cfg.steps or step == 1):
            with open(log_path, "a") as f:
                f.write(json.dumps(last) + "\n")
        if cfg.checkpoint_every > 0 and (step % cfg.checkpoint_every == 0 or step == cfg.steps):
            _save_checkpoint(accelerator, out, step, cfg.keep_checkpoints)

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        from reference.run_folder import run_record

        if cfg.export_only and (out / "train_config.json").is_file():
            run_cfg = json.loads((out / "train_config.json").read_text())
        else:
            run_cfg = asdict(cfg)
        run_cfg["steps"] = step
        info = {"fdd": run_cfg, "run": str(out), "run_id": run_record(out).get("id"),
                "guidance": asdict(session.guidance), "trained_parameters": sum(p.numel() for p in student.trainable())}
        if student.own_adapters:
            info["motion_adapter_config"] = dict(model.video_adapter.config)
        save_student(student, weights / cfg.name, info)
    return {"step": step, **last, "log": str(log_path), "student": str(weights / cfg.name)}


def iteration(cfg: FDDTrainConfig, session: Session, micro_batches: list[dict], step: int) -> dict:
    """One FDD iteration over its micro-batches: the student's update, then the discriminators'."""
    model, student, features, disc, guidance = (session.model, session.student, session.features, session.disc,
                                                session.guidance)
    opt_g, opt_d, accelerator = session.opt_g, session.opt_d, session.accelerator
    adversarial = cfg.adversarial_at(step)
    accum = len(micro_batches)
    logs: dict[str, float] = {}

    def add(key, value):
        logs[key] = logs.get(key, 0.0) + float(value) / accum

    disc.requires_grad_(False)  # L_G reaches the student only
    stash = []
    for i, items in enumerate(micro_batches):
        gen = _generator(cfg, step, i, accelerator.process_index)
        batch = fdd.prepare_batch(model, items, cfg, guidance, gen)
        with accelerator.autocast():
            x0, taus = fdd.rollout(model, student, batch, cfg, guidance, gen)
            loss_e = loss_v = torch.zeros((), device=x0.device)
            if cfg.sds:
                (sds_e, gap_e), (sds_v, gap_v) = fdd.sds_losses(model, batch, x0, cfg, guidance, gen)
                loss_e, loss_v = loss_e + cfg.lambda_sds * sds_e, loss_v + cfg.lambda_sds * sds_v
                for key, value in (("sds_e", sds_e), ("sds_v", sds_v), ("gap_e", gap_e), ("gap_v", gap_v)):
                    add(key, value.item())
            real = None
            if adversarial:
                real = fdd.teacher_samples(model, batch, cfg, guidance, gen)
                g_e, g_v = fdd.adversarial_generator_losses(features, disc, batch, x0, real, cfg.g_loss)
                loss_e, loss_v = loss_e + g_e, loss_v + g_v
                add("g_e", g_e.item()), add("g_v", g_v.item())
            loss = cfg.alpha * loss_e + cfg.beta * loss_v
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the student's loss became {loss.item()} at iteration {step}")
        accelerator.backward(loss / accum)
        add("loss_g", loss.item())
        stash.append((batch, x0.detach(), real))
    logs["taus"] = taus
    _average_gradients(accelerator, student.trainable())
    if cfg.max_grad_norm > 0:
        logs["grad_norm"] = float(accelerator.clip_grad_norm_(student.trainable(), cfg.max_grad_norm))
    opt_g.step()
    opt_g.zero_grad(set_to_none=True)
    if adversarial:
        disc.requires_grad_(True)
        for batch, x0, real in stash:
            with accelerator.autocast():
                d = fdd.discriminator_losses(features, disc, batch, x0, real)
                loss_d = cfg.alpha * d["d_e"] + cfg.beta * d["d_v"]
            accelerator.backward(loss_d / accum)
            add("loss_d", loss_d.item())
            for key in ("d_e", "d_v", "acc_e", "acc_v"):
                add(key, d[key].item())
        _average_gradients(accelerator, disc.parameters())
        opt_d.step()
        opt_d.zero_grad(set_to_none=True)
    logs["phase"] = "adversarial" if adversarial else "sds"
    return {k: (round(v, 6) if isinstance(v, float) and math.isfinite(v) else v) for k, v in logs.items()}


def main() -> None:
    import tyro

    print(json.dumps(train(tyro.cli(FDDTrainConfig)), default=str))


if __name__ == "__main__":
    main()
