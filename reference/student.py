"""The EVE student φ = [θ, θ_edit, θ_video, θ_align]: both adapters on the frozen backbone plus a
LoRA θ_align that Factorized Diffusion Distillation trains.

θ_align is a peft LoRA named "align" on the *spatial* layers of the motion UNet that the student
runs (`EVEModel.video_unet` holds its own copy of the backbone UNet, so a LoRA on
`backbone.unet` would never reach it). Default targets: the spatial attention projections
(`ALIGN_TARGETS`); the paper gives neither rank nor targets. peft initialises LoRA's B matrices
to zero, so an untrained student *is* plug-and-play, bit for bit.

On disk a student is a folder in the diffusers LoRA format, loadable with diffusers'
`load_lora_adapter` into a stock `UNetMotionModel`:

    <checkpoint>/<name>/pytorch_lora_weights.safetensors   LoRA tensors + peft adapter metadata
    <checkpoint>/<name>/student.json                       how it was trained (FDD config, note)
    <checkpoint>/<name>/edit_adapter/, video_adapter/      only for the random-init ablation,
                                                           which trains its own adapters

`name` is "align" for the shipped student and "align_<variant>" for an ablation, each of training
seed 0; students of other training seeds add "_seed<N>" (`student_folder`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from eve_bench.atomic import atomic_write_text

ADAPTER = "align"
LORA_FILE = "pytorch_lora_weights.safetensors"
STUDENT_FILE = "student.json"
# spatial self- and cross-attention projections, never the motion modules (θ_video stays frozen)
ALIGN_TARGETS = r"^(?!.*motion_modules).*(attn1|attn2)\.(to_q|to_k|to_v|to_out\.0)$"


@dataclass
class Student:
    """What the student runs: a motion UNet carrying the "align" LoRA and a ControlNet.

    For the paper's student both are the checkpoint's own (the teachers' adapters, frozen; the
    video teacher is the same motion UNet with the LoRA off). The random-init ablation has its own
    fresh ControlNet and motion modules, trained with the LoRA."""

    video_unet: torch.nn.Module
    controlnet: torch.nn.Module
    own_adapters: bool = False

    def trainable(self) -> list[torch.nn.Parameter]:
        return [p for m in (self.video_unet, self.controlnet) for p in m.parameters() if p.requires_grad]


def add_align_lora(video_unet, rank: int = 32, alpha: float | None = None, targets: str = ALIGN_TARGETS) -> None:
    """Attach a fresh (zero-output) LoRA "align" to `video_unet`; only its weights require grad."""
    from peft import LoraConfig

    config = LoraConfig(r=rank, lora_alpha=alpha if alpha is not None else rank, target_modules=targets,
                        init_lora_weights=True)
    video_unet.add_adapter(config, adapter_name=ADAPTER)
    n = sum(p.numel() for name, p in video_unet.named_parameters() if f".{ADAPTER}." in name)
    if n == 0:
        raise ValueError(f"the LoRA targets {targets!r} matched no layer of the motion UNet")
    for name, p in video_unet.named_parameters():
        p.requires_grad_(f".{ADAPTER}." in name)


def lora_state_dict(video_unet) -> dict[str, torch.Tensor]:
    """The "align" LoRA in diffusers' key layout (`unet.` prefix added by the saver)."""
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    return convert_state_dict_to_diffusers(get_peft_model_state_dict(video_unet, adapter_name=ADAPTER))


def save_student(student: Student, directory: str | Path, info: dict | None = None) -> None:
    """Write the student in the diffusers LoRA format (with its adapter metadata, so rank and
    alpha survive a load), its own adapters if it has them, and `info` as student.json."""
    from diffusers import StableDiffusionPipeline

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    config = student.video_unet.peft_config[ADAPTER]
    StableDiffusionPipeline.save_lora_weights(
        d, unet_lora_layers={k: v.detach().contiguous() for k, v in lora_state_dict(student.video_unet).items()},
        weight_name=LORA_FILE, unet_lora_adapter_metadata=config.to_dict(),
    )
    if student.own_adapters:
        from reference.video_adapter import extract_motion_adapter

        student.controlnet.save_pretrained(d / "edit_adapter", safe_serialization=True)
        adapter_config = info.get("motion_adapter_config") if info else None
        if adapter_config is None:
            raise ValueError("a student with its own adapters needs info['motion_adapter_config'] to save them")
        extract_motion_adapter(student.video_unet, adapter_config).save_pretrained(d / "video_adapter",
                                                                                 safe_serialization=True)
    atomic_write_text(d / STUDENT_FILE, json.dumps(info or {}, indent=2, default=str) + "\n")


def load_lora(video_unet, directory: str | Path) -> None:
    """Load a saved "align" LoRA into a motion UNet (ours or a stock diffusers one)."""
    video_unet.load_lora_adapter(str(directory), prefix="unet", weight_name=LORA_FILE, adapter_name=ADAPTER)


def student_info(directory: str | Path) -> dict:
    path = Path(directory) / STUDENT_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


VARIANTS = ("eve", "random_init", "no_sds", "no_disc", "no_kbin")  # the paper's Table 2 rows


def student_folder(variant: str = "eve", seed: int = 0) -> str:
    """The checkpoint folder of a student: "align" for EVE, "align_<variant>" for an ablation, each
    of training seed 0 (the default students); "<that>_seed<N>" for another training seed."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown student variant {variant!r}; known: {', '.join(VARIANTS)}")
    if int(seed) < 0:
        raise ValueError(f"a training seed is >= 0, got {seed}")
    folder = ADAPTER if variant == "eve" else f"{ADAPTER}_{variant}"
    return folder if int(seed) == 0 else f"{folder}_seed{int(seed)}"


def attach_student(model, own_adapters: bool = False, rank: int = 32, alpha: float | None = None,
                   targets: str = ALIGN_TARGETS) -> Student:
    """A fresh student (zero LoRA) on `model` (an EVEModel with both adapters), to train.

    `own_adapters`: fresh copies of the adapters (the random-init ablation: a ControlNet copied from
    the backbone UNet, identity motion modules), trained with the LoRA, while the checkpoint's
    adapters stay the teachers."""
    from reference.edit_adapter import build_edit_adapter
    from reference.presets import get_preset
    from reference.video_adapter import build_motion_adapter, build_video_unet

    bb = model.backbone
    if own_adapters:
        preset = get_preset(model.config.preset)
        controlnet = build_edit_adapter(bb.unet, preset.edit).to(bb.device, bb.dtype)
        motion = build_motion_adapter(preset.motion or dict(model.video_adapter.config)).to(bb.device, bb.dtype)
        video_unet = build_video_unet(bb.unet, motion, freeze_backbone=True)
    else:
        controlnet, video_unet = model.edit_adapter, model.video_unet
    add_align_lora(video_unet, rank, alpha, targets)
    if own_adapters:
        controlnet.requires_grad_(True)
        for name, p in video_unet.named_parameters():
            if "motion_modules" in name:
                p.requires_grad_(True)
    return Student(video_unet, controlnet, own_adapters=own_adapters)


def load_student(model, directory: str | Path):
    """`model` (an EVEModel with both adapters) as the saved student in `directory`: its LoRA in the
    video UNet (switched on by `align=True` in `reference.predict`), and the student's own adapters
    in place of the checkpoint's where the student has them (random init). Returns the EVEModel to
    sample from."""
    from diffusers import ControlNetModel, MotionAdapter

    from reference.checkpoint import EVEModel

    d = Path(directory)
    if not (d / LORA_FILE).is_file():
        raise FileNotFoundError(f"{d} holds no student ({LORA_FILE}); train one with `python -m reference.train_fdd`")
    bb = model.backbone
    if (d / "edit_adapter" / "config.json").is_file():
        model = EVEModel(bb, ControlNetModel.from_pretrained(d / "edit_adapter", torch_dtype=bb.dtype, use_safetensors=True),
                         MotionAdapter.from_pretrained(d / "video_adapter", torch_dtype=bb.dtype, use_safetensors=True),
                         model.config).freeze().to(bb.device)
    if ADAPTER in (getattr(model.video_unet, "peft_config", None) or {}):
        model.video_unet.delete_adapters(ADAPTER)
    load_lora(model.video_unet, d)
    model.video_unet.requires_grad_(False)
    return model
