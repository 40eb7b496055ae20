"""The image-editing adapter θ_edit: a ControlNet made from the backbone's UNet.

The ControlNet gets the input image and the edit instruction (optionally prefixed with the task
label, e.g. "background: make the sky red"); the frozen backbone gets the output caption. Its
residuals are added to the backbone's skip connections, so a fresh ControlNet (zero-initialised
output convolutions) leaves the backbone unchanged. Frames of a video are edited as a batch of
independent images.

Image condition:
- "latent" (tiny / synth): the input image's scaled VAE latent (posterior mode), read by a
  single-stage conditioning embedding (`conditioning_embedding_out_channels` of length 1);
- "pixel" (sd15): the input image in [0, 1] at full resolution, as lllyasviel/control_v11e_sd15_ip2p
  expects (its conditioning embedding downsamples 8x).

Condition dropout (InstructPix2Pix-style, one uniform draw r per sample with probability p):
r < p drops the text (instruction and output caption -> ""), p <= r < 2p drops text and image,
2p <= r < 3p drops the image (zero condition). This trains the three branches the 3-way
classifier-free guidance of the edit teacher needs: (image, text), (image, -), (-, -).
"""

from __future__ import annotations

import torch


def build_edit_adapter(unet, edit_cfg: dict):
    """A fresh ControlNet initialised from `unet` (call before adding any PEFT layer to `unet`)."""
    from diffusers import ControlNetModel

    kwargs = {k: v for k, v in edit_cfg.items() if k != "condition"}
    return ControlNetModel.from_unet(unet, **kwargs)


def instruction_text(instruction: str, task: str | None = None, task_label: bool = True) -> str:
    """The ControlNet's text: "<task>: <instruction>" when task labels are on and a task is given."""
    instruction = instruction or ""
    if task_label and task:
        return f"{task}: {instruction}"
    return instruction


def edit_condition(backbone, images: torch.Tensor, condition: str) -> torch.Tensor:
    """The ControlNet image condition for [-1, 1] images (N, 3, H, W)."""
    if condition == "latent":
        return backbone.encode_images(images)
    if condition == "pixel":
        return ((images + 1) / 2).clamp(0, 1)
    raise ValueError(f"unknown edit condition {condition!r} (latent or pixel)")


def condition_dropout_masks(n: int, p: float, generator: torch.Generator | None = None):
    """(drop_text, drop_image) boolean masks of length n, IP2P-style (see module docstring)."""
    r = torch.rand(n, generator=generator)
    drop_text = r < 2 * p
    drop_image = (r >= p) & (r < 3 * p)
    return drop_text, drop_image


def controlnet_residuals(controlnet, noisy, timesteps, instruction_emb, cond, scale: float = 1.0):
    """Run the ControlNet on (N, C, h, w) latents; returns (down_residuals, mid_residual)."""
    out = controlnet(
        noisy,
        timesteps,
        encoder_hidden_states=instruction_emb,
        controlnet_cond=cond.to(noisy.dtype),
        conditioning_scale=scale,
        return_dict=False,
    )
    return out[0], out[1]


def edit_forward(unet, controlnet, noisy, timesteps, caption_emb, instruction_emb, cond, scale: float = 1.0):
    """Backbone (output caption) + ControlNet (input image, instruction) prediction for a batch of frames."""
    down, mid = controlnet_residuals(controlnet, noisy, timesteps, instruction_emb, cond, scale)
    return unet(
        noisy,
        timesteps,
        encoder_hidden_states=caption_emb,
        down_block_additional_residuals=down,
        mid_block_additional_residual=mid,
        return_dict=False,
    )[0]
