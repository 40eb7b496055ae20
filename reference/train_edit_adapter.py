"""Train the image-editing adapter θ_edit (a ControlNet) on the frozen backbone.

Data: edit triplets (source image, instruction, target image, target caption, task). The backbone
sees the target caption, the ControlNet the source image and the instruction (task-label prefixed
when the checkpoint says so); IP2P-style condition dropout (text / image / both) so the teacher
supports 3-way classifier-free guidance. The result is written to <weights>/edit_adapter/.

    python -m reference.train_edit_adapter --weights runs/synth/model --steps 20000
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

from reference.backbone import Backbone
from reference.checkpoint import EVEConfig
from reference.data import make_stream, uint8_to_tensor
from reference.edit_adapter import build_edit_adapter, condition_dropout_masks, edit_condition, edit_forward, instruction_text
from reference.presets import get_preset
from reference.training import FrozenBackboneLoss, TrainConfig, continues_part, diffusion_noise, record_adapter, run_training


@dataclass
class EditTrainConfig(TrainConfig):
    weights: str = "runs/synth/model"
    """EVE checkpoint with a trained backbone; edit_adapter/ is written into it"""
    init_adapter: str | None = None
    """start from this ControlNet directory (e.g. control_v11e_sd15_ip2p) instead of from_unet"""
    condition_dropout: float = 0.05
    """p of each of: drop text, drop image, drop both (IP2P-style)"""
    tasks: tuple[str, ...] | None = None
    """restrict the synthetic edit tasks"""
    target_latents: Literal["sample", "mode"] = "sample"
    """the target image's VAE latent: a draw from its posterior, or the posterior mode. With the
    mode, what the edit leaves alone has one right answer (the source's mode, which the ControlNet
    sees); with draws, the teacher also learns to re-draw the posterior noise there, and its
    samples drift from the source outside the edit"""
    output_dir: str = ""
    """training state; default <weights>/../train/edit_adapter"""


class EditTrainingModule(FrozenBackboneLoss):
    def __init__(self, backbone: Backbone, controlnet, condition: str, task_label: bool, condition_dropout: float,
                 target_latents: str = "sample"):
        super().__init__(backbone)
        if target_latents not in ("sample", "mode"):
            raise ValueError(f"target_latents must be 'sample' or 'mode', got {target_latents!r}")
        self.sample_targets = target_latents == "sample"
        self.controlnet = controlnet
        self.condition = condition
        self.task_label = task_label
        self.condition_dropout = condition_dropout

    def forward(self, batch: dict) -> torch.Tensor:
        bb = self.backbone
        device = self.device
        n = len(batch["instruction"])
        drop_text, drop_image = condition_dropout_masks(n, self.condition_dropout)
        instr = [
            "" if d else instruction_text(i, t, self.task_label)
            for i, t, d in zip(batch["instruction"], batch.get("task", [None] * n), drop_text.tolist())
        ]
        caps = ["" if d else c for c, d in zip(batch["target_caption"], drop_text.tolist())]
        with torch.no_grad():
            latents = bb.encode_images(uint8_to_tensor(batch["target"]).to(device), sample=self.sample_targets).float()
            cond = edit_condition(bb, uint8_to_tensor(batch["source"]).to(device), self.condition).float()
            cond = cond * (~drop_image).to(device, cond.dtype).view(-1, 1, 1, 1)
            instr_emb = bb.encode_text(instr)
            cap_emb = bb.encode_text(caps)
        noise, t, noisy = diffusion_noise(bb, latents)
        pred = edit_forward(bb.unet, self.controlnet, noisy, t, cap_emb, instr_emb, cond)
        return F.mse_loss(pred.float(), bb.training_target(latents, noise, t).float())


def make_module(backbone: Backbone, config: EVEConfig, controlnet=None, condition_dropout: float = 0.05,
                target_latents: str = "sample"):
    if controlnet is None:
        edit_cfg = get_preset(config.preset).edit
        controlnet = build_edit_adapter(backbone.unet, edit_cfg)
    backbone.freeze()
    controlnet.requires_grad_(True).train()
    return EditTrainingModule(backbone, controlnet, config.edit_condition, config.task_label, condition_dropout, target_latents)


def train(cfg: EditTrainConfig, stream_fn=None) -> dict:
    """`stream_fn(seed)` -> iterable of edit-triplet dicts; default: the synthetic world."""
    from diffusers import ControlNetModel

    w = Path(cfg.weights)
    config = EVEConfig.load(w)
    bb = Backbone.from_pretrained(w / (config.backbone_path or "backbone"))
    controlnet = ControlNetModel.from_pretrained(cfg.init_adapter, use_safetensors=True) if cfg.init_adapter else None
    module = make_module(bb, config, controlnet, cfg.condition_dropout, cfg.target_latents)
    if cfg.gradient_checkpointing:
        module.controlnet.enable_gradient_checkpointing()
    if not cfg.output_dir:
        cfg.output_dir = str(w.parent / "train" / "edit_adapter")
    if stream_fn is None:
        kw = {"tasks": list(cfg.tasks)} if cfg.tasks else {}
        stream_fn = lambda seed: make_stream("edit", seed=seed, size=config.resolution, **kw)  # noqa: E731

    def export(m):
        m.controlnet.save_pretrained(w / "edit_adapter", safe_serialization=True)
        record_adapter(w, "edit_adapter", cfg, cfg.init_adapter, condition_dropout=cfg.condition_dropout,
                       target_latents=cfg.target_latents)

    return run_training(cfg, module, stream_fn, export, frozen=[bb.unet, bb.vae, bb.text_encoder],
                        run_facts=continues_part(w, "edit_adapter", cfg.init_adapter))


def main() -> None:
    import tyro

    print(train(tyro.cli(EditTrainConfig)))


if __name__ == "__main__":
    main()
