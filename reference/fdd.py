"""Factorized Diffusion Distillation (FDD): the student's K-bin rollout, score distillation from
each frozen teacher, the two discriminators and their hinge losses. `reference.train_fdd` is the
training entry point; docs/fdd.md states every loss as computed here and each choice the paper
left open.

One iteration, for a batch of unsupervised items y = (source clip, instruction, output caption):
1. the student generates x'_0 from pure noise with k DDIM steps at K-bin timesteps (one random
   timestep per bin of T / k steps), gradients kept through every step; frame 0 pinned to the edit
   teacher's edit of the source's first frame when the video adapter is first-frame conditioned;
2. SDS: x'_0 (stop-gradient) is noised to t; each frozen teacher predicts the clean sample, the
   edit teacher per frame, the video teacher per clip; the student is pulled toward it;
3. adversarial (after `sds_only_steps`): D_e judges (input frame, instruction, output frame), D_v
   (clip, caption); teachers' DDIM samples are "real", the student's are "fake";
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
from reference.video_adapter import batch_to_frames, frames_to_batch


@dataclass
class FDDSettings:
    """The algorithm's settings (the paper's values where it gives them)."""

    k: int = 3
    """student DDIM steps in a training rollout (the paper's k; gradients kept through all of them)"""
    kbin: bool = True
    """one random timestep per bin of T / k steps; off: fixed evenly spaced steps (ablation "w/o K-bin")"""
    sds: bool = True
    """score distillation from both teachers (off: ablation "w/o SDS")"""
    adversarial: bool = True
    """the two discriminators (off: ablation "w/o discriminators")"""
    sds_only_steps: int = 1000
    """iterations before the adversarial losses start (the paper: 1,000 of 1,500); ignored without SDS"""
    lambda_sds: float = 2.5
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
    """DDIM steps of the teachers' samples the discriminators see as real"""
    disc_frames: int = 2
    """frames per clip D_e judges (chosen at random each iteration; frame 0 is never one when pinned)"""
    disc_t_max: int = 750
    """the UNet-encoder feature network sees latents re-noised to t_D ~ U[0, disc_t_max] (LADD)"""
    disc_backbone: Literal["unet_encoder", "dinov2"] = "unet_encoder"
    """frozen feature network of both discriminators: the backbone UNet's encoder on re-noised latents
    (no DINO weights exist for the synth world), or DINOv2 on decoded frames (`dinov2_path`)"""
    dinov2_path: str | None = None
    """a local transformers Dinov2Model folder (e.g. facebook/dinov2-small)"""

    def __post_init__(self):
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        if not (self.sds or self.adversarial):
            raise ValueError("FDD needs SDS, the discriminators, or both")
        if self.disc_backbone == "dinov2" and not self.dinov2_path:
            raise ValueError("disc_backbone dinov2 needs dinov2_path: a local transformers Dinov2Model folder")

    def adversarial_at(self, step: int) -> bool:
        """Whether iteration `step` (0-based) uses the discriminators."""
        return self.adversarial and (not self.sds or step >= self.sds_only_steps)


# ---------------------------------------------------------------------- K-bin timesteps
def rollout_timesteps(k: int, num_train_timesteps: int, kbin: bool, generator: torch.Generator | None = None) -> list[int]:
    """k decreasing timesteps: one uniform draw from each of k equal bins of [0, T) (K-bin), or the
    bins' upper ends, fixed (999, 666, 333 for k = 3, T = 1000)."""
    edges = [round(num_train_timesteps * i / k) for i in range(k + 1)]  # 0 ... T
    bins = [(edges[i], edges[i + 1] - 1) for i in reversed(range(k))]  # highest bin first
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


def hinge_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, form: str = "hinge") -> torch.Tensor:
    if form == "hinge":
        return -fake_logits.mean()
    if form == "paper":  # as printed; no gradient once D(fake) < -1
        return -F.relu(1 + fake_logits).mean()
    raise ValueError(f"unknown generator loss {form!r} (hinge, paper)")


# ---------------------------------------------------------------------- feature networks
class UNetEncoderFeatures:
    """The frozen backbone UNet's encoder (down blocks + mid block) as the discriminators' feature
    network, on latents re-noised to t_D ~ U[0, t_max] (LADD), the caption in its cross-attention.
    Not an nn.Module: its weights are the backbone's, never trained nor saved with the heads."""

    def __init__(self, unet, scheduler, t_max: int = 750):
        self.unet, self.scheduler, self.t_max = unet, scheduler, t_max

    def channels(self) -> list[int]:
        cfg = self.unet.config
        return list(cfg.block_out_channels) + [cfg.block_out_channels[-1]]

    def __call__(self, latents: torch.Tensor, text: torch.Tensor, noisy: bool = True) -> list[torch.Tensor]:
        unet = self.unet
        n = latents.shape[0]
        if noisy:
            t = torch.randint(0, self.t_max + 1, (n,), device=latents.device)
            latents = predict.add_noise(self.scheduler, latents, torch.randn_like(latents), t)
        else:
            t = torch.zeros(n, dtype=torch.long, device=latents.device)
        emb = unet.time_embedding(unet.time_proj(t).to(latents.dtype))
        h = unet.conv_in(latents)
        taps = []
        for block in unet.down_blocks:
            if getattr(block, "has_cross_attention", False):
                h, _ = block(hidden_states=h, temb=emb, encoder_hidden_states=text)
            else:
                h, _ = block(hidden_states=h, temb=emb)
            taps.append(h)
        taps.append(unet.mid_block(h, emb, encoder_hidden_states=text))
        return taps

    def source(self, pixels, latents, text):
        return self(latents, text, noisy=False)


class Dinov2Features:
    """Frozen DINOv2 (transformers' Dinov2Model from a local folder) on decoded frames: [-1, 1] ->
    [0, 1] -> bilinear to its image size -> ImageNet normalisation; patch tokens of four evenly
    spaced layers as maps (N, C, g, g). Latents are decoded through the frozen VAE with gradients."""

    MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

    def __init__(self, path: str, vae, scaling_factor: float, device=None, dtype=torch.float32):
        from transformers import Dinov2Model

        self.model = Dinov2Model.from_pretrained(path, dtype=dtype, use_safetensors=True).to(device).requires_grad_(False).eval()
        self.vae, self.scaling_factor = vae, scaling_factor
        n = self.model.config.num_hidden_layers
        self.layers = sorted({round(n * (i + 1) / 4) for i in range(4)})  # e.g. 3, 6, 9, 12

    def channels(self) -> list[int]:
        return [self.model.config.hidden_size] * len(self.layers)

    def _pixels(self, images):
        size = self.model.config.image_size
        x = ((images.float() + 1) / 2).clamp(0, 1)
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        mean = torch.tensor(self.MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.STD, device=x.device).view(1, 3, 1, 1)
        out = self.model(((x - mean) / std).to(self.model.dtype), output_hidden_states=True)
        skip = 1 + getattr(self.model.config, "num_register_tokens", 0)  # CLS (+ registers)
        maps = []
        for i in self.layers:
            tok = out.hidden_states[i][:, skip:]
            g = int(math.isqrt(tok.shape[1]))
            maps.append(tok.transpose(1, 2).reshape(tok.shape[0], tok.shape[2], g, g))
        return maps

    def __call__(self, latents, text, noisy: bool = True):
        images = self.vae.decode(latents.to(self.vae.dtype) / self.scaling_factor).sample
        return self._pixels(images)

    def source(self, pixels, latents, text):
        return self._pixels(pixels)


# ---------------------------------------------------------------------- discriminator heads
def _heads(c: int) -> int:
    return max(1, min(8, c // 16))


class ProjectionHead(nn.Module):
    """Per-position logits from one feature map (ADD / StyleGAN-T style): a small conv body, an
    unconditional logit and a projection logit <h, W c> / sqrt(dim) with the condition vector c;
    averaged over positions."""

    def __init__(self, channels: int, cond_dim: int, dim: int = 64):
        super().__init__()
        groups = math.gcd(channels, 8)
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 1), nn.GroupNorm(groups, channels), nn.LeakyReLU(0.2),
            nn.Conv2d(channels, channels, 3, padding=1), nn.GroupNorm(groups, channels), nn.LeakyReLU(0.2),
            nn.Conv2d(channels, dim, 1),
        )
        self.out = nn.Conv2d(dim, 1, 1)
        self.cond = nn.Linear(cond_dim, dim)
        self.dim = dim

    def forward(self, feats: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.body(feats.float())
        proj = (h * self.cond(cond.float())[:, :, None, None]).sum(1, keepdim=True) / math.sqrt(self.dim)
        return (self.out(h) + proj).flatten(1).mean(1)


class EditDiscriminator(nn.Module):
    """D_e(input frame, instruction, output frame). Per feature tap, the output frame's tokens
    attend to [the input frame's tokens at the same tap ; the instruction's text tokens, projected]
    (the paper's "additional attention layer" combining an input-image projection with the text),
    then a projection head conditioned on [pooled instruction ; pooled output caption]."""

    def __init__(self, channels: list[int], text_dim: int):
        super().__init__()
        self.text = nn.ModuleList(nn.Linear(text_dim, c) for c in channels)
        self.attn = nn.ModuleList(nn.MultiheadAttention(c, _heads(c), batch_first=True) for c in channels)
        self.norm = nn.ModuleList(nn.LayerNorm(c) for c in channels)
        self.cond = nn.Sequential(nn.Linear(2 * text_dim, text_dim), nn.SiLU())
        self.heads = nn.ModuleList(ProjectionHead(c, text_dim) for c in channels)

    def forward(self, out_feats, in_feats, instruction_tokens, pooled) -> torch.Tensor:
        cond = self.cond(pooled.float())
        logits = 0
        for i, (o, s) in enumerate(zip(out_feats, in_feats)):
            n, c, h, w = o.shape
            q = o.float().flatten(2).transpose(1, 2)  # (N, hw, c)
            kv = torch.cat([s.float().flatten(2).transpose(1, 2), self.text[i](instruction_tokens.float())], dim=1)
            a, _ = self.attn[i](self.norm[i](q), kv, kv, need_weights=False)
            fused = (q + a).transpose(1, 2).reshape(n, c, h, w)
            logits = logits + self.heads[i](fused, cond)
        return logits / len(out_feats)


class VideoDiscriminator(nn.Module):
    """D_v(clip, caption): per feature tap a linear projection, then one temporal self-attention
    layer over the frames at each spatial position (learned temporal positions), residual, then a
    projection head conditioned on the pooled caption; averaged over frames."""

    def __init__(self, channels: list[int], text_dim: int, max_frames: int = 32):
        super().__init__()
        self.proj = nn.ModuleList(nn.Conv2d(c, c, 1) for c in channels)
        self.pos = nn.ParameterList(nn.Parameter(torch.zeros(max_frames, c)) for c in channels)
        self.norm = nn.ModuleList(nn.LayerNorm(c) for c in channels)
        self.attn = nn.ModuleList(nn.MultiheadAttention(c, _heads(c), batch_first=True) for c in channels)
        self.heads = nn.ModuleList(ProjectionHead(c, text_dim) for c in channels)

    def forward(self, feats, num_frames: int, pooled) -> torch.Tensor:
        logits = 0
        for i, fm in enumerate(feats):
            bf, c, h, w = fm.shape
            b = bf // num_frames
            x = self.proj[i](fm.float()).reshape(b, num_frames, c, h * w).permute(0, 3, 1, 2).reshape(b * h * w, num_frames, c)
            x = x + self.pos[i][:num_frames]
            a, _ = self.attn[i](self.norm[i](x), self.norm[i](x), self.norm[i](x), need_weights=False)
            x = (x + a).reshape(b, h * w, num_frames, c).permute(0, 2, 3, 1).reshape(bf, c, h, w)
            per_frame = self.heads[i](x, pooled.float().repeat_interleave(num_frames, dim=0))
            logits = logits + per_frame.reshape(b, num_frames).mean(1)
        return logits / len(feats)


class Discriminators(nn.Module):
    """D_e and D_v: the trainable heads (the only state the discriminators save)."""

    def __init__(self, channels: list[int], text_dim: int, max_frames: int = 32):
        super().__init__()
        self.edit = EditDiscriminator(channels, text_dim)
        self.video = VideoDiscriminator(channels, text_dim, max_frames)


# ---------------------------------------------------------------------- one batch, prepared
@dataclass
class Batch:
    """An unsupervised batch made ready for FDD: B clips of F frames."""

    frames: torch.Tensor  # [-1, 1] source frames (B*F, 3, R, R), clip-major
    source: torch.Tensor  # their latents (B*F, C, h, w) (posterior mode)
    cond: predict.EditConditioning
    caption_tokens: torch.Tensor  # (B, L, D) output-caption hidden states (== cond.caption)
    instruction_tokens: torch.Tensor  # (B, L, D)
    pooled_caption: torch.Tensor  # (B, D)
    pooled_instruction: torch.Tensor  # (B, D)
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
    (reference.baselines), so the teachers and the untrained student are the models evaluated."""
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


@torch.no_grad()
def prepare_batch(model, items: dict, settings: FDDSettings, guidance: Guidance, generator: torch.Generator) -> Batch:
    """Frames, conditioning, text and the pinned first frame for a batch of stream items
    (video uint8 (B, T, H, W, 3), instruction, target_caption, task); `T` is cut to the
    checkpoint's window."""
    from reference.sampling import frames_to_tensor

    bb = model.backbone
    videos = items["video"][:, : model.config.num_frames]
    b, f = videos.shape[:2]
    frames = frames_to_tensor(videos.reshape(b * f, *videos.shape[2:]), model.config.resolution, bb.device, bb.dtype)
    instructions, captions, tasks = list(items["instruction"]), list(items["target_caption"]), list(items["task"])
    cond = predict.edit_conditioning(model, frames, instructions, captions, tasks)
    first = None
    if model.config.first_frame_conditioning:
        first_cond = predict.edit_conditioning(model, frames[::f], instructions, captions, tasks)
        first = teacher_edit_samples(model, first_cond, guidance.edit, settings.first_frame_steps, generator)
    pooled = pooled_text(bb, captions + cond_instructions(model, instructions, tasks))
    return Batch(
        frames=frames,
        source=bb.encode_images(frames),
        cond=cond,
        caption_tokens=cond.caption,
        instruction_tokens=cond.instruction[: b * f : f],
        pooled_caption=pooled[:b],
        pooled_instruction=pooled[b:],
        first=first,
        num_frames=f,
    )


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
                        lambda x, t: predict.video_prediction(model.video_unet, x, t, batch.caption_tokens,
                                                              batch.cond.empty, scale),
                        _inference_timesteps(model, steps), predict.pin_first_frame(batch.first))


def frame_subset(cond: predict.EditConditioning, frames: list[int]) -> predict.EditConditioning:
    """The conditioning of the same clips restricted to `frames` (indices within each clip)."""
    b, f = cond.num_clips, cond.num_frames
    idx = torch.tensor([br * b * f + c * f + i for br in range(3) for c in range(b) for i in frames])
    return predict.EditConditioning(cond.image[idx], cond.instruction[idx], cond.caption, cond.empty, len(frames))


# ---------------------------------------------------------------------- the iteration's parts
def rollout(model, student, batch: Batch, settings: FDDSettings, guidance: Guidance, generator) -> tuple[torch.Tensor, list[int]]:
    """The student's k-step DDIM generation x'_0 (B, C, F, h, w) from pure noise, with gradients
    through every step; returns it and the timesteps used."""
    bb = model.backbone
    sched = bb.ddim()
    taus = rollout_timesteps(settings.k, sched.config.num_train_timesteps, settings.kbin, generator)
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
        out_v = predict.video_prediction(model.video_unet, xt_v, t_v, batch.caption_tokens, batch.cond.empty, guidance.video)
        x0_v = predict.to_x0(sched, xt_v, out_v, t_v)
    sl = slice(f0, None)
    return (sds_loss(x0[:, :, sl], x0_e[:, :, sl], settings.sds_weighting, sched, t_e),
            sds_loss(x0[:, :, sl], x0_v[:, :, sl], settings.sds_weighting, sched, t_v))


def disc_frames(batch: Batch, settings: FDDSettings, generator) -> list[int]:
    """The frames D_e judges this iteration (never a pinned frame 0)."""
    first = 1 if batch.first is not None and batch.num_frames > 1 else 0
    choices = list(range(first, batch.num_frames))
    order = torch.randperm(len(choices), generator=generator).tolist()
    return sorted(choices[i] for i in order[: settings.disc_frames])


def edit_logits(features, disc: Discriminators, batch: Batch, latents: torch.Tensor, frames: list[int]) -> torch.Tensor:
    """D_e on output-frame latents (B*n, C, h, w) of `frames` of each clip."""
    b, f, n = batch.num_clips, batch.num_frames, len(frames)
    idx = torch.tensor([c * f + i for c in range(b) for i in frames])
    text = batch.caption_tokens.repeat_interleave(n, dim=0)
    with torch.no_grad():
        source = features.source(batch.frames[idx], batch.source[idx], batch.cond.empty.expand(b * n, -1, -1))
    pooled = torch.cat([batch.pooled_instruction, batch.pooled_caption], dim=1).repeat_interleave(n, dim=0)
    return disc.edit(features(latents, text), source, batch.instruction_tokens.repeat_interleave(n, dim=0), pooled)


def video_logits(features, disc: Discriminators, batch: Batch, clips: torch.Tensor) -> torch.Tensor:
    """D_v on clips (B, C, F, h, w)."""
    text = batch.caption_tokens.repeat_interleave(batch.num_frames, dim=0)
    return disc.video(features(frames_to_batch(clips), text), batch.num_frames, batch.pooled_caption)


def pick_frames(clips: torch.Tensor, frames: list[int]) -> torch.Tensor:
    """Frames `frames` of each clip, as a batch of frames (B*n, C, h, w)."""
    return frames_to_batch(clips[:, :, frames])


@dataclass
class TeacherSamples:
    """What the discriminators see as real this iteration."""

    edit: torch.Tensor  # (B*n, C, h, w): the edit teacher's edits of the judged frames
    video: torch.Tensor  # (B, C, F, h, w): the video teacher's clips
    frames: list[int]


@torch.no_grad()
def teacher_samples(model, batch: Batch, settings: FDDSettings, guidance: Guidance, generator) -> TeacherSamples:
    frames = disc_frames(batch, settings, generator)
    edit = teacher_edit_samples(model, frame_subset(batch.cond, frames), guidance.edit, settings.teacher_sample_steps,
                                generator)
    video = teacher_video_samples(model, batch, guidance.video, settings.teacher_sample_steps, generator)
    return TeacherSamples(edit, video, frames)


def adversarial_generator_losses(features, disc, batch: Batch, x0: torch.Tensor, real: TeacherSamples,
                                 form: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_G-e, L_G-v): the discriminators' verdict on the student's x'_0 (gradients reach x'_0)."""
    return (generator_loss(edit_logits(features, disc, batch, pick_frames(x0, real.frames), real.frames), form),
            generator_loss(video_logits(features, disc, batch, x0), form))


def discriminator_losses(features, disc, batch: Batch, x0: torch.Tensor, real: TeacherSamples) -> dict:
    """Hinge losses of D_e and D_v (teachers' samples real, the student's x'_0 fake, detached) and
    each one's accuracy (the share of logits on the right side of zero)."""
    fake = x0.detach()
    re = edit_logits(features, disc, batch, real.edit, real.frames)
    fe = edit_logits(features, disc, batch, pick_frames(fake, real.frames), real.frames)
    rv = video_logits(features, disc, batch, real.video)
    fv = video_logits(features, disc, batch, fake)

    def accuracy(r, f):
        return torch.cat([(r > 0), (f < 0)]).float().mean().detach()

    return {"d_e": hinge_d_loss(re, fe), "d_v": hinge_d_loss(rv, fv),
            "acc_e": accuracy(re, fe), "acc_v": accuracy(rv, fv)}
