"""DDIM sampling with the backbone, the teachers, plug-and-play and the EVE student: thin loops
over the prediction functions of `reference.predict`.

- `generate_images`: the text-to-image backbone alone, text classifier-free guidance.
- `edit_frames`: the edit teacher θ+θ_edit on every frame independently, 3-way CFG.
- `generate_video`: the video teacher θ+θ_video, text CFG, optional SDEdit start (`strength` < 1
  re-noises given latents) and optional clean first-frame conditioning.
- `plug_and_play`: both adapters stacked (the paper's "w/o alignment"), 3-way CFG like the edit
  teacher, first frame taken from the edit teacher when the video adapter is first-frame
  conditioned; with `align=True` the same stack with its align LoRA on: the EVE student.

Latents are scaled VAE latents; clips are (1, C, F, h, w). All noise comes from a CPU
`torch.Generator` seeded by the caller, so results are reproducible across devices.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from reference import predict
from reference.video_adapter import batch_to_frames, frames_to_batch


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


def sampling_timesteps(scheduler, steps: int, strength: float = 1.0) -> torch.Tensor:
    """The scheduler's `steps` inference timesteps, the last `strength` share of them for SDEdit."""
    scheduler.set_timesteps(steps)
    ts = scheduler.timesteps
    if strength >= 1.0:
        return ts
    keep = max(1, min(steps, int(round(steps * strength))))
    return ts[steps - keep :]


def ddim_loop(scheduler, latents, predict_fn, steps: int, generator, strength: float = 1.0, fix=None):
    """DDIM from noise (strength 1) or from `latents` re-noised to `strength` (SDEdit), on the
    scheduler's timesteps; `predict_fn` and `fix` as for `predict.ddim`."""
    ts = sampling_timesteps(scheduler, steps, strength)
    noise = randn(latents.shape, generator, latents.device, latents.dtype)
    x = noise if strength >= 1.0 else scheduler.add_noise(latents, noise, ts[:1].repeat(latents.shape[0]))
    return predict.ddim(scheduler, x, predict_fn, ts, fix)


def _noise_like(bb, shape) -> torch.Tensor:
    return torch.zeros(shape, device=bb.device, dtype=bb.dtype)


def _text(bb, prompts: list[str]) -> torch.Tensor:
    return predict.encode_prompts(bb, prompts)


# ---------------------------------------------------------------------- backbone
@torch.no_grad()
def generate_images(model, captions: list[str], generator: torch.Generator, steps: int = 20,
                    guidance_scale: float = 5.0) -> torch.Tensor:
    """Text-to-image with the backbone alone (text CFG); returns scaled latents (N, C, h, w)."""
    bb = model.backbone
    n = len(captions)
    emb = _text(bb, list(captions) + [""])
    shape = (n, bb.unet.config.in_channels, bb.latent_size, bb.latent_size)
    return ddim_loop(bb.ddim(), _noise_like(bb, shape),
                     lambda x, t: predict.image_prediction(bb.unet, x, t, emb[:n], emb[n:], guidance_scale),
                     steps, generator)


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
    cond = predict.edit_conditioning(model, frames, [instruction], [target_caption], [task])
    bb = model.backbone
    shape = (frames.shape[0], bb.unet.config.in_channels, bb.latent_size, bb.latent_size)
    return ddim_loop(bb.ddim(), _noise_like(bb, shape),
                     lambda x, t: predict.edit_prediction(bb.unet, model.edit_adapter, x, t, cond, guidance_scale,
                                                          image_guidance_scale),
                     steps, generator)


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
    emb = _text(bb, [caption or "", ""])
    shape = (1, bb.unet.config.in_channels, num_frames, bb.latent_size, bb.latent_size)
    init = init_latents if init_latents is not None else _noise_like(bb, shape)
    return ddim_loop(bb.ddim(), init,
                     lambda x, t: predict.video_prediction(model.video_unet, x, t, emb[:1], emb[1:], guidance_scale),
                     steps, generator, strength=strength if init_latents is not None else 1.0,
                     fix=predict.pin_first_frame(first_frame))


# ---------------------------------------------------------------------- plug-and-play stack / student
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
    align: bool = False,
) -> torch.Tensor:
    """One window: motion UNet (output caption) + per-frame ControlNet (input frames, instruction),
    3-way CFG; returns latents (1, C, F, h, w). `first_frame`: clean latent of the (already edited)
    first frame when the video adapter is first-frame conditioned. `align`: the align LoRA on (the
    student)."""
    cond = predict.edit_conditioning(model, frames, [instruction], [target_caption], [task])
    bb = model.backbone
    shape = (1, bb.unet.config.in_channels, frames.shape[0], bb.latent_size, bb.latent_size)
    return ddim_loop(bb.ddim(), _noise_like(bb, shape),
                     lambda x, t: predict.stack_prediction(model.video_unet, model.edit_adapter, x, t, cond,
                                                           guidance_scale, image_guidance_scale, align=align),
                     steps, generator, fix=predict.pin_first_frame(first_frame))


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
    "sampling_timesteps",
    "tensor_to_frames",
]
