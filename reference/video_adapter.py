"""The video adapter θ_video: AnimateDiff-style temporal layers (diffusers `MotionAdapter`) on the
frozen backbone, run as a `UNetMotionModel`.

Exact identity at initialisation: diffusers' `AnimateDiffTransformer3D.proj_out` is a plain
`nn.Linear` (AnimateDiff zero-initialises it, diffusers does not), so a fresh adapter has the
`proj_out` weight and bias of every motion module set to zero; the video UNet then reproduces the
per-frame backbone output exactly.

First-frame conditioning (Emu Video, as EVE uses it): the clean latent of the first frame replaces
frame 0 of the noisy clip at every denoising step and the loss skips frame 0, so the temporal
attention learns to carry the first frame's content to the other frames. No new parameters and
no change to the frozen backbone (which would break stacking with the edit adapter). With
probability `first_frame_dropout` a training clip is not conditioned (all frames noised and
supervised), so the same adapter is also a plain text-to-video model (used by video SDEdit).

Layouts: clips are (B, C, F, h, w) latents; text embeddings are given per clip (B, seq, dim) and
repeated per frame here; ControlNet residuals are in the per-frame (B*F, C, h, w) layout.
"""

from __future__ import annotations

import logging

import torch


def zero_motion_proj_out(module: torch.nn.Module) -> int:
    """Zero `proj_out` of every motion module under `module`; returns how many were zeroed."""
    n = 0
    for name, sub in module.named_modules():
        if name.endswith("proj_out") and "motion_modules" in name and isinstance(sub, torch.nn.Linear):
            with torch.no_grad():
                sub.weight.zero_()
                if sub.bias is not None:
                    sub.bias.zero_()
            n += 1
    return n


def build_motion_adapter(motion_cfg: dict):
    """A fresh MotionAdapter whose motion modules start as exact identities."""
    from diffusers import MotionAdapter

    adapter = MotionAdapter(**motion_cfg)
    if zero_motion_proj_out(adapter) == 0:
        raise RuntimeError("no motion-module proj_out found to zero-initialise")
    return adapter


class _EmptyFp32ListFilter(logging.Filter):
    # diffusers' from_unet2d casts with .to(dtype) and then warns about "modules that should be kept in
    # float32: []" even though the list is empty; that line would greet every user of the main command.
    def filter(self, record: logging.LogRecord) -> bool:
        return "should be kept in float32: []" not in record.getMessage()


def build_video_unet(unet, motion_adapter, freeze_backbone: bool = True):
    """UNetMotionModel = backbone UNet (copied) + motion modules (call before adding PEFT layers)."""
    from diffusers import UNetMotionModel

    log = logging.getLogger("diffusers.models.modeling_utils")
    quiet = _EmptyFp32ListFilter()
    log.addFilter(quiet)
    try:
        video_unet = UNetMotionModel.from_unet2d(unet, motion_adapter, load_weights=True)
    finally:
        log.removeFilter(quiet)
    if video_unet.device != unet.device or video_unet.dtype != unet.dtype:
        video_unet.to(device=unet.device, dtype=unet.dtype)
    if freeze_backbone:
        video_unet.freeze_unet2d_params()
    return video_unet


def extract_motion_adapter(video_unet, adapter_config):
    """A standalone MotionAdapter (built from `adapter_config`) holding the motion modules of `video_unet`."""
    from diffusers import MotionAdapter

    adapter = MotionAdapter.from_config(adapter_config)
    motion = {k: v for k, v in video_unet.state_dict().items() if "motion_modules" in k}
    adapter.load_state_dict(motion)
    return adapter


def default_motion_config(unet) -> dict:
    """MotionAdapter kwargs matching a UNet that has no preset (AnimateDiff defaults otherwise)."""
    return dict(block_out_channels=tuple(unet.config.block_out_channels), motion_layers_per_block=unet.config.layers_per_block)


def motion_forward(video_unet, latents, timesteps, text_emb, down_residuals=None, mid_residual=None):
    """Prediction for clips (B, C, F, h, w) with per-clip text embeddings (B, seq, dim)."""
    num_frames = latents.shape[2]
    emb = text_emb.repeat_interleave(num_frames, dim=0)
    if torch.is_tensor(timesteps) and timesteps.ndim == 1 and timesteps.shape[0] not in (1, latents.shape[0]):
        raise ValueError("timesteps must be one per clip")
    return video_unet(
        latents,
        timesteps,
        encoder_hidden_states=emb,
        down_block_additional_residuals=down_residuals,
        mid_block_additional_residual=mid_residual,
        return_dict=False,
    )[0]


def frames_to_batch(clips: torch.Tensor) -> torch.Tensor:
    """(B, C, F, h, w) -> (B*F, C, h, w), clip-major (the motion UNet's internal order)."""
    b, c, f, h, w = clips.shape
    return clips.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)


def batch_to_frames(x: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(B*F, C, h, w) -> (B, C, F, h, w)."""
    bf, c, h, w = x.shape
    return x.reshape(bf // num_frames, num_frames, c, h, w).permute(0, 2, 1, 3, 4)
