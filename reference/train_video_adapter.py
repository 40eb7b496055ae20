"""Train the video adapter θ_video (AnimateDiff-style temporal layers) on the frozen backbone.

Data: captioned clips. Only the motion modules train (zero-initialised `proj_out`, so training
starts from the per-frame backbone). With first-frame conditioning (the checkpoint's
`first_frame_conditioning`), frame 0 of each clip is given clean and is not supervised, except in
a `first_frame_dropout` share of clips that are plain text-to-video. The result is written to
<weights>/video_adapter/ as a diffusers MotionAdapter.

    python -m reference.train_video_adapter --weights runs/synth/model --steps 20000
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from reference.backbone import Backbone
from reference.checkpoint import EVEConfig
from reference.data import make_stream, uint8_to_tensor
from reference.presets import get_preset
from reference.training import FrozenBackboneLoss, TrainConfig, continues_part, diffusion_noise, record_adapter, run_training
from reference.video_adapter import (
    build_motion_adapter,
    build_video_unet,
    default_motion_config,
    extract_motion_adapter,
    motion_forward,
)


@dataclass
class VideoTrainConfig(TrainConfig):
    weights: str = "runs/synth/model"
    """EVE checkpoint with a trained backbone; video_adapter/ is written into it"""
    init_adapter: str | None = None
    """start from this MotionAdapter directory (e.g. an AnimateDiff adapter) instead of zero-init"""
    batch_size: int = 4
    num_frames: int | None = None
    """clip length (default: the checkpoint's num_frames)"""
    caption_dropout: float = 0.1
    first_frame_dropout: float = 0.25
    """share of clips trained without first-frame conditioning (plain text-to-video)"""
    style_share: float = 0.25
    """share of clips drawn in a global look of the style task (as for the backbone's images)"""
    output_dir: str = ""
    """training state; default <weights>/../train/video_adapter"""


class VideoTrainingModule(FrozenBackboneLoss):
    def __init__(self, backbone: Backbone, video_unet, first_frame_conditioning: bool,
                 first_frame_dropout: float = 0.25, caption_dropout: float = 0.1):
        super().__init__(backbone)
        self.video_unet = video_unet
        self.first_frame_conditioning = first_frame_conditioning
        self.first_frame_dropout = first_frame_dropout
        self.caption_dropout = caption_dropout

    def forward(self, batch: dict) -> torch.Tensor:
        bb = self.backbone
        device = self.device
        video = uint8_to_tensor(batch["video"])  # (B, T, 3, H, W)
        b, f = video.shape[:2]
        with torch.no_grad():
            lat = bb.encode_images(video.flatten(0, 1).to(device), sample=True).float()
            latents = lat.reshape(b, f, *lat.shape[1:]).permute(0, 2, 1, 3, 4)  # (B, C, F, h, w)
            keep = torch.rand(b) >= self.caption_dropout
            emb = bb.encode_text([c if k else "" for c, k in zip(batch["caption"], keep.tolist())])
        noise, t, noisy = diffusion_noise(bb, latents)
        mask = torch.ones(b, 1, f, 1, 1, device=device)
        if self.first_frame_conditioning:
            cond = (torch.rand(b) >= self.first_frame_dropout).to(device)
            noisy = noisy.clone()
            noisy[cond, :, 0] = latents[cond, :, 0]
            mask[cond, :, 0] = 0
        pred = motion_forward(self.video_unet, noisy, t, emb)
        err = (pred.float() - bb.training_target(latents, noise, t).float()) ** 2
        return (err * mask).sum() / (mask.sum() * err.shape[1] * err.shape[3] * err.shape[4])


def make_module(backbone: Backbone, config: EVEConfig, adapter=None, first_frame_dropout: float = 0.25,
                caption_dropout: float = 0.1):
    """(module, adapter_config): the video UNet with only its motion modules trainable."""
    if adapter is None:
        motion_cfg = get_preset(config.preset).motion or default_motion_config(backbone.unet)
        adapter = build_motion_adapter(motion_cfg)
    backbone.freeze()
    video_unet = build_video_unet(backbone.unet, adapter, freeze_backbone=True)
    module = VideoTrainingModule(backbone, video_unet, config.first_frame_conditioning, first_frame_dropout, caption_dropout)
    return module, adapter.config


def train(cfg: VideoTrainConfig, stream_fn=None) -> dict:
    """`stream_fn(seed)` -> iterable of dict(video, caption); default: the synthetic world."""
    from diffusers import MotionAdapter

    w = Path(cfg.weights)
    config = EVEConfig.load(w)
    bb = Backbone.from_pretrained(w / (config.backbone_path or "backbone"))
    adapter = MotionAdapter.from_pretrained(cfg.init_adapter, use_safetensors=True) if cfg.init_adapter else None
    module, adapter_config = make_module(bb, config, adapter, cfg.first_frame_dropout, cfg.caption_dropout)
    if cfg.gradient_checkpointing:
        module.video_unet.enable_gradient_checkpointing()
    if not cfg.output_dir:
        cfg.output_dir = str(w.parent / "train" / "video_adapter")
    num_frames = cfg.num_frames or config.num_frames
    if stream_fn is None:
        stream_fn = lambda seed: make_stream("clip", seed=seed, size=config.resolution, num_frames=num_frames, style_share=cfg.style_share)  # noqa: E731

    def export(m):
        extract_motion_adapter(m.video_unet, adapter_config).save_pretrained(w / "video_adapter", safe_serialization=True)
        record_adapter(w, "video_adapter", cfg, cfg.init_adapter, num_frames=num_frames,
                       first_frame_dropout=cfg.first_frame_dropout, style_share=cfg.style_share)

    return run_training(cfg, module, stream_fn, export, frozen=[bb.vae, bb.text_encoder],
                        run_facts=continues_part(w, "video_adapter", cfg.init_adapter))


def main() -> None:
    import tyro

    print(train(tyro.cli(VideoTrainConfig)))


if __name__ == "__main__":
    main()
