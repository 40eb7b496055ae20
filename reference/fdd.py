"""Factorized Diffusion Distillation (FDD): the student's K-bin rollout, score distillation from
each frozen teacher, and the adversarial half's data: real/fake pairs for the discriminators, a
replay buffer of the student's samples and a held-out probe. `reference.discriminators` holds the
networks and losses; `reference.teacher_bank` the teachers' samples; `reference.train_fdd` is the
training entry point; docs/fdd.md states every loss as computed here and each choice the paper
left open.

One iteration, for a batch of unsupervised items y = (source clip, instruction, output caption):
1. the discriminators take `d_steps` updates on pairs of the same items: the teachers' samples
   from the bank (real) against the student's recent samples from the replay buffer (fake), each
   pair seen through one draw of re-noising (from `sds_only_steps - d_warmup` on);
2. the student generates x'_0 from noise with k DDIM steps at K-bin timesteps, gradients kept
   through every step; frame 0 pinned to the edit teacher's edit of the source's first frame when
   the video adapter is first-frame conditioned;
3. SDS: x'_0 (stop-gradient) is noised to t; each frozen teacher predicts the clean sample, the
   edit teacher per frame, the video teacher per clip; the student is pulled toward it;
4. adversarial (from `sds_only_steps` on): D_e judges (input frame, instruction, output frame),
   D_v (clip, caption) of the student's x'_0;
L_G = α (L_G-e + λ L_SDS-e) + β (L_G-v + λ L_SDS-v) and L_D = α L_D-e + β L_D-v.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from reference import predict
from reference.discriminators import Discriminators, ViewNoise, draw_view_noise, generator_loss, hinge_d_loss, paired_measures
from reference.video_adapter import batch_to_frames, frames_to_batch


@dataclass
class FDDSettings:
    """The algorithm's settings (the paper's values where it gives them)."""

    k: int = 3
    """student DDIM steps in a training rollout (the paper's k; gradients kept through all of them)"""
    kbin: bool = True
    """one random timestep per bin of T / k steps; off: fixed evenly spaced steps (ablation "w/o K-bin")"""
    first_step: Literal["bin", "top"] = "bin"
    """where the rollout's first step sits: "bin" draws it in the top bin like the others (the
    paper's K-bin; the pure-noise start then stands for a slightly noisier timestep); "top" always
    takes T - 1, the only timestep where pure noise is exact under zero-terminal SNR, and where
    inference starts"""
    sds: bool = True
    """score distillation from both teachers (off: ablation "w/o SDS")"""
    adversarial: bool = True
    """the two discriminators (off: ablation "w/o discriminators")"""
    sds_only_steps: int = 1000
    """iterations before the student sees the adversarial losses (the paper: 1,000 of 1,500);
    without SDS the adversarial losses start after the discriminators' warm-up"""
    lambda_sds: float = 15.0
    """the SDS terms' weight against the generator terms. The paper's 2.5 is ADD's, under ADD's
    weighting; under the DMD normalisation (`sds_weighting`), with heads trained as in the warm-up,
    the adversarial gradient on the student at λ = 1 is about 7x the SDS gradient (synth,
    docs/fdd_disc_study.md), so 15 makes it about half of SDS's at the start of the adversarial
    phase (the log's `adv_share` shows it throughout)"""
    alpha: float = 0.5
    """weight of the edit teacher's losses"""
    beta: float = 0.5
    """weight of the video teacher's losses"""
    g_loss: Literal["hinge", "paper"] = "hinge"
    """generator loss: -E[D(x'_0)] (ADD's), or the paper's printed -E[max(0, 1 + D(x'_0))]"""
    sds_weighting: Literal["dmd", "eps"] = "dmd"
    """c(t): "dmd" normalises the x0 difference by its mean size per sample (DMD2); "eps" is the
    plain ε-form (ε̂ - ε), i.e. the x0 difference times sqrt(ᾱ/(1-ᾱ))"""
    sds_t_min: int = 20
    sds_t_max: int = 980
    shared_noise: bool = True
    """both teachers see the same (t, ε)"""
    student_guidance_scale: float | None = None
    """text guidance inside the student's rollout (None: the checkpoint's plug-and-play setting, so an
    untrained student is exactly plug-and-play); 1 with image guidance 1: one branch, 3x cheaper"""
    student_image_guidance_scale: float | None = None
    edit_guidance_scale: float | None = None
    """the edit teacher's text guidance for SDS and its samples (None: the checkpoint's setting)"""
    edit_image_guidance_scale: float | None = None
    video_guidance_scale: float | None = None
    """the video teacher's text guidance (None: the checkpoint's setting)"""
    first_frame_steps: int = 20
    """DDIM steps of the edit teacher's first-frame edit the rollout is pinned to"""
    teacher_sample_steps: int = 10
    """DDIM steps of the teachers' samples the discriminators see as real (made once, in the bank)"""
    disc_frames: int = 2
    """frames per clip D_e judges in a pair (chosen at random; frame 0 is never one when pinned)"""
    disc_backbone: Literal["unet_encoder", "dinov2"] = "unet_encoder"
    """frozen feature network of both discriminators: the backbone UNet's encoder on re-noised latents
    (no DINO weights exist for the synth world), or DINOv2 on decoded frames (`dinov2_path`)"""
    dinov2_path: str | None = None
    """a local transformers Dinov2Model folder (e.g. facebook/dinov2-small)"""
    disc_taps: str = ""
    """the feature network's taps, comma-separated ("": its default). UNet encoder: conv_in,
    down<i> (block i before its downsampler), down<i>_ds (after it), mid; DINOv2: layer numbers"""
    disc_t_min: int = 0
    disc_t_max: int = 250
    """the UNet encoder sees latents re-noised to t_D ~ U[disc_t_min, disc_t_max] (t_D <= 250, <= 100
    and 0 tell the synth student from its teachers equally well held out; <= 750 does not:
    docs/fdd_disc_study.md)"""
    disc_shared_noise: bool = True
    """both sides of a real/fake pair get the same (t_D, ε); off: each its own draw"""
    d_steps: int = 3
    """discriminator updates per student update (fresh heads needed 150-250 updates of 8 pairs to
    pass a held-out paired AUC of 0.75 on synth, so the 100-iteration warm-up gets 300)"""
    d_batch: int = 8
    """pairs per discriminator update, drawn from the replay buffer with their bank samples"""
    d_warmup: int = 100
    """iterations the discriminators train before the student sees them"""
    replay_size: int = 32
    """the student's most recent samples kept for the discriminators"""
    r1_weight: float = 0.0
    """approximate R1 (FastGen): weight of mean (D(real) - D(real + r1_sigma ε))², 0 off"""
    r1_sigma: float = 0.1
    probe_every: int = 50
    """iterations between measurements of D on the held-out probe pairs (0: never)"""
    grad_log_every: int = 10
    """iterations between measurements of each loss term's gradient on the student (0: never)"""

    def __post_init__(self):
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        if not (self.sds or self.adversarial):
            raise ValueError("FDD needs SDS, the discriminators, or both")
        if self.disc_backbone == "dinov2" and not self.dinov2_path:
            raise ValueError("disc_backbone dinov2 needs dinov2_path: a local transformers Dinov2Model folder")
        if not 0 <= self.disc_t_min <= self.disc_t_max:
            raise ValueError(f"need 0 <= disc_t_min <= disc_t_max, got {self.disc_t_min}, {self.disc_t_max}")
        if self.d_batch < 1 or self.d_steps < 0 or self.d_warmup < 0 or self.replay_size < 1:
            raise ValueError("d_batch and replay_size must be >= 1, d_steps and d_warmup >= 0")

    @property
    def adversarial_start(self) -> int:
        """The first iteration whose student loss has the adversarial terms."""
        return self.sds_only_steps if self.sds else self.d_warmup

    def adversarial_at(self, step: int) -> bool:
        """Whether iteration `step` (0-based) gives the student the adversarial losses."""
        return self.adversarial and step >= self.adversarial_start

    def disc_trains_at(self, step: int) -> bool:
        """Whether the discriminators update at iteration `step`: from `d_warmup` iterations before
        the student first sees them."""
        return self.adversarial and self.d_steps > 0 and step >= max(0, self.adversarial_start - self.d_warmup)

    def student_learns_at(self, step: int) -> bool:
        """Without SDS the student has no loss until the warm-up is over."""
        return self.sds or self.adversarial_at(step)


# ---------------------------------------------------------------------- K-bin timesteps
def rollout_timesteps(k: int, num_train_timesteps: int, kbin: bool, generator: torch.Generator | None = None,
                      first_step: str = "bin") -> list[int]:
    """k decreasing timesteps: one uniform draw from each of k equal bins of [0, T) (K-bin), or the
    bins' upper ends, fixed (999, 666, 332 for k = 3, T = 1000). `first_step` "top" pins the
    first one to T - 1."""
    edges = [round(num_train_timesteps * i / k) for i in range(k + 1)]  # 0 ... T
    bins = [(edges[i], edges[i + 1] - 1) for i in reversed(range(k))]  # highest bin first
    if first_step == "top":
        bins[0] = (bins[0][1], bins[0][1])
    elif first_step != "bin":
        raise ValueError(f"unknown first_step {first_step!r} (bin, top)")
    if not kbin:
        return [hi for _, hi in bins]
    return [int(torch.randint(lo, hi + 1, (1,), generator=generator)) for lo, hi in bins]


# ---------------------------------------------------------------------- losses
def sds_loss(x0_student: torch.Tensor, x0_teacher: torch.Tensor, weighting: str = "dmd", scheduler=None,
             t: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Score distillation in x0 form: the gradient on x0_student is g / N with
    g = c · (x0_student - x0_teacher), the teacher under stop-gradient.

    "dmd": c = 1 / mean|x0_student - x0_teacher| per sample (DMD2's normalisation: the step size
    does not depend on t or on the prediction type); "eps": c = ᾱ_t / (1 - ᾱ_t), which makes g the
    paper's (ε̂ - ε) pulled back to x0 by ∂ε/∂x0 = -sqrt(ᾱ/(1-ᾱ)) once more.

    Returns (loss, gap): with "dmd" the loss value is about constant by construction, so progress is
    read from the gap, mean |x0_student - x0_teacher|."""
    diff = (x0_student - x0_teacher).detach().float()
    dims = tuple(range(1, diff.ndim))
    if weighting == "dmd":
        c = 1.0 / diff.abs().mean(dim=dims, keepdim=True).clamp_min(1e-8)
    elif weighting == "eps":
        a = scheduler.alphas_cumprod.to(diff.device)[t.long()].float()
        c = (a / (1 - a).clamp_min(1e-8)).reshape(-1, *([1] * (diff.ndim - 1)))
    else:
        raise ValueError(f"unknown SDS weighting {weighting!r} (dmd, eps)")
    g = torch.nan_to_num(c * diff)
    target = (x0_student.float() - g).detach()
    return 0.5 * F.mse_loss(x0_student.float(), target), diff.abs().mean()


# ---------------------------------------------------------------------- one batch, prepared
@dataclass
class DiscContext:
    """What the discriminators are conditioned on, for B clips of F frames."""

    pixels: torch.Tensor  # [-1, 1] source frames (B*F, 3, R, R), clip-major
    source: torch.Tensor  # their latents (B*F, C, h, w) (posterior mode)
    caption_tokens: torch.Tensor  # (B, L, D) output-caption hidden states
    instruction_tokens: torch.Tensor  # (B, L, D) the edit adapter's instruction text
    pooled_caption: torch.Tensor  # (B, D)
    pooled_instruction: torch.Tensor  # (B, D)
    empty: torch.Tensor  # (1, L, D)
    num_frames: int

    @property
    def num_clips(self) -> int:
        return self.caption_tokens.shape[0]


@dataclass
class Batch:
    """An unsupervised batch made ready for FDD: B clips of F frames."""

    cond: predict.EditConditioning
    ctx: DiscContext
    first: torch.Tensor | None  # (B, C, h, w) the edit teacher's first-frame edit, or None
    num_frames: int

    @property
    def num_clips(self) -> int:
        return self.cond.num_clips


@dataclass
class Guidance:
    """The guidance scales in use: the student's rollout, the edit teacher, the video teacher."""

    student: tuple[float, float]
    edit: tuple[float, float]
    video: float


def resolve_guidance(settings: FDDSettings, sampling: dict) -> Guidance:
    """Unset scales come from the checkpoint's tuned sampling settings for the matching baseline
    (reference.checkpoint), so the teachers and the untrained student are the models evaluated."""
    from reference.checkpoint import SAMPLING_DEFAULTS, tuned_sampling

    def pick(value, baseline, key):
        return float(value) if value is not None else float({**SAMPLING_DEFAULTS, **tuned_sampling(sampling, baseline)}[key])

    return Guidance(
        student=(pick(settings.student_guidance_scale, "plug_and_play", "guidance_scale"),
                 pick(settings.student_image_guidance_scale, "plug_and_play", "image_guidance_scale")),
        edit=(pick(settings.edit_guidance_scale, "per_frame_edit", "guidance_scale"),
              pick(settings.edit_image_guidance_scale, "per_frame_edit", "image_guidance_scale")),
        video=pick(settings.video_guidance_scale, "video_sdedit", "guidance_scale"),
    )


def pooled_text(backbone, prompts: list[str]) -> torch.Tensor:
    out = backbone.text_encoder(backbone.tokenize(list(prompts)).to(backbone.text_encoder.device))
    return out.pooler_output.to(backbone.dtype)


def source_frames(model, videos) -> torch.Tensor:
    """uint8 clips (B, T, H, W, 3), cut to the checkpoint's window -> [-1, 1] frames (B*F, 3, R, R)."""
    from reference.sampling import frames_to_tensor

    bb = model.backbone
    videos = videos[:, : model.config.num_frames]
    b, f = videos.shape[:2]
    return frames_to_tensor(videos.reshape(b * f, *videos.shape[2:]), model.config.resolution, bb.device, bb.dtype)


@torch.no_grad()
def disc_context(model, frames: torch.Tensor, instructions: list[str], captions: list[str], tasks: list,
                 source: torch.Tensor | None = None) -> DiscContext:
    """The discriminators' conditions for B clips: source frames (B*F, 3, R, R) and their latents
    (encoded here unless given), texts encoded once."""
    bb = model.backbone
    b = len(captions)
    instr = cond_instructions(model, instructions, tasks)
    tokens = predict.encode_prompts(bb, list(captions) + instr + [""])
    pooled = pooled_text(bb, list(captions) + instr)
    return DiscContext(
        pixels=frames,
        source=bb.encode_images(frames) if source is None else source.to(bb.device, bb.dtype),
        caption_tokens=tokens[:b],
        instruction_tokens=tokens[b : 2 * b],
        pooled_caption=pooled[:b],
        pooled_instruction=pooled[b:],
        empty=tokens[2 * b :],
        num_frames=frames.shape[0] // b,
    )


@torch.no_grad()
def prepare_batch(model, items: dict, settings: FDDSettings, guidance: Guidance, generator: torch.Generator) -> Batch:
    """Frames, conditioning, text and the pinned first frame for a batch of items (video uint8
    (B, T, H, W, 3), instruction, target_caption, task; optionally `first`, the first-frame edits
    (B, C, h, w) from the teacher bank, and `source`, the source latents (B, F, C, h, w));
    `T` is cut to the checkpoint's window."""
    frames = source_frames(model, items["video"])
    instructions, captions, tasks = list(items["instruction"]), list(items["target_caption"]), list(items["task"])
    b = len(captions)
    f = frames.shape[0] // b
    cond = predict.edit_conditioning(model, frames, instructions, captions, tasks)
    first = None
    if model.config.first_frame_conditioning:
        first = items.get("first")
        if first is None:
            first_cond = predict.edit_conditioning(model, frames[::f], instructions, captions, tasks)
            first = teacher_edit_samples(model, first_cond, guidance.edit, settings.first_frame_steps, generator)
        first = first.to(model.backbone.device, model.backbone.dtype)
    source = items.get("source")
    ctx = disc_context(model, frames, instructions, captions, tasks,
                       None if source is None else source.reshape(b * f, *source.shape[2:]))
    return Batch(cond=cond, ctx=ctx, first=first, num_frames=f)


def cond_instructions(model, instructions, tasks) -> list[str]:
    from reference.edit_adapter import instruction_text

    return [instruction_text(i, t, model.config.task_label) for i, t in zip(instructions, tasks)]


def _latent_shape(model, n: int, f: int | None = None):
    bb = model.backbone
    c, s = bb.unet.config.in_channels, bb.latent_size
    return (n, c, s, s) if f is None else (n, c, f, s, s)


def _randn(shape, generator, like_device, dtype):
    return torch.randn(shape, generator=generator, dtype=torch.float32).to(like_device, dtype)


def _inference_timesteps(model, steps: int):
    from reference.sampling import sampling_timesteps

    return sampling_timesteps(model.backbone.ddim(), steps)


# ---------------------------------------------------------------------- the teachers' samples
def teacher_edit_samples(model, cond: predict.EditConditioning, scales: tuple[float, float], steps: int,
                         generator) -> torch.Tensor:
    """The edit teacher's DDIM edits of the frames `cond` was built on: latents (B*F, C, h, w)."""
    bb = model.backbone
    n = cond.num_clips * cond.num_frames
    x = _randn(_latent_shape(model, n), generator, bb.device, bb.dtype)
    return predict.ddim(model.backbone.ddim(), x,
                        lambda x, t: predict.edit_prediction(bb.unet, model.edit_adapter, x, t, cond, *scales),
                        _inference_timesteps(model, steps))


def teacher_video_samples(model, batch: Batch, scale: float, steps: int, generator) -> torch.Tensor:
    """The video teacher's DDIM clips for the batch's captions, pinned to the same first frame as
    the student (text-to-video when there is none): latents (B, C, F, h, w)."""
    bb = model.backbone
    x = _randn(_latent_shape(model, batch.num_clips, batch.num_frames), generator, bb.device, bb.dtype)
    return predict.ddim(bb.ddim(), x,
                        lambda x, t: predict.video_prediction(model.video_unet, x, t, batch.cond.caption,
                                                              batch.cond.empty, scale),
                        _inference_timesteps(model, steps), predict.pin_first_frame(batch.first))


# ---------------------------------------------------------------------- the student's side
def rollout(model, student, batch: Batch, settings: FDDSettings, guidance: Guidance, generator) -> tuple[torch.Tensor, list[int]]:
    """The student's k-step DDIM generation x'_0 (B, C, F, h, w) from pure noise, with gradients
    through every step (when enabled); returns it and the timesteps used."""
    bb = model.backbone
    sched = bb.ddim()
    taus = rollout_timesteps(settings.k, sched.config.num_train_timesteps, settings.kbin, generator, settings.first_step)
    noise = _randn(_latent_shape(model, batch.num_clips, batch.num_frames), generator, bb.device, bb.dtype)

    def student_fn(x, t):
        return predict.stack_prediction(student.video_unet, student.controlnet, x, t, batch.cond, *guidance.student,
                                        align=True)

    return predict.ddim(sched, noise, student_fn, taus, predict.pin_first_frame(batch.first)), taus


def sds_losses(model, batch: Batch, x0: torch.Tensor, settings: FDDSettings, guidance: Guidance, generator):
    """((L_SDS-e, gap), (L_SDS-v, gap)) on the student's x'_0 (`sds_loss`); frame 0 is left out
    when it is pinned."""
    bb = model.backbone
    sched = bb.scheduler
    b, f = batch.num_clips, batch.num_frames
    f0 = 1 if batch.first is not None else 0

    def noised():
        t = torch.randint(settings.sds_t_min, settings.sds_t_max + 1, (b,), generator=generator).to(bb.device)
        eps = _randn(x0.shape, generator, bb.device, x0.dtype)
        return t, predict.add_noise(sched, x0.detach(), eps, t)

    t_e, xt_e = noised()
    t_v, xt_v = (t_e, xt_e) if settings.shared_noise else noised()
    with torch.no_grad():
        flat, tf = frames_to_batch(xt_e), t_e.repeat_interleave(f)
        out_e = predict.edit_prediction(bb.unet, model.edit_adapter, flat, tf, batch.cond, *guidance.edit)
        x0_e = batch_to_frames(predict.to_x0(sched, flat, out_e, tf), f)
        pin = predict.pin_first_frame(batch.first)
        xt_v = pin(xt_v) if pin else xt_v
        out_v = predict.video_prediction(model.video_unet, xt_v, t_v, batch.cond.caption, batch.cond.empty, guidance.video)
        x0_v = predict.to_x0(sched, xt_v, out_v, t_v)
    sl = slice(f0, None)
    return (sds_loss(x0[:, :, sl], x0_e[:, :, sl], settings.sds_weighting, sched, t_e),
            sds_loss(x0[:, :, sl], x0_v[:, :, sl], settings.sds_weighting, sched, t_v))


# ---------------------------------------------------------------------- what the discriminators see
def judged_frames(num_frames: int, pinned: bool) -> list[int]:
    """The frames either discriminator may judge: all but a pinned frame 0, identical in real and fake."""
    return list(range(1 if pinned and num_frames > 1 else 0, num_frames))


def disc_frames(num_frames: int, pinned: bool, count: int, generator) -> list[int]:
    """`count` frames D_e judges, chosen at random among the judged frames."""
    choices = judged_frames(num_frames, pinned)
    order = torch.randperm(len(choices), generator=generator).tolist()
    return sorted(choices[i] for i in order[:count])


def edit_logits(features, disc: Discriminators, ctx: DiscContext, latents: torch.Tensor, frames: list[int],
                noise: ViewNoise | None, copies: int = 1) -> torch.Tensor:
    """D_e on output-frame latents (copies*B*n, C, h, w): `copies` stacked sets (real, fake, ...) of
    frames `frames` of each clip, seen through `noise` (one row per latent)."""
    b, f, n = ctx.num_clips, ctx.num_frames, len(frames)
    idx = torch.tensor([c * f + i for c in range(b) for i in frames])
    with torch.no_grad():
        source = features.source(ctx.pixels[idx], ctx.source[idx], ctx.empty.expand(b * n, -1, -1))
    rep = lambda x: x.repeat_interleave(n, dim=0).repeat(copies, *([1] * (x.ndim - 1)))  # noqa: E731
    pooled = torch.cat([ctx.pooled_instruction, ctx.pooled_caption], dim=1)
    return disc.edit(features(latents, rep(ctx.caption_tokens), noise),
                     [s.repeat(copies, 1, 1, 1) for s in source], rep(ctx.instruction_tokens), rep(pooled))


def video_logits(features, disc: Discriminators, ctx: DiscContext, clips: torch.Tensor, noise: ViewNoise | None,
                 copies: int = 1) -> torch.Tensor:
    """D_v on clips (copies*B, C, F', h, w) (the judged frames only), seen through `noise` (one row
    per frame latent)."""
    f = clips.shape[2]
    text = ctx.caption_tokens.repeat(copies, 1, 1).repeat_interleave(f, dim=0)
    return disc.video(features(frames_to_batch(clips), text, noise), f, ctx.pooled_caption.repeat(copies, 1))


def pick_frames(clips: torch.Tensor, frames: list[int]) -> torch.Tensor:
    """Frames `frames` of each clip, as a batch of frames (B*n, C, h, w)."""
    return frames_to_batch(clips[:, :, frames])


@dataclass
class Pairs:
    """Matched real/fake samples of the same B items, the real ones from the teacher bank."""

    ctx: DiscContext
    real_edits: torch.Tensor  # (B, C, F, h, w): the edit teacher's edit of every source frame
    real_clips: torch.Tensor  # (B, C, F, h, w): the video teacher's clip, frame 0 pinned like the student's
    fake: torch.Tensor  # (B, C, F, h, w): the student's x'_0
    pinned: bool


def _view(settings: FDDSettings, latents: torch.Tensor, generator) -> ViewNoise:
    return draw_view_noise(latents.shape, settings.disc_t_min, settings.disc_t_max, generator, latents.device, latents.dtype)


def pair_logits(features, disc: Discriminators, pairs: Pairs, settings: FDDSettings, frames: list[int], generator,
                perturb: float = 0.0) -> dict[str, torch.Tensor]:
    """Logits of D_e (on `frames` of each clip) and D_v (on the judged frames) for the real and the
    fake side of each pair, both sides seen through the same re-noising; with `perturb` > 0 also
    for the real side shifted by perturb · ε (the approximate R1's second look)."""
    vf = judged_frames(pairs.fake.shape[2], pairs.pinned)
    sides = [pairs.real_edits, pairs.fake], [pairs.real_clips, pairs.fake]
    edit_in = [pick_frames(x, frames) for x in sides[0]]
    clip_in = [x[:, :, vf] for x in sides[1]]
    if perturb > 0:
        edit_in.append(edit_in[0] + perturb * _randn(edit_in[0].shape, generator, edit_in[0].device, edit_in[0].dtype))
        clip_in.append(clip_in[0] + perturb * _randn(clip_in[0].shape, generator, clip_in[0].device, clip_in[0].dtype))
    k = len(edit_in)
    if settings.disc_shared_noise:
        noise_e = _view(settings, edit_in[0], generator).repeat(k)
        noise_v = _view(settings, frames_to_batch(clip_in[0]), generator).repeat(k)
    else:
        noise_e = _view(settings, torch.cat(edit_in), generator)
        noise_v = _view(settings, frames_to_batch(torch.cat(clip_in)), generator)
    le = edit_logits(features, disc, pairs.ctx, torch.cat(edit_in), frames, noise_e, copies=k).chunk(k)
    lv = video_logits(features, disc, pairs.ctx, torch.cat(clip_in), noise_v, copies=k).chunk(k)
    out = {"real_e": le[0], "fake_e": le[1], "real_v": lv[0], "fake_v": lv[1]}
    if perturb > 0:
        out.update(perturbed_e=le[2], perturbed_v=lv[2])
    return out


def discriminator_losses(features, disc: Discriminators, pairs: Pairs, settings: FDDSettings, generator) -> dict:
    """Hinge losses of D_e and D_v on matched pairs (the fake side detached), the approximate R1
    when on, and the paired measures of this batch (`paired_measures`)."""
    pairs = Pairs(pairs.ctx, pairs.real_edits, pairs.real_clips, pairs.fake.detach(), pairs.pinned)
    frames = disc_frames(pairs.fake.shape[2], pairs.pinned, settings.disc_frames, generator)
    r1 = settings.r1_weight > 0
    lg = pair_logits(features, disc, pairs, settings, frames, generator, settings.r1_sigma if r1 else 0.0)
    out = {"d_e": hinge_d_loss(lg["real_e"], lg["fake_e"]), "d_v": hinge_d_loss(lg["real_v"], lg["fake_v"])}
    if r1:
        out["r1_e"] = (lg["real_e"] - lg["perturbed_e"]).square().mean()
        out["r1_v"] = (lg["real_v"] - lg["perturbed_v"]).square().mean()
    for side in ("e", "v"):
        for key, value in paired_measures(lg[f"real_{side}"], lg[f"fake_{side}"]).items():
            out[f"{key}_{side}"] = value
    return out


def adversarial_generator_losses(features, disc: Discriminators, batch: Batch, x0: torch.Tensor, settings: FDDSettings,
                                 generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_G-e, L_G-v): the discriminators' verdict on the student's x'_0, seen as they see it in
    training (gradients reach x'_0)."""
    pinned = batch.first is not None
    frames = disc_frames(batch.num_frames, pinned, settings.disc_frames, generator)
    edits = pick_frames(x0, frames)
    clips = x0[:, :, judged_frames(batch.num_frames, pinned)]
    return (generator_loss(edit_logits(features, disc, batch.ctx, edits, frames, _view(settings, edits, generator)),
                           settings.g_loss),
            generator_loss(video_logits(features, disc, batch.ctx, clips,
                                        _view(settings, frames_to_batch(clips), generator)), settings.g_loss))


# ---------------------------------------------------------------------- gradient shares
def backward_by_term(terms: dict[str, torch.Tensor], params: list[torch.Tensor], backward=None) -> dict[str, list[torch.Tensor]]:
    """Backpropagate each loss term on its own (`backward(tensor, retain_graph=...)`, default
    torch's), leaving their sum in the parameters' .grad as one backward would, and return each
    term's own gradient on `params`: what measures a term's share of the student's update."""
    backward = backward or (lambda t, retain_graph: t.backward(retain_graph=retain_graph))
    out = {}
    for n, (name, term) in enumerate(terms.items()):
        before = [torch.zeros_like(p) if p.grad is None else p.grad.detach().clone() for p in params]
        backward(term, retain_graph=n + 1 < len(terms))
        out[name] = [(torch.zeros_like(p) if p.grad is None else p.grad.detach()) - b for p, b in zip(params, before)]
    return out


def grad_norm(tensors) -> float:
    return math.sqrt(sum(float(t.float().square().sum()) for t in tensors))


# ---------------------------------------------------------------------- replay buffer
class ReplayBuffer(nn.Module):
    """The student's most recent samples x'_0, each with its item's index in the teacher bank, so
    the discriminators train on batches much larger than the student's. Its tensors are buffers,
    saved in the training checkpoint with the heads, so a resumed run replays the same samples."""

    def __init__(self, capacity: int, sample_shape: tuple[int, ...]):
        super().__init__()
        self.register_buffer("samples", torch.zeros(capacity, *sample_shape))
        self.register_buffer("items", torch.full((capacity,), -1, dtype=torch.long))
        self.register_buffer("made", torch.full((capacity,), -1, dtype=torch.long))
        self.register_buffer("pushed", torch.zeros((), dtype=torch.long))

    @property
    def capacity(self) -> int:
        return self.items.shape[0]

    def __len__(self) -> int:
        return min(int(self.pushed), self.capacity)

    @torch.no_grad()
    def push(self, items: list[int], samples: torch.Tensor, step: int) -> None:
        for item, sample in zip(items, samples):
            slot = int(self.pushed) % self.capacity
            self.samples[slot] = sample.to(self.samples.device, self.samples.dtype)
            self.items[slot] = int(item)
            self.made[slot] = step
            self.pushed += 1

    def draw(self, n: int, generator: torch.Generator) -> tuple[list[int], torch.Tensor]:
        """Up to n distinct entries at random: (their bank item indices, their samples)."""
        order = torch.randperm(len(self), generator=generator)[:n].tolist()
        return [int(self.items[i]) for i in order], self.samples[order]


# ---------------------------------------------------------------------- measurement
def pairs_from_items(model, items: list[dict], fake: torch.Tensor) -> Pairs:
    """Pairs of bank items (`BankItem.as_dict`) with the student's samples of them (B, C, F, h, w)."""
    batch = stack_items(items)
    ctx = disc_context(model, source_frames(model, batch["video"]), batch["instruction"], batch["target_caption"],
                       batch["task"], batch["source"].reshape(-1, *batch["source"].shape[2:]))
    return Pairs(ctx, batch["edit"].to(fake), batch["clip"].to(fake), fake, "first" in batch)


@torch.no_grad()
def student_samples(model, student, items: list[dict], settings: FDDSettings, guidance: Guidance, seed: int = 0,
                    chunk: int = 8) -> torch.Tensor:
    """The student's x'_0 (N, C, F, h, w) of bank items, its noise and timesteps fixed by (seed,
    item position), so two calls differ only by the student."""
    out = []
    for start in range(0, len(items), chunk):
        gen = torch.Generator().manual_seed(seed * 1_000_003 + start)
        batch = prepare_batch(model, stack_items(items[start : start + chunk]), settings, guidance, gen)
        out.append(rollout(model, student, batch, settings, guidance, gen)[0].float())
    return torch.cat(out)


@torch.no_grad()
def measure(model, features, disc: Discriminators, items: list[dict], fakes: torch.Tensor, settings: FDDSettings,
            seed: int = 0, chunk: int = 8) -> dict[str, float]:
    """`paired_measures` of D_e (every judged frame) and D_v (the judged clip) on bank items against
    the student's samples of them, each pair through one re-noising fixed by (seed, position), as
    auc_e, margin_e, ..., auc_v, ...."""
    logits = {"real_e": [], "fake_e": [], "real_v": [], "fake_v": []}
    for start in range(0, len(items), chunk):
        gen = torch.Generator().manual_seed(seed * 1_000_003 + start + 1)
        pairs = pairs_from_items(model, items[start : start + chunk], fakes[start : start + chunk])
        lg = pair_logits(features, disc, pairs, settings, judged_frames(pairs.fake.shape[2], pairs.pinned), gen)
        for key in logits:
            logits[key].append(lg[key])
    out = {}
    for side in ("e", "v"):
        real, fake = torch.cat(logits[f"real_{side}"]), torch.cat(logits[f"fake_{side}"])
        out.update({f"{k}_{side}": v for k, v in paired_measures(real, fake).items()})
    return out


def probe(model, student, features, disc: Discriminators, items: list[dict], settings: FDDSettings,
          guidance: Guidance, seed: int = 0) -> dict[str, float]:
    """D on held-out pairs: every probe item (never trained on) against the current student's x'_0
    of it (`student_samples`, `measure`)."""
    fakes = student_samples(model, student, items, settings, guidance, seed)
    return measure(model, features, disc, items, fakes, settings, seed)


def stack_items(items: list[dict]) -> dict:
    """Bank items (`reference.teacher_bank.BankItem.as_dict`) as one batch: arrays and tensors stacked,
    strings listed."""
    import numpy as np

    out = {}
    for key in items[0]:
        vals = [item[key] for item in items]
        if torch.is_tensor(vals[0]):
            out[key] = torch.stack(vals)
        elif isinstance(vals[0], np.ndarray):
            out[key] = np.stack(vals)
        else:
            out[key] = list(vals)
    return out
