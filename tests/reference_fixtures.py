"""Tiny reference checkpoints for the tests: a random tiny EVE checkpoint, and random weights in the
public formats an sd15 checkpoint points at."""

from __future__ import annotations

from pathlib import Path

import torch


def tiny_checkpoint(directory, seed: int = 0):
    """Write a randomly initialised tiny EVE checkpoint (backbone + both adapters) and return the model."""
    from reference.checkpoint import EVEModel

    model = EVEModel.from_preset("tiny", seed=seed)
    model.save_pretrained(directory)
    return model


def write_sd15_format_dirs(root, layout: str = "tiny"):
    """Tiny random weights in the public formats: an SD pipeline dir (PNDM scheduler, vocab.json +
    merges.txt tokenizer), a ControlNetModel dir (pixel-conditioned) and a MotionAdapter dir.

    `layout` "tiny": the tiny preset's 2-level UNet and 4x VAE. "sd15": Stable Diffusion 1.5's
    layout at a tiny width: a 4-level UNet (three cross-attention levels and a plain one), an 8x
    VAE, a ControlNet whose pixel condition embedding downsamples 8x, and a 4-block MotionAdapter
    (AnimateDiff's shape, not first-frame conditioned); 64 px frames, 8 x 8 latents."""
    from diffusers import ControlNetModel, MotionAdapter, PNDMScheduler

    from eve_bench.encoders.clip_bpe import save_clip_tokenizer
    from reference.backbone import Backbone
    from reference.presets import get_preset

    root = Path(root)
    preset = get_preset("tiny")
    if layout == "sd15":
        preset.unet.update(block_out_channels=(16, 16, 32, 32), sample_size=8, norm_num_groups=8,
                           down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                           up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, attention_head_dim=(1, 1, 2, 2))
        preset.vae.update(block_out_channels=(8, 16, 16, 16), down_block_types=("DownEncoderBlock2D",) * 4,
                          up_block_types=("UpDecoderBlock2D",) * 4, norm_num_groups=8, sample_size=64)
    elif layout != "tiny":
        raise ValueError(f"unknown layout {layout!r} (tiny, sd15)")
    bb = Backbone.from_preset(preset, seed=3)
    base = root / "sd15"
    bb.unet.save_pretrained(base / "unet")
    bb.vae.save_pretrained(base / "vae")
    bb.text_encoder.save_pretrained(base / "text_encoder")
    PNDMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, steps_offset=1,
                  skip_prk_steps=True).save_pretrained(base / "scheduler")
    save_clip_tokenizer(base / "tokenizer", num_merges=2000, model_max_length=77)
    torch.manual_seed(4)
    # the pixel condition embedding downsamples as the VAE does: one stride-2 stage per VAE level
    stages = len(preset.vae["block_out_channels"]) - 1
    cn = ControlNetModel.from_unet(bb.unet, conditioning_embedding_out_channels=(8,) + (16,) * stages)
    with torch.no_grad():
        for p in cn.parameters():
            p.add_(0.01 * torch.randn_like(p))
    cn.save_pretrained(root / "control_v11e_ip2p")
    ma = MotionAdapter(block_out_channels=preset.unet["block_out_channels"], motion_layers_per_block=1,
                       motion_norm_num_groups=8, motion_num_attention_heads=2, motion_max_seq_length=32)
    ma.save_pretrained(root / "motion_adapter")
    return bb, cn, ma
