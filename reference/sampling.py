"""DDIM sampling with the backbone, the teachers and the plug-and-play stack.

- `generate_images`: the text-to-image backbone alone, text classifier-free guidance.
- `edit_frames`: the edit teacher θ+θ_edit on every frame independently, 3-way classifier-free
  guidance (InstructPix2Pix form): e = e(-,-) + s_img * (e(img,-) - e(-,-)) + s_txt * (e(img,txt) - e(img,-)).
- `generate_video`: the video teacher θ+θ_video, text CFG, optional SDEdit start (`strength` < 1
  re-noises given latents) and optional clean first-frame conditioning.
- `plug_and_play`: both adapters stacked without alignment (the paper's "w/o alignment"), 3-way
  CFG like the edit teacher, first frame taken from the edit teacher when the video adapter is
  first-frame conditioned.

Latents are scaled VAE latents; clips are (1, C, F, h, w). All noise comes from a CPU
`torch.Generator` seeded by the caller, so results are reproducible across devices.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from reference.edit_adapter import controlnet_residuals, edit_condition, instruction_text
from reference.video_adapter import batch_to_frames, frames_to_batch, motion_forward


# ---------------------------------------------------------------------- frames <-> tensors
def frames_to_tensor(frames: np.ndarray, resolution: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> [-1, 1] float (T, 3, R, R) (bilinear, antialiased)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1
    if x.shape[-2:] != (resolution, resolution):
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)
    return x.to(device=device, dtype=dtype)


def tensor_to_frames(x: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """[-1, 1] (T, 3, r, r) -> uint8 (T, H, W, 3) at `size` = (H, W)."""
    x = x.detach().float().cpu()
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=tuple(size), mode="bilinear", antialias=True, align_corners=False)
    x = ((x.clamp(-1, 1) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def randn(shape, generator: torch.Generator, device, dtype) -> torch.Tensor:
    return torch.randn(shape, generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)


def _timesteps(scheduler, steps: int, strength: float):
    scheduler.set_timesteps(steps)
    ts = scheduler.timesteps
    if strength >= 1.0:
        return ts
    keep = max(1, min(steps, int(round(steps * strength))))
    return ts[steps - keep :]


def ddim_loop(scheduler, latents, denoise, steps: int, generator, strength: float = 1.0, fix=None):
    """DDIM from noise (strength 1) or from `latents` re-noised to `strength` (SDEdit).

    `denoise(x, t)` returns the model output in the scheduler's prediction type; `fix(x)`, if
    given, overwrites known parts of x (clean conditioning frames) before each model call and at
    the end."""
    ts = _timesteps(scheduler, steps, strength)
    noise = randn(latents.shape, generator, latents.device, latents.dtype)
    x = noise if strength >= 1.0 else scheduler.add_noise(latents, noise, ts[:1].repeat(latents.shape[0]))
    for t in ts:
        if fix is not None:
            x = fix(x)
        out = denoise(x, t)
        x = scheduler.step(out, t, x).prev_sample
    return fix(x) if fix is not None else x


# ---------------------------------------------------------------------- text helpers
def _embed(model, prompts: list[str]) -> torch.Tensor:
    return model.backbone.encode_text(prompts).to(model.backbone.dtype)


def _cfg2(out: torch.Tensor, scale: float) -> torch.Tensor:
    """Text classifier-free guidance on a (conditional, unconditional) batch."""
    c, u = out.chunk(2)
    return u + scale * (c - u)


def _frames_from_noise(bb, n: int, denoise, steps: int, generator) -> torch.Tensor:
    """DDIM from pure noise for `n` independent frames (scaled latents (n, C, h, w))."""
    shape = (n, bb.unet.config.in_channels, bb.latent_size, bb.latent_size)
    return ddim_loop(bb.ddim(), torch.zeros(shape, device=bb.device, dtype=bb.dtype), denoise, steps, generator)


def _cfg3(out: torch.Tensor, n: int, s_txt: float, s_img: float) -> torch.Tensor:
    full, img_only, uncond = out[:n], out[n : 2 * n], out[2 * n :]
    return uncond + s_img * (img_only - uncond) + s_txt * (full - img_only)


def _edit_conditioning(model, frames: torch.Tensor, instruction: str, target_caption: str, task: str | None):
    """ControlNet inputs for 3-way CFG over N frames, in `_cfg3`'s order (image + text, image only,
    neither): (image condition (3N, ...), instruction embeddings (3N, L, D), caption embedding
    (1, L, D), empty-text embedding (1, L, D)). The caption embeddings are left for the caller to
    lay out because the per-frame UNet and the motion UNet batch them differently."""
    if model.edit_adapter is None:
        raise RuntimeError("this checkpoint has no edit adapter (train it: python -m reference.train_edit_adapter)")
    bb, cfg = model.backbone, model.config
    n = frames.shape[0]
    cond = edit_condition(bb, frames.to(bb.device, bb.dtype), cfg.edit_condition)
    cond3 = torch.cat([cond, cond, torch.zeros_like(cond)])
    instr = instruction_text(instruction, task, cfg.task_label)
    txt = _embed(model, [instr, "", target_caption or ""])
    instr_emb = torch.cat([txt[0:1].expand(n, -1, -1), txt[1:2].expand(2 * n, -1, -1)])
    return cond3, instr_emb, txt[2:3], txt[1:2]


# ---------------------------------------------------------------------- backbone
@torch.no_grad()
def generate_images(model, captions: list[str], generator: torch.Generator, steps: int = 20,
                    guidance_scale: float = 5.0) -> torch.Tensor:
    """Text-to-image with the backbone alone (text CFG); returns scaled latents (N, C, h, w)."""
    bb = model.backbone
    n = len(captions)
    emb = _embed(model, list(captions) + [""])
    emb = torch.cat([emb[:n], emb[n:].expand(n, -1, -1)])

    def denoise(x, t):
        out = bb.unet(torch.cat([x, x]), t.repeat(2 * n).to(x.device), encoder_hidden_states=emb, return_dict=False)[0]
        return _cfg2(out, guidance_scale)

    return _frames_from_noise(bb, n, denoise, steps, generator)


# ---------------------------------------------------------------------- edit teacher
@torch.no_grad()
def edit_frames(
    model,
    frames: torch.Tensor,
    instruction: str,
    target_caption: str,
    task: str | None,
    generator: torch.Generator,
    steps: int = 20,
    guidance_scale: float = 5.0,
    image_guidance_scale: float = 1.5,
) -> torch.Tensor:
    """Edit each [-1, 1] frame (N, 3, R, R) independently; returns scaled latents (N, C, h, w)."""
    cond3, instr_emb, caption, empty = _edit_conditioning(model, frames, instruction, target_caption, task)
    bb, cn = model.backbone, model.edit_adapter
    n = frames.shape[0]
    cap_emb = torch.cat([caption.expand(n, -1, -1), empty.expand(2 * n, -1, -1)])

    def denoise(x, t):
        x3 = torch.cat([x, x, x])
        tt = t.repeat(3 * n).to(x.device)
        down, mid = controlnet_residuals(cn, x3, tt, instr_emb, cond3)
        out = bb.unet(x3, tt, encoder_hidden_states=cap_emb, down_block_additional_residuals=down,
                      mid_block_additional_residual=mid, return_dict=False)[0]
        return _cfg3(out, n, guidance_scale, image_guidance_scale)

    return _frames_from_noise(bb, n, denoise, steps, generator)


# ---------------------------------------------------------------------- video teacher
@torch.no_grad()
def generate_video(
    model,
    num_frames: int,
    caption: str,
    generator: torch.Generator,
    steps: int = 20,
    guidance_scale: float = 5.0,
    init_latents: torch.Tensor | None = None,
    strength: float = 1.0,
    first_frame: torch.Tensor | None = None,
) -> torch.Tensor:
    """One window of video from the video teacher; returns latents (1, C, F, h, w).

    `init_latents` + `strength` < 1: SDEdit. `first_frame` (C, h, w) clean latent: Emu-Video-style
    conditioning (only meaningful if the adapter was trained with it)."""
    bb = model.backbone
    vu = model.video_unet
    emb = _embed(model, [caption or "", ""])
    shape = (1, bb.unet.config.in_channels, num_frames, bb.latent_size, bb.latent_size)
    init = init_latents if init_latents is not None else torch.zeros(shape, device=bb.device, dtype=bb.dtype)

    def denoise(x, t):
        x2 = torch.cat([x, x])
        return _cfg2(motion_forward(vu, x2, t.repeat(2).to(x.device), emb), guidance_scale)

    fix = _first_frame_fix(first_frame)
    return ddim_loop(bb.ddim(), init, denoise, steps, generator, strength=strength if init_latents is not None else 1.0, fix=fix)


def _first_frame_fix(first_frame):
    if first_frame is None:
        return None

    def fix(x):
        x = x.clone()
        x[:, :, 0] = first_frame.to(x.dtype)
        return x

    return fix


# ---------------------------------------------------------------------- plug-and-play stack
@torch.no_grad()
def plug_and_play(
    model,
    frames: torch.Tensor,
    instruction: str,
    target_caption: str,
    task: str | None,
    generator: torch.Generator,
    steps: int = 20,
    guidance_scale: float = 5.0,
    image_guidance_scale: float = 1.5,
    first_frame: torch.Tensor | None = None,
) -> torch.Tensor:
    """One window: motion UNet (output caption) + per-frame ControlNet (input frames, instruction),
    3-way CFG; returns latents (1, C, F, h, w). `first_frame`: clean latent of the (already edited)
    first frame when the video adapter is first-frame conditioned."""
    cond3, instr_emb, caption, empty = _edit_conditioning(model, frames, instruction, target_caption, task)
    bb, cn = model.backbone, model.edit_adapter
    vu = model.video_unet
    f = frames.shape[0]
    cap_emb = torch.cat([caption, empty, empty])  # per clip; repeated per frame in motion_forward

    def denoise(x, t):
        x3 = torch.cat([x, x, x])  # (3, C, F, h, w)
        per_frame = frames_to_batch(x3)  # (3F, ...) clip-major, the layout of cond3 and instr_emb
        down, mid = controlnet_residuals(cn, per_frame, t.repeat(3 * f).to(x.device), instr_emb, cond3)
        out = motion_forward(vu, x3, t.repeat(3).to(x.device), cap_emb, down, mid)
        return _cfg3(out, 1, guidance_scale, image_guidance_scale)

    shape = (1, bb.unet.config.in_channels, f, bb.latent_size, bb.latent_size)
    init = torch.zeros(shape, device=bb.device, dtype=bb.dtype)
    return ddim_loop(bb.ddim(), init, denoise, steps, generator, fix=_first_frame_fix(first_frame))


def windows(num_frames: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) windows covering num_frames; consecutive windows share `overlap` frames."""
    if window < 1 or not 0 <= overlap < window:
        raise ValueError(f"need window >= 1 and 0 <= overlap < window, got window={window}, overlap={overlap}")
    if num_frames <= window:
        return [(0, num_frames)]
    out, start = [], 0
    while True:
        end = min(start + window, num_frames)
        out.append((start, end))
        if end == num_frames:
            return out
        start = end - overlap


def decode_clip(model, latents: torch.Tensor) -> torch.Tensor:
    """(1, C, F, h, w) latents -> [-1, 1] frames (F, 3, R, R)."""
    return model.backbone.decode_latents(frames_to_batch(latents))


__all__ = [
    "batch_to_frames",
    "ddim_loop",
    "decode_clip",
    "edit_frames",
    "frames_to_tensor",
    "generate_images",
    "generate_video",
    "plug_and_play",
    "tensor_to_frames",
    "windows",
]
