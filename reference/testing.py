"""Tiny in-memory streams in the synthetic-world item format, for tests and smoke runs.

They mimic `eve_bench.synth.streams` (same dict keys, uint8 (H, W, 3) / (T, H, W, 3) frames) with
one coloured square on a coloured background, so tests do not depend on the real streams.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

COLOURS = {"red": (220, 40, 40), "green": (40, 200, 60), "blue": (40, 70, 220), "yellow": (230, 220, 40)}


def _draw(size: int, bg: str, fg: str, x: int, y: int, s: int) -> np.ndarray:
    img = np.empty((size, size, 3), np.uint8)
    img[:] = COLOURS[bg]
    img[y : y + s, x : x + s] = COLOURS[fg]
    return img


class _TinyStream(torch.utils.data.IterableDataset):
    def __init__(self, seed: int = 0, size: int = 32, split: str = "train", num_frames: int = 4, tasks=None):
        self.seed, self.size, self.num_frames = seed, size, num_frames

    def _scene(self, rng):
        names = list(COLOURS)
        bg, fg = rng.choice(len(names), 2, replace=False)
        s = int(rng.integers(self.size // 4, self.size // 2))
        x, y = (int(v) for v in rng.integers(0, self.size - s, 2))
        return names[bg], names[fg], x, y, s


class TinyImageCaptionStream(_TinyStream):
    def __iter__(self):
        rng = np.random.default_rng(self.seed)
        while True:
            bg, fg, x, y, s = self._scene(rng)
            yield {"image": _draw(self.size, bg, fg, x, y, s), "caption": f"a {fg} square on a {bg} background"}


class TinyEditTripletStream(_TinyStream):
    def __iter__(self):
        rng = np.random.default_rng(self.seed)
        names = list(COLOURS)
        while True:
            bg, fg, x, y, s = self._scene(rng)
            new = [c for c in names if c not in (bg, fg)][int(rng.integers(0, 2))]
            yield {
                "source": _draw(self.size, bg, fg, x, y, s),
                "instruction": f"make the square {new}",
                "target": _draw(self.size, bg, new, x, y, s),
                "source_caption": f"a {fg} square on a {bg} background",
                "target_caption": f"a {new} square on a {bg} background",
                "task": "texture",
            }


class TinyClipStream(_TinyStream):
    def _clip(self, rng):
        bg, fg, x, y, s = self._scene(rng)
        dx, dy = (int(v) for v in rng.integers(-2, 3, 2))
        frames = [
            _draw(self.size, bg, fg, int(np.clip(x + i * dx, 0, self.size - s)), int(np.clip(y + i * dy, 0, self.size - s)), s)
            for i in range(self.num_frames)
        ]
        return np.stack(frames), bg, fg

    def __iter__(self):
        rng = np.random.default_rng(self.seed)
        while True:
            video, bg, fg = self._clip(rng)
            yield {"video": video, "caption": f"a {fg} square moving on a {bg} background"}


class TinyEditClipStream(TinyClipStream):
    """Unsupervised edits of moving-square clips (no target video), as `EditClipStream`."""

    def __iter__(self):
        rng = np.random.default_rng(self.seed)
        while True:
            video, bg, fg = self._clip(rng)
            new = [c for c in COLOURS if c not in (bg, fg)][int(rng.integers(0, 2))]
            yield {"video": video, "instruction": f"make the square {new}",
                   "source_caption": f"a {fg} square on a {bg} background",
                   "target_caption": f"a {new} square on a {bg} background", "task": "texture"}


def tiny_checkpoint(directory, seed: int = 0):
    """Write a randomly initialised tiny EVE checkpoint (backbone + both adapters) and return the model."""
    from reference.checkpoint import EVEModel

    model = EVEModel.from_preset("tiny", seed=seed)
    model.save_pretrained(directory)
    return model


def write_sd15_format_dirs(root):
    """Tiny random weights in the public formats: an SD pipeline dir (PNDM scheduler, vocab.json +
    merges.txt tokenizer), a ControlNetModel dir (pixel-conditioned) and a MotionAdapter dir."""
    import json

    from diffusers import ControlNetModel, MotionAdapter, PNDMScheduler

    from reference.backbone import Backbone
    from reference.tokenizer import clip_vocab_and_merges

    root = Path(root)

    bb = Backbone.from_preset("tiny", seed=3)
    base = root / "sd15"
    bb.unet.save_pretrained(base / "unet")
    bb.vae.save_pretrained(base / "vae")
    bb.text_encoder.save_pretrained(base / "text_encoder")
    PNDMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, steps_offset=1,
                  skip_prk_steps=True).save_pretrained(base / "scheduler")
    vocab, merges = clip_vocab_and_merges(2000)
    (base / "tokenizer").mkdir()
    (base / "tokenizer" / "vocab.json").write_text(json.dumps(vocab))
    (base / "tokenizer" / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    (base / "tokenizer" / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "CLIPTokenizer", "model_max_length": 77, "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}))
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
