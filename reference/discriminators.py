"""FDD's two discriminators and what they see: a frozen feature network, its taps, the noise a
real/fake pair is seen through, the trainable heads D_e and D_v, their losses and the paired
measures that say whether they tell a student from a teacher.

The feature network is frozen and never saved; only the heads train. Two feature networks:
- `UNetEncoderFeatures`: the backbone UNet's encoder on latents re-noised to a low t_D (LADD's
  choice of the teacher's own features; no DINO weights exist for the synthetic world). Taps are
  named: `conv_in`, `down<i>` (block i before its downsampler), `down<i>_ds` (after it), `mid`.
- `Dinov2Features`: frozen DINOv2 on decoded frames (ADD's, the paper's DINO); taps are layer
  numbers; it sees clean frames.

A real/fake pair of one item is seen through one draw of (t_D, ε) (`draw_view_noise`), so the
comparison D learns is not blurred by independent noise on each side.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from reference import predict


# ---------------------------------------------------------------------- the view's noise
@dataclass
class ViewNoise:
    """Re-noising of latents before the feature network: timesteps (N,) and noise like the latents."""

    t: torch.Tensor
    eps: torch.Tensor

    def __getitem__(self, idx) -> "ViewNoise":
        return ViewNoise(self.t[idx], self.eps[idx])

    def repeat(self, n: int) -> "ViewNoise":
        """The same draw for n stacked copies of the batch (real, fake, ...)."""
        return ViewNoise(self.t.repeat(n), self.eps.repeat(n, *([1] * (self.eps.ndim - 1))))


def draw_view_noise(shape, t_min: int, t_max: int, generator: torch.Generator, device, dtype) -> ViewNoise:
    """One (t_D, ε) per row of latents of `shape` (N, C, h, w), t_D ~ U[t_min, t_max]."""
    t = torch.randint(t_min, t_max + 1, (shape[0],), generator=generator)
    eps = torch.randn(shape, generator=generator, dtype=torch.float32)
    return ViewNoise(t.to(device), eps.to(device, dtype))


# ---------------------------------------------------------------------- feature networks
class UNetEncoderFeatures:
    """The frozen backbone UNet's encoder as the discriminators' feature network, on latents
    re-noised by `ViewNoise` (clean at t = 0 without), the caption in its cross-attention. Runs
    only as deep as its deepest tap. Not an nn.Module: its weights are the backbone's."""

    # full resolution only: what separates a distilled student from its teachers is fine detail,
    # which the downsampled taps lose (docs/fdd_disc_study.md)
    DEFAULT_TAPS = "conv_in,down0"

    def __init__(self, unet, scheduler, taps: str = ""):
        self.unet, self.scheduler = unet, scheduler
        available = self.tap_names(unet)
        names = [t.strip() for t in (taps or self.DEFAULT_TAPS).split(",") if t.strip()]
        unknown = [n for n in names if n not in available]
        if unknown or not names:
            raise ValueError(f"unknown UNet-encoder tap(s) {', '.join(unknown) or '(none given)'}; "
                             f"this UNet has: {', '.join(available)}")
        self.taps = sorted(set(names), key=available.index)  # network order

    @staticmethod
    def tap_names(unet) -> list[str]:
        names = ["conv_in"]
        for i, block in enumerate(unet.down_blocks):
            names.append(f"down{i}")
            if block.downsamplers is not None:
                names.append(f"down{i}_ds")
        return names + ["mid"]

    def channels(self) -> list[int]:
        cfg = self.unet.config
        ch = {"conv_in": cfg.block_out_channels[0], "mid": cfg.block_out_channels[-1]}
        for i, c in enumerate(cfg.block_out_channels):
            ch[f"down{i}"] = ch[f"down{i}_ds"] = c
        return [ch[t] for t in self.taps]

    def __call__(self, latents: torch.Tensor, text: torch.Tensor, noise: ViewNoise | None = None) -> list[torch.Tensor]:
        unet = self.unet
        if noise is None:
            t = torch.zeros(latents.shape[0], dtype=torch.long, device=latents.device)
        else:
            t = noise.t
            latents = predict.add_noise(self.scheduler, latents, noise.eps.to(latents.dtype), t)
        emb = unet.time_embedding(unet.time_proj(t).to(latents.dtype))
        out = {}
        h = out["conv_in"] = unet.conv_in(latents)
        last = self.taps[-1]
        for i, block in enumerate(unet.down_blocks):
            if last == "conv_in":
                break
            if getattr(block, "has_cross_attention", False):
                h, states = block(hidden_states=h, temb=emb, encoder_hidden_states=text)
            else:
                h, states = block(hidden_states=h, temb=emb)
            has_ds = block.downsamplers is not None
            out[f"down{i}"] = states[-2] if has_ds else states[-1]
            if has_ds:
                out[f"down{i}_ds"] = h
            if last in (f"down{i}", f"down{i}_ds"):
                break
        if last == "mid":
            out["mid"] = unet.mid_block(h, emb, encoder_hidden_states=text)
        return [out[name] for name in self.taps]

    def source(self, pixels, latents, text):
        """The input frame as D_e's condition: clean latents."""
        return self(latents, text)


class Dinov2Features:
    """Frozen DINOv2 (transformers' Dinov2Model from a local folder) on decoded frames: [-1, 1] ->
    [0, 1] -> bilinear to its image size -> ImageNet normalisation; patch tokens of the tapped
    layers as maps (N, C, g, g). Latents are decoded through the frozen VAE with gradients; DINOv2
    sees clean frames, so a `ViewNoise` is ignored."""

    MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

    def __init__(self, path: str, vae, scaling_factor: float, taps: str = "", device=None, dtype=torch.float32):
        from transformers import Dinov2Model

        self.model = Dinov2Model.from_pretrained(path, dtype=dtype, use_safetensors=True).to(device).requires_grad_(False).eval()
        self.vae, self.scaling_factor = vae, scaling_factor
        n = self.model.config.num_hidden_layers
        if taps:
            if not re.fullmatch(r"\d+(,\d+)*", taps.replace(" ", "")):
                raise ValueError(f"DINOv2 taps are layer numbers 1..{n}, comma-separated; got {taps!r}")
            self.taps = sorted({int(t) for t in taps.split(",")})
            if self.taps[0] < 1 or self.taps[-1] > n:
                raise ValueError(f"DINOv2 taps must lie in 1..{n}; got {taps!r}")
        else:
            self.taps = sorted({round(n * (i + 1) / 4) for i in range(4)})  # e.g. 3, 6, 9, 12

    def channels(self) -> list[int]:
        return [self.model.config.hidden_size] * len(self.taps)

    def _pixels(self, images):
        size = self.model.config.image_size
        x = ((images.float() + 1) / 2).clamp(0, 1)
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        mean = torch.tensor(self.MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.STD, device=x.device).view(1, 3, 1, 1)
        out = self.model(((x - mean) / std).to(self.model.dtype), output_hidden_states=True)
        skip = 1 + getattr(self.model.config, "num_register_tokens", 0)  # CLS (+ registers)
        maps = []
        for i in self.taps:
            tok = out.hidden_states[i][:, skip:]
            g = int(math.isqrt(tok.shape[1]))
            maps.append(tok.transpose(1, 2).reshape(tok.shape[0], tok.shape[2], g, g))
        return maps

    def __call__(self, latents, text, noise: ViewNoise | None = None):
        images = self.vae.decode(latents.to(self.vae.dtype) / self.scaling_factor).sample
        return self._pixels(images)

    def source(self, pixels, latents, text):
        return self._pixels(pixels)


# ---------------------------------------------------------------------- heads
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


# ---------------------------------------------------------------------- losses and measures
def hinge_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, form: str = "hinge") -> torch.Tensor:
    if form == "hinge":
        return -fake_logits.mean()
    if form == "paper":  # as printed; no gradient once D(fake) < -1
        return -F.relu(1 + fake_logits).mean()
    raise ValueError(f"unknown generator loss {form!r} (hinge, paper)")


def paired_measures(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> dict[str, float]:
    """How well D tells the two sides of matched pairs apart (row i of each is one item):
    - auc: P[D(real) > D(fake)] within a pair (ties count half); 0.5 is chance, whatever D's offset;
    - margin: 2 - the hinge loss, i.e. E[D(real)] - E[D(fake)] while every |logit| < 1;
    - p_real, p_fake: mean sigmoid(D) on each side;
    - acc0: the share of logits on the right side of 0 (a threshold nothing trains; secondary)."""
    r, f = real_logits.detach().float().flatten(), fake_logits.detach().float().flatten()
    return {
        "auc": ((r > f).float() + 0.5 * (r == f).float()).mean().item(),
        "margin": (2 - hinge_d_loss(r, f)).item(),
        "p_real": torch.sigmoid(r).mean().item(),
        "p_fake": torch.sigmoid(f).mean().item(),
        "acc0": torch.cat([r > 0, f < 0]).float().mean().item(),
    }
