"""Align the adapters of an EVE checkpoint by Factorized Diffusion Distillation: train the
student's LoRA θ_align (and the two discriminator heads) against the frozen edit and video
teachers, on unsupervised items (source clip, instruction, output caption), never a target video.

    python -m reference.train_fdd --weights reference/weights/synth --steps 1500 --batch-size 64
    python -m reference.train_fdd --weights W --name align_no_sds --no-sds          # an ablation
    (the ablations: --name align_random_init --random-init, align_no_sds --no-sds,
     align_no_disc --no-adversarial, align_no_kbin --no-kbin)

Items and the teachers' samples come from the teacher bank (`reference.teacher_bank`, under
--bank-root, made on first use or ahead with `python -m reference.teacher_bank`). The student is
written to <weights>/<name>/ (diffusers LoRA format, `reference.student`). Training state goes to
--output-dir (default runs/fdd/<name>): loss.jsonl (per iteration: every loss term, the
discriminators' paired measures, each term's gradient on the student every --grad-log-every
iterations, D on the held-out probe every --probe-every, the rollout timesteps) and
checkpoints/step_N/ (LoRA, heads, replay buffer, both optimizers, RNG), from which a re-run
resumes. --init-from starts a new run from another run's checkpoint (the ablations that share
the student's SDS-only phase branch from it). Every iteration's randomness (items, noise,
timesteps) is a function of (seed, iteration), so a resumed or branched run logs what an
uninterrupted one would. docs/fdd.md explains each setting.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from reference import fdd
from reference.discriminators import Dinov2Features, Discriminators, UNetEncoderFeatures
from reference.fdd import FDDSettings
from reference.student import ALIGN_TARGETS, attach_student, save_student
from reference.run_folder import (
    latest_checkpoint,
    resume_state,
    run_record,
    save_checkpoint,
    start_run_record,
    truncate_log,
    write_train_config,
)
from reference.teacher_bank import TeacherBank, synth_sources
from reference.training import TrainConfig, release_accelerator_state


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
    bank_root: str = "runs/fdd/bank"
    """where teacher banks live (`reference.teacher_bank`); the checkpoint, guidance and step counts pick the folder"""
    bank_items: int = 512
    """training items: the student draws them in a fresh random order every pass"""
    probe_items: int = 48
    """held-out items D is measured on (`fdd.probe`)"""
    data: str = ""
    """train on your own videos: a JSONL / CSV of rows (video, instruction, target_caption, task) or
    the TGVE+ parquet (evaluation data: warned); reference.fdd_data. Default: the synthetic world"""
    data_stride: int = 2
    """with --data: a clip takes every data_stride-th frame of its video"""
    data_seed: int = 0
    """which items the bank holds (synth: the probe split takes data_seed + 1; --data: which rows are
    held out); the same for every seed and ablation"""
    init_from: str = ""
    """a checkpoint folder of another run (…/checkpoints/step_N) to start this run from, with that
    run's log up to N; for ablations that share the student's SDS-only phase"""


class Trainable(nn.Module):
    """Everything FDD trains or accumulates, as one module for accelerate's checkpoints: the
    student's trainable parameters (shared with its UNet / ControlNet, so loading a checkpoint
    updates them in place), the discriminator heads and the replay buffer. The frozen parts are
    not in it and never saved."""

    def __init__(self, student_params: list[nn.Parameter], disc: Discriminators, replay: fdd.ReplayBuffer):
        super().__init__()
        self.student = nn.ParameterList(student_params)
        self.disc = disc
        self.replay = replay


def _micro_batches(cfg: FDDTrainConfig) -> tuple[int, int]:
    accum = max(1, cfg.gradient_accumulation_steps)
    if cfg.batch_size % accum:
        raise ValueError(f"batch_size {cfg.batch_size} does not split into {accum} micro-batches")
    return cfg.batch_size // accum, accum


def _seed(cfg: FDDTrainConfig, step: int, process: int, stream: int = 0) -> int:
    return (cfg.seed + 1_000_003 * step) * 31 + 7919 * process + stream


def item_indices(seed: int, num_items: int, step: int, micro: int, accum: int, process: int = 0,
                 num_processes: int = 1) -> list[list[int]]:
    """The bank items of an iteration's micro-batches: consecutive positions in a sequence of passes
    over the `num_items` training items, each pass in an order seeded by (seed, pass), so resuming
    at any iteration draws exactly the items an uninterrupted run drew there."""
    per_step = micro * accum * num_processes
    out = []
    for j in range(accum):
        batch = []
        for m in range(micro):
            pos = step * per_step + (process * accum + j) * micro + m
            order = torch.randperm(num_items, generator=torch.Generator().manual_seed(seed * 7_777 + pos // num_items))
            batch.append(int(order[pos % num_items]))
        out.append(batch)
    return out


def _generator(cfg: FDDTrainConfig, step: int, micro: int, process: int = 0) -> torch.Generator:
    """The student's randomness (rollout noise and timesteps, SDS noise) of one micro-batch."""
    return torch.Generator().manual_seed(_seed(cfg, step, process, 1 + micro))


def _disc_generator(cfg: FDDTrainConfig, step: int, process: int = 0) -> torch.Generator:
    """The discriminators' own randomness (their batches and re-noising), apart from the student's,
    so training D never changes the student's draws: runs that differ only in D share a trajectory
    until D reaches the student."""
    return torch.Generator().manual_seed(_seed(cfg, step, process, 0))


def _average_gradients(accelerator, params) -> None:
    """Average gradients over processes (a no-op on one)."""
    if accelerator.num_processes > 1:
        for p in params:
            if p.grad is not None:
                p.grad = accelerator.reduce(p.grad, reduction="mean")


def _features(cfg: FDDTrainConfig, model, device):
    bb = model.backbone
    if cfg.disc_backbone == "dinov2":
        return Dinov2Features(cfg.dinov2_path, bb.vae, bb.vae.config.scaling_factor, cfg.disc_taps, device)
    return UNetEncoderFeatures(bb.unet, bb.scheduler, cfg.disc_taps)


@dataclass
class Session:
    """Everything one FDD run holds: the checkpoint with its teachers, the student, the
    discriminators on their feature network, the replay buffer, the teacher bank, the guidance in
    use and both optimizers."""

    model: object
    student: object
    features: object
    disc: Discriminators
    replay: fdd.ReplayBuffer
    bank: TeacherBank
    guidance: fdd.Guidance
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    accelerator: object
    num_items: int  # training items drawn (bank_items, or fewer where the data holds fewer)
    num_probe: int  # held-out items D is measured on
    data_report: object = None  # reference.fdd_data.DataReport with --data


def setup(cfg: FDDTrainConfig, accelerator, stream=None) -> Session:
    """Load the checkpoint, attach a fresh student and build the discriminators, the replay buffer,
    the bank and the optimizers. `stream` = (stream_fn, description) of the items (default: synth)."""
    from reference.checkpoint import EVEModel

    model = EVEModel.from_pretrained(cfg.weights, require=("edit_adapter", "video_adapter")).to(accelerator.device)
    student = attach_student(model, own_adapters=cfg.random_init, rank=cfg.lora_rank, alpha=cfg.lora_alpha,
                             targets=cfg.lora_targets)
    if cfg.gradient_checkpointing:
        student.video_unet.enable_gradient_checkpointing()
        student.controlnet.enable_gradient_checkpointing()
    features = _features(cfg, model, accelerator.device)
    torch.manual_seed(cfg.seed)
    disc = Discriminators(features.channels(), model.backbone.text_encoder.config.hidden_size,
                          max(32, model.config.num_frames)).to(accelerator.device)
    guidance = fdd.resolve_guidance(cfg, model.config.sampling)
    report = None
    if cfg.data:
        from reference.fdd_data import ClipPolicy, video_sources

        policy = ClipPolicy(model.config.num_frames, cfg.data_stride, model.config.resolution)
        sources, report = video_sources(cfg.data, policy, cfg.probe_items, cfg.data_seed)
        accelerator.print(report.line())
    else:
        sources = synth_sources(model, cfg.data_seed, stream)
    bank = TeacherBank(cfg.bank_root, cfg.weights, model, cfg, guidance, sources)
    # a student sample is shaped like the video teacher's clip of an item (the data's window)
    replay = fdd.ReplayBuffer(cfg.replay_size, tuple(bank.get("train", 0).clip.shape)).to(accelerator.device)
    student_params = student.trainable()
    opt_g = torch.optim.AdamW(student_params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    opt_d = torch.optim.AdamW(disc.parameters(), lr=cfg.disc_lr, betas=(0.0, 0.999))
    # registered for checkpoints (model.safetensors) but never wrapped in DDP, which would wait for
    # a forward through it; gradients are averaged by hand (_average_gradients)
    accelerator.prepare_model(Trainable(student_params, disc, replay), evaluation_mode=True)
    opt_g, opt_d = accelerator.prepare(opt_g, opt_d)
    num_items = min(cfg.bank_items, bank.size("train") or cfg.bank_items)
    num_probe = min(cfg.probe_items, bank.size("probe") or cfg.probe_items) if "probe" in sources else 0
    return Session(model, student, features, disc, replay, bank, guidance, opt_g, opt_d, accelerator, num_items,
                   num_probe, report)


def _branch(cfg: FDDTrainConfig, out: Path) -> None:
    """Start `out` from another run's checkpoint (--init-from): the checkpoint becomes this run's
    first, and the parent's log up to its step this run's log."""
    src = Path(cfg.init_from)
    if not (src / "trainer.json").is_file():
        raise FileNotFoundError(f"--init-from {src}: not a finished training checkpoint (no trainer.json)")
    step = json.loads((src / "trainer.json").read_text())["step"]
    shutil.copytree(src, out / "checkpoints" / src.name)
    parent_log = src.parent.parent / "loss.jsonl"
    if parent_log.is_file():
        shutil.copyfile(parent_log, out / "loss.jsonl")
        truncate_log(out / "loss.jsonl", step)


def train(cfg: FDDTrainConfig, stream_fn=None) -> dict:
    """`stream_fn(seed)` -> iterable of dict(video, instruction, target_caption, task), from which
    the bank draws its items; default: the synthetic world's unsupervised edit clips."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    weights = Path(cfg.weights)
    if cfg.random_init and not cfg.name.startswith("align"):
        raise ValueError("name the student folder align_<variant>")
    out = Path(cfg.output_dir or f"runs/fdd/{cfg.name}")
    cfg.output_dir = str(out)
    micro, accum = _micro_batches(cfg)
    branched = bool(cfg.init_from) and not cfg.export_only and latest_checkpoint(out) is None
    if branched:
        out.mkdir(parents=True, exist_ok=True)
        _branch(cfg, out)
    release_accelerator_state()
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision, cpu=cfg.cpu, project_dir=str(out))
    set_seed(cfg.seed)
    stream = None if stream_fn is None else (stream_fn, {"source": getattr(stream_fn, "__qualname__", "stream")})
    session = setup(cfg, accelerator, stream)
    student = session.student

    step, ckpt = resume_state(accelerator, cfg, out)
    log_path = out / "loss.jsonl"
    if not cfg.export_only and accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        write_train_config(out, cfg)
        facts = {"weights": str(weights), "name": cfg.name, "bank": str(session.bank.dir), "items": session.num_items}
        if session.data_report is not None:
            facts["data"] = session.data_report.as_dict()
        if cfg.init_from:
            facts["branched_from"] = cfg.init_from
        start_run_record(out, facts, fresh=ckpt is None or branched)
        if ckpt is not None:
            truncate_log(log_path, step)
    probe_items = [session.bank.get("probe", i).as_dict() for i in range(session.num_probe)] if cfg.adversarial else []
    t0 = time.time()
    last = {}
    while step < cfg.steps and not cfg.export_only:
        indices = item_indices(cfg.seed, session.num_items, step, micro, accum, accelerator.process_index,
                               accelerator.num_processes)
        last = iteration(cfg, session, indices, step)
        step += 1
        if _probe_due(cfg, step) and probe_items:
            last.update({f"probe_{k}": round(v, 6) for k, v in
                         fdd.probe(session.model, student, session.features, session.disc, probe_items, cfg,
                                   session.guidance, seed=cfg.data_seed).items()})
        last = {"step": step, **last, "seconds": round(time.time() - t0, 3)}
        if accelerator.is_main_process and (step % cfg.log_every == 0 or step == cfg.steps or step == 1 or
                                            any(k.startswith("probe_") for k in last)):
            with open(log_path, "a") as f:
                f.write(json.dumps(last) + "\n")
        if cfg.checkpoint_every > 0 and (step % cfg.checkpoint_every == 0 or step == cfg.steps):
            save_checkpoint(accelerator, out, step, cfg.keep_checkpoints)

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
            info["motion_adapter_config"] = dict(session.model.video_adapter.config)
        save_student(student, weights / cfg.name, info)
    return {"step": step, **last, "log": str(log_path), "student": str(weights / cfg.name)}


def _probe_due(cfg: FDDTrainConfig, step: int) -> bool:
    """After iteration `step` (1-based count): when D starts, when the student first sees it, every
    `probe_every` iterations while D trains, and at the end."""
    if not cfg.adversarial or cfg.probe_every <= 0:
        return False
    start = max(0, cfg.adversarial_start - cfg.d_warmup)
    if step < start:
        return False
    return step in (start, cfg.adversarial_start, cfg.steps) or (step - start) % cfg.probe_every == 0


def _disc_pairs(session: Session, cfg: FDDTrainConfig, gen: torch.Generator) -> fdd.Pairs:
    """A discriminator batch: up to d_batch of the student's recent samples, each with its item's
    teacher samples from the bank."""
    ids, fake = session.replay.draw(cfg.d_batch, gen)
    return fdd.pairs_from_items(session.model, [session.bank.get("train", i).as_dict() for i in ids], fake)


def discriminator_updates(cfg: FDDTrainConfig, session: Session, step: int) -> dict:
    """`d_steps` updates of both heads on replayed pairs; returns the averaged losses and the last
    batch's paired measures (as d_e, d_v, auc_e, ...)."""
    disc, opt_d, accelerator = session.disc, session.opt_d, session.accelerator
    if len(session.replay) == 0:
        return {}
    gen = _disc_generator(cfg, step, accelerator.process_index)
    disc.requires_grad_(True)
    logs: dict[str, float] = {}
    for _ in range(cfg.d_steps):
        pairs = _disc_pairs(session, cfg, gen)
        with accelerator.autocast():
            d = fdd.discriminator_losses(session.features, disc, pairs, cfg, gen)
            loss_d = cfg.alpha * d["d_e"] + cfg.beta * d["d_v"]
            if cfg.r1_weight > 0:
                loss_d = loss_d + cfg.r1_weight * (cfg.alpha * d["r1_e"] + cfg.beta * d["r1_v"])
        accelerator.backward(loss_d)
        _average_gradients(accelerator, disc.parameters())
        opt_d.step()
        opt_d.zero_grad(set_to_none=True)
        logs["loss_d"] = logs.get("loss_d", 0.0) + loss_d.item() / cfg.d_steps
        for key in ("d_e", "d_v", "r1_e", "r1_v"):
            if key in d:
                logs[key] = logs.get(key, 0.0) + d[key].item() / cfg.d_steps
    logs.update({k: v for k, v in d.items() if k.split("_")[0] in ("auc", "margin", "acc0")})
    disc.requires_grad_(False)
    return logs


def iteration(cfg: FDDTrainConfig, session: Session, indices: list[list[int]], step: int) -> dict:
    """One FDD iteration: the discriminators' updates on replayed pairs (while they train), then
    the student's update over its micro-batches (`indices`: bank items per micro-batch)."""
    model, student, features, disc, guidance = (session.model, session.student, session.features, session.disc,
                                                session.guidance)
    opt_g, accelerator = session.opt_g, session.accelerator
    adversarial = cfg.adversarial_at(step)
    learns = cfg.student_learns_at(step)
    accum = len(indices)
    logs: dict = {}

    def add(key, value):
        logs[key] = logs.get(key, 0.0) + float(value) / accum

    if cfg.disc_trains_at(step):
        logs.update(discriminator_updates(cfg, session, step))
    params = student.trainable()
    measure = learns and cfg.grad_log_every > 0 and step % cfg.grad_log_every == 0
    term_grads: dict[str, list[torch.Tensor]] = {}
    for i, ids in enumerate(indices):
        gen = _generator(cfg, step, i, accelerator.process_index)
        items = fdd.stack_items([session.bank.get("train", j).as_dict() for j in ids])
        batch = fdd.prepare_batch(model, items, cfg, guidance, gen)
        with accelerator.autocast(), torch.set_grad_enabled(learns):
            x0, taus = fdd.rollout(model, student, batch, cfg, guidance, gen)
            terms = {}
            if cfg.sds:
                (sds_e, gap_e), (sds_v, gap_v) = fdd.sds_losses(model, batch, x0, cfg, guidance, gen)
                terms["sds"] = cfg.lambda_sds * (cfg.alpha * sds_e + cfg.beta * sds_v)
                for key, value in (("sds_e", sds_e), ("sds_v", sds_v), ("gap_e", gap_e), ("gap_v", gap_v)):
                    add(key, value.item())
            if adversarial:
                g_e, g_v = fdd.adversarial_generator_losses(features, disc, batch, x0, cfg, gen)
                terms["adv"] = cfg.alpha * g_e + cfg.beta * g_v
                add("g_e", g_e.item()), add("g_v", g_v.item())
        session.replay.push(ids, x0.detach(), step)
        if not learns:
            continue
        loss = sum(terms.values())
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the student's loss became {loss.item()} at iteration {step}")
        if measure:  # each term's share of the student's gradient: one backward per term
            parts = fdd.backward_by_term({k: v / accum for k, v in terms.items()}, params, accelerator.backward)
            for name, grads in parts.items():
                acc = term_grads.setdefault(name, [torch.zeros_like(p) for p in params])
                for a, g in zip(acc, grads):
                    a += g
        else:
            accelerator.backward(loss / accum)
        add("loss_g", loss.item())
    logs["taus"] = taus
    for name, grads in term_grads.items():
        logs[f"gnorm_{name}"] = fdd.grad_norm(grads)
    if "gnorm_sds" in logs and "gnorm_adv" in logs:
        logs["adv_share"] = logs["gnorm_adv"] / max(logs["gnorm_sds"], 1e-12)
    if learns:
        _average_gradients(accelerator, params)
        if cfg.max_grad_norm > 0:
            logs["grad_norm"] = float(accelerator.clip_grad_norm_(params, cfg.max_grad_norm))
        opt_g.step()
        opt_g.zero_grad(set_to_none=True)
    logs["phase"] = "adversarial" if adversarial else ("warmup" if cfg.disc_trains_at(step) else "sds")
    return {k: (round(v, 6) if isinstance(v, float) and math.isfinite(v) else v) for k, v in logs.items()}


def main() -> None:
    import tyro

    print(json.dumps(train(tyro.cli(FDDTrainConfig)), default=str))


if __name__ == "__main__":
    main()
