"""The frozen text-to-image backbone: UNet2DConditionModel + AutoencoderKL + CLIP text encoder and
tokenizer + schedulers (DDPM for training, DDIM for sampling).

Latents are always kept *scaled* (`vae.config.scaling_factor` applied), as in Stable Diffusion.
Images enter and leave as float tensors in [-1, 1], shape (N, 3, H, W).
"""

from __future__ import annotations

from pathlib import Path

import torch

from eve_bench.encoders.clip_bpe import clip_tokenizer, vocab_size
from reference.presets import Preset, get_preset

BACKBONE_PARTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")


class Backbone:
    """Container for the text-to-image parts (not an nn.Module: the parts are trained separately)."""

    def __init__(self, unet, vae, text_encoder, tokenizer, scheduler):
        self.unet = unet
        self.vae = vae
        self.text_encoder = text_encoder
        self.tokenizer = tokenizer
        self.scheduler = scheduler  # DDPMScheduler: the training noise schedule

    # ------------------------------------------------------------------ construction / IO
    @classmethod
    def from_preset(cls, preset: str | Preset, seed: int = 0) -> "Backbone":
        """Randomly initialised backbone of a small preset (tiny / synth)."""
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
        from transformers import CLIPTextConfig, CLIPTextModel

        p = get_preset(preset) if isinstance(preset, str) else preset
        if not p.unet:
            raise ValueError(f"preset {p.name!r} has no from-scratch architecture; load it from a directory")
        tokenizer = clip_tokenizer(p.num_merges)
        torch.manual_seed(seed)
        vae = AutoencoderKL(**p.vae)
        unet = UNet2DConditionModel(**p.unet)
        text_cfg = CLIPTextConfig(
            vocab_size=vocab_size(p.num_merges),
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            **p.text,
        )
        text_encoder = CLIPTextModel(text_cfg)
        scheduler = DDPMScheduler(**p.scheduler)
        return cls(unet, vae, text_encoder, tokenizer, scheduler)

    def save_pretrained(self, directory: str | Path) -> None:
        d = Path(directory)
        self.unet.save_pretrained(d / "unet", safe_serialization=True)
        self.vae.save_pretrained(d / "vae", safe_serialization=True)
        self.text_encoder.save_pretrained(d / "text_encoder", safe_serialization=True)
        self.tokenizer.save_pretrained(d / "tokenizer")
        self.scheduler.save_pretrained(d / "scheduler")

    @classmethod
    def from_pretrained(cls, directory: str | Path, torch_dtype: torch.dtype | None = None) -> "Backbone":
        """Load from a directory with unet/ vae/ text_encoder/ tokenizer/ scheduler/ (the layout of a
        diffusers Stable Diffusion pipeline directory, so an SD1.5 snapshot loads the same way)."""
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
        from transformers import CLIPTextModel, CLIPTokenizer

        d = Path(directory)
        missing = [p for p in BACKBONE_PARTS if not (d / p).is_dir()]
        if missing:
            raise FileNotFoundError(f"backbone directory {d} lacks {', '.join(missing)}")
        # One dtype for every part, float32 unless asked: transformers 5 would otherwise load the
        # text encoder in the dtype it was saved in (float16 for the shipped weights) beside a
        # float32 UNet.
        torch_dtype = torch_dtype or torch.float32
        unet = UNet2DConditionModel.from_pretrained(d / "unet", torch_dtype=torch_dtype, use_safetensors=True)
        vae = AutoencoderKL.from_pretrained(d / "vae", torch_dtype=torch_dtype, use_safetensors=True)
        text_encoder = CLIPTextModel.from_pretrained(d / "text_encoder", dtype=torch_dtype, use_safetensors=True)
        tokenizer = CLIPTokenizer.from_pretrained(d / "tokenizer")
        scheduler = DDPMScheduler.from_pretrained(d / "scheduler")
        return cls(unet, vae, text_encoder, tokenizer, scheduler)

    # ------------------------------------------------------------------ utilities
    def modules(self) -> dict[str, torch.nn.Module]:
        return {"unet": self.unet, "vae": self.vae, "text_encoder": self.text_encoder}

    def to(self, device=None, dtype=None) -> "Backbone":
        kw = {k: v for k, v in (("device", device), ("dtype", dtype)) if v is not None}
        if kw:
            for m in self.modules().values():
                m.to(**kw)
        return self

    def freeze(self) -> "Backbone":
        for m in self.modules().values():
            m.requires_grad_(False)
            m.eval()
        return self

    @property
    def device(self) -> torch.device:
        return self.unet.device

    @property
    def dtype(self) -> torch.dtype:
        return self.unet.dtype

    @property
    def prediction_type(self) -> str:
        return self.scheduler.config.prediction_type

    def ddim(self):
        """The DDIM sampling scheduler matching the training schedule."""
        from diffusers import DDIMScheduler

        cfg = dict(self.scheduler.config)
        zsnr = bool(cfg.get("rescale_betas_zero_snr", False))
        # set_alpha_to_one: the last DDIM step returns the predicted clean sample (no residual noise)
        overrides = dict(clip_sample=False, set_alpha_to_one=True)
        if zsnr:  # zero-terminal SNR needs trailing timesteps so sampling starts at t = T - 1
            overrides.update(timestep_spacing="trailing", steps_offset=0)
        return DDIMScheduler.from_config(cfg, **overrides)

    def tokenize(self, prompts: list[str]) -> torch.Tensor:
        return self.tokenizer(
            list(prompts),
            padding="max_length",
            max_length=self.tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids

    def encode_text(self, prompts: list[str] | torch.Tensor) -> torch.Tensor:
        """(N, seq, dim) CLIP hidden states (grad flows when the text encoder requires it)."""
        ids = prompts if isinstance(prompts, torch.Tensor) else self.tokenize(prompts)
        out = self.text_encoder(ids.to(self.text_encoder.device))
        return out[0]

    def encode_images(self, images: torch.Tensor, sample: bool = False, generator=None) -> torch.Tensor:
        """[-1, 1] images (N, 3, H, W) -> scaled latents (mode of the posterior unless `sample`)."""
        dist = self.vae.encode(images.to(self.vae.device, self.vae.dtype)).latent_dist
        z = dist.sample(generator) if sample else dist.mode()
        return z * self.vae.config.scaling_factor

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latents -> [-1, 1] images."""
        z = latents.to(self.vae.device, self.vae.dtype) / self.vae.config.scaling_factor
        return self.vae.decode(z).sample.clamp(-1, 1)

    def training_target(self, latents, noise, timesteps) -> torch.Tensor:
        """The regression target for the scheduler's prediction type."""
        if self.prediction_type == "epsilon":
            return noise
        if self.prediction_type == "v_prediction":
            return self.scheduler.get_velocity(latents, noise, timesteps)
        raise ValueError(f"unsupported prediction_type {self.prediction_type!r}")

    @property
    def latent_size(self) -> int:
        return int(self.unet.config.sample_size)


def count_params(module: torch.nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())
