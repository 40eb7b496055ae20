"""Train the text-to-image backbone of the synthetic world (tiny / synth presets).

Stages, run in this order into the same EVE checkpoint (`--weights`):
  --stage vae          autoencoder on single frames (MSE + small KL), then sets vae scaling_factor =
                       1/std(latents); creates the checkpoint from the preset if it does not exist yet;
  --stage t2i          UNet (and by default the CLIP text encoder) with the epsilon / v-prediction loss
                       of the preset's DDPM schedule, caption dropout for classifier-free guidance;
  --stage vae_decoder  optional, any time later: more training for the decoder alone (MSE). The
                       encoder and the latent scale stay fixed, so the latents every other part was
                       trained on do not change and those parts stay valid; only decoding sharpens.

    python -m reference.train_backbone --weights runs/synth/model --stage vae --steps 3000
    python -m reference.train_backbone --weights runs/synth/model --stage t2i --steps 20000
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

from reference.backbone import Backbone
from reference.checkpoint import CONFIG_NAME, EVEConfig
from reference.data import batches, make_stream, uint8_to_tensor
from reference.training import FrozenBackboneLoss, TrainConfig, diffusion_noise, run_training, stream_seed


@dataclass
class BackboneTrainConfig(TrainConfig):
    weights: str = "runs/synth/model"
    """EVE checkpoint directory to create / update (backbone/ is written)"""
    preset: Literal["tiny", "synth"] = "synth"
    """architecture used when the checkpoint does not exist yet"""
    stage: Literal["vae", "t2i", "vae_decoder"] = "t2i"
    caption_dropout: float = 0.1
    """probability of an empty caption (classifier-free guidance)"""
    train_text_encoder: bool = True
    style_share: float = 0.25
    """share of training images drawn in a global look of the style task (sepia, sketch, ...), so
    the backbone can render the looks that edit instructions ask for (0: the v4 recipe's t2i steps
    up to 9,000 and its VAE)"""
    kl_weight: float = 1e-6
    model_seed: int = 0
    """seed of the random initialisation of a new checkpoint"""
    output_dir: str = ""
    """training state; default <weights>/../train/backbone_<stage>"""


class VAETrainingModule(torch.nn.Module):
    """Reconstruction (+ KL) loss of the whole autoencoder, or of the decoder alone on the latents
    of a frozen encoder (`decoder_only`; no KL then, the posterior does not move)."""

    def __init__(self, vae, kl_weight: float, decoder_only: bool = False):
        super().__init__()
        self.vae = vae
        self.kl_weight = kl_weight
        self.decoder_only = decoder_only

    def forward(self, batch: dict) -> torch.Tensor:
        p = next(self.vae.parameters())
        x = uint8_to_tensor(batch["image"]).to(p.device, p.dtype)
        with torch.set_grad_enabled(not self.decoder_only and torch.is_grad_enabled()):
            post = self.vae.encode(x).latent_dist
        rec = self.vae.decode(post.sample()).sample
        loss = F.mse_loss(rec.float(), x.float())
        return loss if self.decoder_only else loss + self.kl_weight * post.kl().mean()


class T2ITrainingModule(FrozenBackboneLoss):
    """Text-to-image diffusion loss; the UNet (and optionally the text encoder) are trained."""

    def __init__(self, backbone: Backbone, train_text_encoder: bool = True, caption_dropout: float = 0.1):
        super().__init__(backbone)
        self.unet = backbone.unet
        if train_text_encoder:
            self.text_encoder = backbone.text_encoder
        self.caption_dropout = caption_dropout

    def forward(self, batch: dict) -> torch.Tensor:
        bb = self.backbone
        with torch.no_grad():
            latents = bb.encode_images(uint8_to_tensor(batch["image"]).to(self.device), sample=True).float()
        keep = torch.rand(len(batch["caption"])) >= self.caption_dropout
        captions = [c if k else "" for c, k in zip(batch["caption"], keep.tolist())]
        emb = bb.encode_text(captions)
        noise, t, noisy = diffusion_noise(bb, latents)
        pred = self.unet(noisy, t, encoder_hidden_states=emb, return_dict=False)[0]
        return F.mse_loss(pred.float(), bb.training_target(latents, noise, t).float())


def _load_or_create(cfg: BackboneTrainConfig) -> tuple[Backbone, EVEConfig]:
    w = Path(cfg.weights)
    if (w / CONFIG_NAME).is_file():
        return Backbone.from_pretrained(w / "backbone"), EVEConfig.load(w)
    if cfg.stage != "vae":
        raise FileNotFoundError(f"{w} is not an EVE checkpoint yet: run --stage vae first")
    bb = Backbone.from_preset(cfg.preset, seed=cfg.model_seed)
    config = EVEConfig.from_preset(cfg.preset)
    bb.save_pretrained(w / "backbone")
    config.save(w)
    return bb, config


@torch.no_grad()
def set_latent_scale(vae, images: torch.Tensor) -> float:
    """Set vae.config.scaling_factor so the scaled latents of `images` ([-1, 1]) have unit std."""
    p = next(vae.parameters())
    z = vae.encode(images.to(p.device, p.dtype)).latent_dist.mode()
    scale = float(1.0 / z.float().std().clamp_min(1e-6))
    vae.register_to_config(scaling_factor=scale)
    return scale


def train(cfg: BackboneTrainConfig, stream_fn=None) -> dict:
    """`stream_fn(seed)` -> iterable of dict(image, caption); default: the synthetic world."""
    bb, config = _load_or_create(cfg)
    w = Path(cfg.weights)
    if not cfg.output_dir:
        cfg.output_dir = str(w.parent / "train" / f"backbone_{cfg.stage}")
    if stream_fn is None:
        stream_fn = lambda seed: make_stream("image", seed=seed, size=config.resolution, style_share=cfg.style_share)  # noqa: E731

    if cfg.stage in ("vae", "vae_decoder"):
        decoder_only = cfg.stage == "vae_decoder"
        module = VAETrainingModule(bb.vae, cfg.kl_weight, decoder_only)
        bb.vae.requires_grad_(True)
        if decoder_only:  # the encoder side (and with it every latent) stays as the other parts saw it
            bb.vae.encoder.requires_grad_(False)
            bb.vae.quant_conv.requires_grad_(False)
        if cfg.gradient_checkpointing:
            bb.vae.enable_gradient_checkpointing()

        def export(m):
            extra = {}
            if not decoder_only:
                sample = next(batches(stream_fn(stream_seed(cfg, 10**6)), cfg.batch_size))
                extra["scaling_factor"] = set_latent_scale(m.vae, uint8_to_tensor(sample["image"]))
            m.vae.save_pretrained(w / "backbone" / "vae", safe_serialization=True)
            EVEConfig.record_training(w, cfg.stage, cfg.note(style_share=cfg.style_share, **extra))

        return run_training(cfg, module, stream_fn, export)

    bb.vae.requires_grad_(False).eval()
    bb.unet.requires_grad_(True)
    bb.text_encoder.requires_grad_(cfg.train_text_encoder)
    module = T2ITrainingModule(bb, cfg.train_text_encoder, cfg.caption_dropout)
    if cfg.gradient_checkpointing:
        bb.unet.enable_gradient_checkpointing()
    frozen = [bb.vae] + ([] if cfg.train_text_encoder else [bb.text_encoder])

    def export(m):
        m.unet.save_pretrained(w / "backbone" / "unet", safe_serialization=True)
        if cfg.train_text_encoder:
            m.text_encoder.save_pretrained(w / "backbone" / "text_encoder", safe_serialization=True)
        EVEConfig.record_training(w, "t2i", cfg.note(style_share=cfg.style_share))

    return run_training(cfg, module, stream_fn, export, frozen=frozen)


def main() -> None:
    import tyro

    print(train(tyro.cli(BackboneTrainConfig)))


if __name__ == "__main__":
    main()
