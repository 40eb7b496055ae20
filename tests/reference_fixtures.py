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


def write_sd15_format_dirs(root):
    """Tiny random weights in the public formats: an SD pipeline dir (PNDM scheduler, vocab.json +
    merges.txt tokenizer), a ControlNetModel dir (pixel-conditioned) and a MotionAdapter dir."""
    from diffusers import ControlNetModel, MotionAdapter, PNDMScheduler

    from eve_bench.encoders.clip_bpe import save_clip_tokenizer
    from reference.backbone import Backbone

    root = Path(root)

    bb = Backbone.from_preset("tiny", seed=3)
    base = root / "sd15"
    bb.unet.save_pretrained(base / "unet")
    bb.vae.save_pretrained(base / "vae")
    bb.text_encoder.save_pretrained(base / "text_encoder")
    PNDMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, steps_offset=1,
                  skip_prk_steps=True).save_pretrained(base / "scheduler")
    save_clip_tokenizer(base / "tokenizer", num_merges=2000, model_max_length=77)
    torch.manual_seed(4)
    # the VAE downsamples 4x, so the pixel conditioning embedding has two stride-2 stages
    cn = ControlNetModel.from_unet(bb.unet, conditioning_embedding_out_channels=(8, 16, 16))
    with torch.no_grad():
        for p in cn.parameters():
            p.add_(0.01 * torch.randn_like(p))
    cn.save_pretrained(root / "control_v11e_ip2p")
    ma = MotionAdapter(block_out_channels=(32, 64), motion_layers_per_block=1, motion_norm_num_groups=8,
                       motion_num_attention_heads=2, motion_max_seq_length=32)
    ma.save_pretrained(root / "motion_adapter")
    return bb, cn, ma
