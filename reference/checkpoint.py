"""One EVE checkpoint directory holding the backbone and both adapters.

Layout (every model part in diffusers / transformers format, weights as safetensors)::

    <dir>/eve_config.json          EVEConfig (preset, resolution, wiring flags, optional part paths)
    <dir>/backbone/unet/           UNet2DConditionModel.save_pretrained
    <dir>/backbone/vae/            AutoencoderKL.save_pretrained
    <dir>/backbone/text_encoder/   CLIPTextModel.save_pretrained
    <dir>/backbone/tokenizer/      CLIPTokenizer.save_pretrained
    <dir>/backbone/scheduler/      DDPMScheduler.save_pretrained (DDIM for sampling is derived)
    <dir>/edit_adapter/            ControlNetModel.save_pretrained   (optional until trained)
    <dir>/video_adapter/           MotionAdapter.save_pretrained     (optional until trained)

`eve_config.json` may name a part elsewhere instead (`backbone_path`, `edit_adapter_path`,
`video_adapter_path`; absolute or relative to <dir>), which is how an sd15 checkpoint points at
local copies of Stable Diffusion 1.5, control_v11e_sd15_ip2p and an AnimateDiff motion adapter.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

from eve_bench.atomic import atomic_write_text
from reference.backbone import Backbone, count_params
from reference.edit_adapter import build_edit_adapter
from reference.presets import get_preset
from reference.video_adapter import build_motion_adapter, build_video_unet

CONFIG_NAME = "eve_config.json"
FORMAT = "eve-reference-checkpoint"

# The sampling settings a baseline starts from (InstructPix2Pix's image guidance 1.5, the paper's
# SDEdit strength 0.75) where the checkpoint's own `sampling` entry (EVEConfig) says nothing, as
# transformers' generation_config: model args override both.
# first_frame_steps None: as many as steps
SAMPLING_DEFAULTS = {"steps": 20, "first_frame_steps": None, "guidance_scale": 5.0, "image_guidance_scale": 1.5,
                     "strength": 0.75}
BASELINES = ("per_frame_edit", "video_sdedit", "plug_and_play", "eve")  # keys of per-model sampling settings


def tuned_sampling(sampling: dict, baseline: str, where: str = "checkpoint") -> dict:
    """A checkpoint's sampling settings for one baseline: its flat keys, then those under the
    baseline's own key (e.g. "per_frame_edit"), which win. The two teachers are separate models,
    so a text guidance tuned for the edit teacher need not suit the video teacher."""
    nested = [k for k in BASELINES if not isinstance(sampling.get(k, {}), dict)]
    if nested:
        raise ValueError(f"{where}: eve_config.json sampling entry {nested[0]!r} must hold settings, e.g. "
                         f'{{"guidance_scale": 3.0}}')
    flat = {k: v for k, v in sampling.items() if k not in BASELINES}
    keys = set(flat).union(*(sampling.get(k, {}) for k in BASELINES))  # all checked, whichever baseline loads
    unknown = sorted(keys - set(SAMPLING_DEFAULTS))
    if unknown:
        raise ValueError(f"{where}: eve_config.json sampling has unknown key(s) {', '.join(unknown)}; "
                         f"known: {', '.join(SAMPLING_DEFAULTS)}, or one of {', '.join(BASELINES)} holding them")
    return {**flat, **sampling.get(baseline, {})}


@dataclass(frozen=True)
class AdapterPart:
    """An adapter of the checkpoint: its folder (and `EVEModel` attribute), its diffusers class and
    the entry point that trains it. The one list of them is `ADAPTERS`."""

    name: str
    diffusers_class: str
    trainer: str

    @property
    def path_key(self) -> str:
        return f"{self.name}_path"  # where eve_config.json may point elsewhere


ADAPTERS = (
    AdapterPart("edit_adapter", "ControlNetModel", "reference.train_edit_adapter"),
    AdapterPart("video_adapter", "MotionAdapter", "reference.train_video_adapter"),
)
# what save_pretrained writes; a student (reference.student) lives beside them in align*/
SAVED_PARTS = ("backbone", *(a.name for a in ADAPTERS), CONFIG_NAME)


@dataclass
class EVEConfig:
    preset: str = "tiny"
    resolution: int = 32  # square working resolution of the frames (pixels)
    num_frames: int = 4  # video-adapter window (training clip length)
    edit_condition: str = "latent"  # "latent" or "pixel" (how the ControlNet sees the input image)
    task_label: bool = True  # prefix the task label to the ControlNet instruction
    first_frame_conditioning: bool = True  # video adapter trained with a clean first frame
    backbone_path: str | None = None  # part locations when not in the default layout
    edit_adapter_path: str | None = None
    video_adapter_path: str | None = None
    format: str = FORMAT
    format_version: int = 1
    notes: dict = field(default_factory=dict)  # free-form provenance (training commands, seeds)
    # the sampling settings this checkpoint was tuned for (keys of SAMPLING_DEFAULTS,
    # for every baseline, or under a baseline's name for that one), as transformers'
    # generation_config: the baselines start from them, model args override them
    sampling: dict = field(default_factory=dict)

    @classmethod
    def from_preset(cls, name: str) -> "EVEConfig":
        p = get_preset(name)
        return cls(
            preset=p.name,
            resolution=p.resolution,
            num_frames=p.num_frames,
            edit_condition=p.edit.get("condition", "latent"),
            task_label=name != "sd15",
            first_frame_conditioning=p.first_frame_conditioning,
        )

    def save(self, directory: str | Path) -> None:
        atomic_write_text(Path(directory) / CONFIG_NAME, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def record_training(
        cls, directory: str | Path, part: str, note: dict, default_layout: bool = False, continued: bool = False
    ) -> None:
        """Note how `part` was trained in the checkpoint's config; `default_layout`: the part was just
        written at its default place, so a `<part>_path` pointing elsewhere is dropped.

        `continued`: the run started from the very weights this part held, so the part's earlier
        note is kept as the new note's "continued_from" (chained segments keep their whole lineage).
        A note from the same run (the same "run_id"; without one, the same "run" folder), an earlier
        export of it, is replaced, not chained.

        Read-modify-write under an exclusive lock: the two adapters may train side by side on one
        checkpoint and finish at the same moment, and neither note may be lost."""
        with _exclusive(Path(directory) / (CONFIG_NAME + ".lock")):
            config = cls.load(directory)
            old = config.notes.get(part)
            if old and "run_id" in old:
                same_run = old["run_id"] == note.get("run_id")
            else:  # an export made before run ids: the same run folder
                same_run = bool(old) and note.get("run") is not None and old.get("run") == note["run"]
            if same_run:
                old = old.get("continued_from")
            if continued and old:
                note = {**note, "continued_from": old}
            config.notes[part] = note
            if default_layout:
                setattr(config, f"{part}_path", None)
            config.save(directory)

    @classmethod
    def load(cls, directory: str | Path) -> "EVEConfig":
        path = Path(directory) / CONFIG_NAME
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: {directory} is not an EVE reference checkpoint")
        data = json.loads(path.read_text())
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@contextlib.contextmanager
def _exclusive(lock_path: Path):
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock, as before
        yield
        return
    with open(lock_path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class EVEModel:
    """The frozen backbone plus (optionally) the edit adapter and the video adapter."""

    def __init__(self, backbone: Backbone, edit_adapter=None, video_adapter=None, config: EVEConfig | None = None):
        self.backbone = backbone
        self.edit_adapter = edit_adapter
        self.video_adapter = video_adapter
        self.config = config or EVEConfig()
        self._video_unet = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_preset(cls, preset: str = "tiny", seed: int = 0, edit: bool = True, video: bool = True) -> "EVEModel":
        p = get_preset(preset)
        backbone = Backbone.from_preset(p, seed=seed)
        torch.manual_seed(seed + 1)
        edit_adapter = build_edit_adapter(backbone.unet, p.edit) if edit else None
        torch.manual_seed(seed + 2)
        video_adapter = build_motion_adapter(p.motion) if video else None
        return cls(backbone, edit_adapter, video_adapter, EVEConfig.from_preset(preset))

    @property
    def video_unet(self):
        """The backbone UNet inflated with the video adapter (built once, frozen)."""
        if self.video_adapter is None:
            raise RuntimeError("this checkpoint has no video adapter (train it: python -m reference.train_video_adapter)")
        if self._video_unet is None:
            self._video_unet = build_video_unet(self.backbone.unet, self.video_adapter)
            self._video_unet.requires_grad_(False).eval()
        return self._video_unet

    def reset_video_unet(self) -> None:
        self._video_unet = None

    def adapters(self) -> dict[str, torch.nn.Module | None]:
        return {a.name: getattr(self, a.name) for a in ADAPTERS}

    def to(self, device=None, dtype=None) -> "EVEModel":
        self.backbone.to(device, dtype)
        kw = {k: v for k, v in (("device", device), ("dtype", dtype)) if v is not None}
        for m in (*self.adapters().values(), self._video_unet):
            if m is not None and kw:
                m.to(**kw)
        return self

    def freeze(self) -> "EVEModel":
        self.backbone.freeze()
        for m in self.adapters().values():
            if m is not None:
                m.requires_grad_(False).eval()
        return self

    def param_counts(self) -> dict[str, int]:
        counts = {k: count_params(m) for k, m in self.backbone.modules().items()}
        counts.update({k: count_params(m) for k, m in self.adapters().items()})
        counts["total"] = sum(counts.values())
        return counts

    # ------------------------------------------------------------------ IO
    def save_pretrained(self, directory: str | Path) -> None:
        """Write every present part in the default layout (part paths are not kept)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.backbone.save_pretrained(d / "backbone")
        for name, m in self.adapters().items():
            if m is not None:
                m.save_pretrained(d / name, safe_serialization=True)
        paths = {"backbone_path": None, **{a.path_key: None for a in ADAPTERS}}
        EVEConfig(**{**asdict(self.config), **paths}).save(d)

    @classmethod
    def from_pretrained(
        cls,
        directory: str | Path,
        device: str | torch.device | None = None,
        torch_dtype: torch.dtype | None = None,
        require: tuple[str, ...] = (),
    ) -> "EVEModel":
        """Load a checkpoint; `require` names adapters ("edit_adapter", "video_adapter") that must exist."""
        import diffusers

        d = Path(directory)
        config = EVEConfig.load(d)
        where = part_paths(d, config)
        torch_dtype = torch_dtype or torch.float32  # as stored would mix dtypes (see Backbone.from_pretrained)
        backbone = Backbone.from_pretrained(where["backbone"], torch_dtype=torch_dtype)
        kw = {"torch_dtype": torch_dtype}
        parts = {}
        for a in ADAPTERS:
            path = where[a.name]
            if (path / "config.json").is_file():
                parts[a.name] = getattr(diffusers, a.diffusers_class).from_pretrained(path, **kw, use_safetensors=True)
            elif a.name in require:
                raise FileNotFoundError(
                    f"{d} has no {a.name} (expected a diffusers model directory at {path}); "
                    f"train it with `python -m {a.trainer} --weights {d}` or point "
                    f"{a.path_key} in {CONFIG_NAME} at one"
                )
            else:
                parts[a.name] = None
        model = cls(backbone, config=config, **parts).freeze()
        if device is not None:
            model.to(device)
        return model


def part_paths(directory: str | Path, config: EVEConfig | None = None) -> dict[str, Path]:
    """Where each part of a checkpoint lies: its default folder, or the path eve_config.json names
    (relative to the checkpoint unless absolute)."""
    d = Path(directory)
    config = config or EVEConfig.load(d)
    out = {}
    for name in ("backbone", *(a.name for a in ADAPTERS)):
        value = getattr(config, f"{name}_path")
        out[name] = (d / value if not Path(value).is_absolute() else Path(value)) if value else d / name
    return out


def load_sd15(
    base: str | Path,
    edit_adapter: str | Path | None = None,
    video_adapter: str | Path | None = None,
    torch_dtype: torch.dtype | None = None,
    task_label: bool = False,
) -> EVEModel:
    """Stable Diffusion 1.5 from a local diffusers directory (unet/ vae/ text_encoder/ tokenizer/
    scheduler/) with the public adapters in their published diffusers formats: `edit_adapter` a
    `ControlNetModel` directory (lllyasviel/control_v11e_sd15_ip2p, pixel-conditioned) and
    `video_adapter` a `MotionAdapter` directory (guoyww/animatediff-motion-adapter-v1-5-2 / -3).
    Nothing is downloaded. Save it with `save_pretrained` for a self-contained checkpoint, or
    write an eve_config.json with the three paths (see `write_sd15_config`)."""
    from diffusers import ControlNetModel, MotionAdapter

    kw = {} if torch_dtype is None else {"torch_dtype": torch_dtype}
    backbone = Backbone.from_pretrained(base, torch_dtype=torch_dtype)
    cn = ControlNetModel.from_pretrained(edit_adapter, **kw, use_safetensors=True) if edit_adapter else None
    ma = MotionAdapter.from_pretrained(video_adapter, **kw, use_safetensors=True) if video_adapter else None
    config = EVEConfig.from_preset("sd15")
    config.task_label = task_label
    config.resolution = _native_resolution(dict(backbone.unet.config), dict(backbone.vae.config))
    if cn is not None:
        cfg = dict(cn.config)
        config.edit_condition = "latent" if cfg.get("conditioning_channels", 3) == backbone.vae.config.latent_channels and len(cfg.get("conditioning_embedding_out_channels") or ()) == 1 else "pixel"
    return EVEModel(backbone, cn, ma, config).freeze()


def write_sd15_config(directory: str | Path, base: str, edit_adapter: str | None, video_adapter: str | None) -> EVEConfig:
    """An sd15 checkpoint that only points at local part directories (no weight copies)."""
    config = EVEConfig.from_preset("sd15")
    config.backbone_path, config.edit_adapter_path, config.video_adapter_path = base, edit_adapter, video_adapter
    root = Path(directory) / base if not Path(base).is_absolute() else Path(base)
    unet_cfg = json.loads((root / "unet" / "config.json").read_text())
    vae_cfg = json.loads((root / "vae" / "config.json").read_text())
    config.resolution = _native_resolution(unet_cfg, vae_cfg)
    config.save(directory)
    return config


def _native_resolution(unet_cfg: dict, vae_cfg: dict) -> int:
    """Pixel size the backbone was built for: UNet sample_size x VAE downsampling (512 for SD1.5)."""
    return int(unet_cfg["sample_size"]) * 2 ** (len(vae_cfg["block_out_channels"]) - 1)
