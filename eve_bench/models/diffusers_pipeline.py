"""Any diffusers editing pipeline as an eve-bench model: `--model diffusers --model-args path=DIR,...`.

`path` is a pipeline folder or a hub id in the local Hugging Face cache (never downloaded, see
hub_weights.py); its class comes from `model_index.json` unless `pipeline=ClassName` is given (an
SD-1.5 folder loaded as AnimateDiffVideoToVideoPipeline, a Wan text-to-video folder as
WanVideoToVideoPipeline). FAMILIES says, per pipeline class, how an EditRequest becomes a call:
which prompt it takes (the instruction, or the target caption for SDEdit-style pipelines that
re-noise the source to `strength`), whether it edits frames one by one or clips, and the call
defaults. Every other model arg that the pipeline's `__call__` names (`num_inference_steps`,
`guidance_scale`, `image_guidance_scale`, `strength`, `negative_prompt`, ...) is passed on under that
name; the adapter's own are:

- `path`, `pipeline`, and a family's extra components (`motion_adapter=DIR_OR_HUB_ID`);
- `precision` (fp32 / bf16 / fp16; default fp32 on CPU, the family's choice on a GPU);
- `resolution` (short side of the working size, aspect kept, rounded to what the model can take)
  or `height` + `width`; frames are resized to it and the result back to the source size;
- `window`, `overlap`, `anchor` (video families): a clip longer than `window` frames is edited in
  windows sharing `overlap` frames, crossfaded where they overlap; with `anchor` each window's
  shared frames are the previous window's edited frames, so SDEdit carries the edit on;
  `frame_batch` (per-frame families): frames per call;
- memory: `cpu_offload` ("model" or "sequential", needs an accelerator), `vae_slicing`,
  `vae_tiling`, `attention_slicing` (true or a slice size).

The seed is the request's: one CPU generator per request, so a result is a deterministic function
of the request on any device.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eve_bench.models.base import EditRequest
from eve_bench.encoders.precision import torch_dtype as precision_dtype
from eve_bench.models.hub_weights import Source, locate
from eve_bench.video import Video


@dataclass(frozen=True)
class Family:
    """How one kind of pipeline is called. `defaults` are call arguments under their diffusers names."""

    prompt: str  # "instruction" or "target_caption"
    per_frame: bool  # an image pipeline applied to every frame, or a video pipeline on windows
    defaults: dict
    resolution: int  # default short side of the working size: what the weights were trained at
    window: int = 1  # video: frames per pass; per-frame: frames per call
    overlap: int = 0
    anchor: bool = False
    gpu_precision: str = "fp16"
    num_frames_arg: bool = False  # the call needs num_frames (it does not read it from the video)
    float32_vae: bool = False  # the VAE stays float32 under a half precision (the model's own recipe)
    components: dict = field(default_factory=dict)  # extra model arg -> diffusers class, loaded from its own folder


FAMILIES: dict[str, Family] = {
    # InstructPix2Pix (Brooks et al. 2023): the paper's text / image guidance 7.5 / 1.5; 50 steps, as
    # Text2Video-Zero's Video-InstructPix2Pix runs it (the pipeline's default is 100).
    "StableDiffusionInstructPix2PixPipeline": Family(
        prompt="instruction", per_frame=True, resolution=512, window=8,
        defaults={"num_inference_steps": 50, "guidance_scale": 7.5, "image_guidance_scale": 1.5}),
    # SDEdit (Meng et al. 2022) with AnimateDiff's motion modules on SD-1.5: EVE's SDEdit baseline,
    # noise level 0.75. The motion modules were trained on 16-frame clips at 512 px.
    "AnimateDiffVideoToVideoPipeline": Family(
        prompt="target_caption", per_frame=False, resolution=512, window=16, overlap=4, anchor=True,
        defaults={"strength": 0.75, "num_inference_steps": 50, "guidance_scale": 7.5},
        components={"motion_adapter": "MotionAdapter"}),
    # SDEdit with Wan 2.1 (flow matching): same strength; Wan's own guidance 5.0; 81 frames at 480p
    # is what it was trained on. bfloat16 with the VAE in float32, as Wan's model card loads it.
    "WanVideoToVideoPipeline": Family(
        prompt="target_caption", per_frame=False, resolution=480, window=81, overlap=8, anchor=True,
        defaults={"strength": 0.75, "num_inference_steps": 50, "guidance_scale": 5.0},
        gpu_precision="bf16", float32_vae=True),
    # Lucy-Edit (Decart 2025): instruction-guided, conditioned on the whole source clip; its card's
    # 50 steps and guidance 5.0. Not anchored: its condition is the source, and an edited frame as
    # the source would be edited twice.
    "LucyEditPipeline": Family(
        prompt="instruction", per_frame=False, resolution=480, window=81, overlap=8,
        defaults={"num_inference_steps": 50, "guidance_scale": 5.0},
        gpu_precision="bf16", num_frames_arg=True, float32_vae=True),
}

# Set by the adapter from the request and its own args, never taken from model args.
_MANAGED = {"prompt", "image", "video", "generator", "output_type", "return_dict", "num_frames", "latents",
            "callback_on_step_end", "num_images_per_prompt", "num_videos_per_prompt"}


def _pipeline_class(folder: Path, name: str | None) -> str:
    if name:
        return name
    index = folder / "model_index.json"
    if not index.is_file():
        raise ValueError(f"{folder} has no model_index.json: not a diffusers pipeline folder; pass pipeline=ClassName")
    return json.loads(index.read_text())["_class_name"]


def _index_components(folder: Path) -> set[str]:
    index = folder / "model_index.json"
    if not index.is_file():
        return set()
    return {k for k, v in json.loads(index.read_text()).items() if isinstance(v, list) and v[0] is not None}


class DiffusersEditor:
    """A loaded pipeline plus how to call it; see the module docstring for its model args."""

    def __init__(self, path: str, pipeline: str | None = None, *, device: str | None = None, precision: str | None = None,
                 resolution: int | None = None, height: int | None = None, width: int | None = None,
                 window: int | None = None, overlap: int | None = None, anchor: bool | None = None,
                 frame_batch: int | None = None, cpu_offload: str | bool = False, vae_slicing: bool = False,
                 vae_tiling: bool = False, attention_slicing: bool | int = False, **call_args):
        if pipeline is not None and pipeline not in FAMILIES:
            raise ValueError(_unsupported(pipeline))
        extra = {k: call_args.pop(k) for k in list(call_args) if any(k in f.components for f in FAMILIES.values())}
        sources = [Source("path", str(path))] + [Source(k, str(v), pipeline=False) for k, v in extra.items()]
        folders = locate(sources)  # missing weights: an error before torch and diffusers load
        name = _pipeline_class(folders["path"], pipeline)
        if name not in FAMILIES:
            raise ValueError(_unsupported(name))
        self.family = family = FAMILIES[name]
        stray = sorted(set(extra) - set(family.components))
        if stray:
            raise ValueError(f"{', '.join(stray)}: not a component of {name}")
        # A component the folder holds itself (a saved AnimateDiff pipeline has its motion_adapter/) need not be given.
        missing = sorted(set(family.components) - set(extra) - _index_components(folders["path"]))
        if missing:
            raise ValueError(f"{name} needs {', '.join(f'{m}=DIR_OR_HUB_ID' for m in missing)} (model args)")

        import diffusers
        import torch

        self.torch = torch
        self.name = name
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        torch_dtype = precision_dtype(precision or (family.gpu_precision if self.device.type == "cuda" else "fp32"))
        loaded = {k: getattr(diffusers, family.components[k]).from_pretrained(
                      folders[k], use_safetensors=True, local_files_only=True, torch_dtype=torch_dtype)
                  for k in extra}
        cls = getattr(diffusers, name)
        init = inspect.signature(cls.__init__).parameters
        if "safety_checker" in init:
            # A flagged frame would come back black and be scored as the model's edit.
            loaded.update(safety_checker=None, requires_safety_checker=False)
        pipe = cls.from_pretrained(folders["path"], use_safetensors=True, local_files_only=True,
                                   torch_dtype=torch_dtype, **loaded)
        if family.float32_vae:
            pipe.vae.to(torch.float32)
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe
        self._memory(cpu_offload, vae_slicing, vae_tiling, attention_slicing)

        accepted = set(inspect.signature(cls.__call__).parameters) - {"self", "kwargs"}
        unknown = sorted(set(call_args) - accepted - _MANAGED)
        if unknown:
            raise ValueError(f"{name} takes no argument {', '.join(unknown)}; its call arguments: "
                             f"{', '.join(sorted(accepted - _MANAGED - {'height', 'width'}))}")
        managed = sorted(set(call_args) & _MANAGED)
        if managed:
            raise ValueError(f"{', '.join(managed)}: set by the adapter from the request, not a model arg")
        self.call_args = {**{k: v for k, v in family.defaults.items() if k in accepted}, **call_args}
        strength = self.call_args.get("strength")
        if strength is not None and not 0.0 < float(strength) <= 1.0:
            raise ValueError(f"strength must be in (0, 1], got {strength}")

        self.multiple = _size_multiple(pipe)
        for label, value in (("height", height), ("width", width)):
            if value is not None and (int(value) < self.multiple or int(value) % self.multiple):
                raise ValueError(f"{label}={value} is impossible for {name}: height and width must be positive "
                                 f"multiples of {self.multiple} (its VAE's downsampling times its patch size)")
        if (height is None) != (width is None):
            raise ValueError("give both height and width, or neither (then resolution sets the short side)")
        self.size = (int(height), int(width)) if height is not None else None
        self.resolution = int(resolution or family.resolution)
        if self.resolution < self.multiple:
            raise ValueError(f"resolution={self.resolution} is impossible for {name}: at least {self.multiple}")

        self.window = int(window or family.window)
        self.overlap = int(family.overlap if overlap is None else overlap)
        self.anchor = bool(family.anchor if anchor is None else anchor)
        self.frame_batch = max(1, int(frame_batch or family.window))
        self.frame_step = int(getattr(pipe, "vae_scale_factor_temporal", 1) or 1)
        if not family.per_frame:
            self._check_window()

    # ------------------------------------------------------------------ setup
    def _memory(self, cpu_offload, vae_slicing, vae_tiling, attention_slicing) -> None:
        pipe = self.pipe
        if cpu_offload:
            if cpu_offload not in ("model", "sequential", True):
                raise ValueError(f"cpu_offload must be model or sequential, got {cpu_offload!r}")
            if self.device.type == "cpu":
                raise ValueError("cpu_offload keeps weights on the CPU and moves each part to an accelerator when it "
                                 "runs; it needs an accelerator device (--device cuda)")
            offload = pipe.enable_sequential_cpu_offload if cpu_offload == "sequential" else pipe.enable_model_cpu_offload
            offload(device=self.device)
        else:
            pipe.to(self.device)
        for wanted, method in ((vae_slicing, "enable_slicing"), (vae_tiling, "enable_tiling")):
            if wanted:
                if not hasattr(pipe.vae, method):
                    raise ValueError(f"{self.name}'s VAE ({type(pipe.vae).__name__}) has no {method}")
                getattr(pipe.vae, method)()
        if attention_slicing:
            pipe.enable_attention_slicing("auto" if attention_slicing is True else int(attention_slicing))

    def _check_window(self) -> None:
        if self.window < 1 or not 0 <= self.overlap < self.window:
            raise ValueError(f"window={self.window}, overlap={self.overlap} is impossible: need window >= 1 and "
                             f"0 <= overlap < window")
        longest = getattr(getattr(self.pipe, "unet", None), "config", {}).get("motion_max_seq_length")
        if longest is not None and self.window > longest:
            raise ValueError(f"window={self.window} is impossible for {self.name}: its motion modules take at most "
                             f"{longest} frames (motion_max_seq_length)")

    # ------------------------------------------------------------------ editing
    def working_size(self, height: int, width: int) -> tuple[int, int]:
        """(h, w) the model runs at: the given size, or the short side at `resolution` with the aspect
        ratio kept, each side rounded to a multiple the model can take."""
        if self.size:
            return self.size
        scale = self.resolution / min(height, width)
        m = self.multiple
        return max(m, round(height * scale / m) * m), max(m, round(width * scale / m) * m)

    def edit(self, request: EditRequest) -> Video:
        src = request.video
        h, w = self.working_size(*src.size)
        frames = [_resize(f, h, w) for f in src.frames]
        prompt = request.instruction if self.family.prompt == "instruction" else request.target_caption
        if not prompt:
            # An empty prompt would still return a video, one that scores as an edit it never was.
            where = " (on TGVE, put InsV2V's loveu_tgve_edit_prompt_dict.json beside the data)" if self.family.prompt == "instruction" else ""
            raise ValueError(f"{self.name} needs the sample's {self.family.prompt.replace('_', ' ')}, which is missing{where}")
        generator = self.torch.Generator("cpu").manual_seed(int(request.seed))
        with self.torch.inference_mode():
            if self.family.per_frame:
                out = np.concatenate([self._frames(frames[i:i + self.frame_batch], prompt, generator)
                                      for i in range(0, len(frames), self.frame_batch)])
            else:
                out = self._clip(frames, prompt, generator, h, w)
        height, width = src.size
        result = np.stack([_resize(_to_uint8(f), height, width) for f in out])
        return Video(result, fps=src.fps, meta={"model": f"diffusers:{self.name}"})

    def _frames(self, frames: list[np.ndarray], prompt: str, generator) -> np.ndarray:
        from PIL import Image

        images = [Image.fromarray(f) for f in frames]
        return self.pipe(prompt=[prompt] * len(images), image=images, generator=generator, output_type="np",
                         **self.call_args).images

    def _clip(self, frames: list[np.ndarray], prompt: str, generator, h: int, w: int) -> np.ndarray:
        from eve_bench.models.windows import join, windows

        pieces = []
        for start, end in windows(len(frames), self.window, self.overlap):
            clip = list(frames[start:end])
            if self.anchor and pieces:
                done = join(pieces, pieces[-1][1])
                clip[: pieces[-1][1] - start] = [_to_uint8(f) for f in done[start:]]
            pieces.append((start, end, self._pass(clip, prompt, generator, h, w)))
        return join(pieces, len(frames))

    def _pass(self, clip: list[np.ndarray], prompt: str, generator, h: int, w: int) -> np.ndarray:
        from PIL import Image

        from eve_bench.models.windows import pad_to_step

        n = len(clip)
        padded = clip + [clip[-1]] * (pad_to_step(n, self.frame_step) - n)  # repeat the last frame, cut after
        args = dict(self.call_args, height=h, width=w)
        if self.family.num_frames_arg:
            args["num_frames"] = len(padded)
        out = self.pipe(video=[Image.fromarray(f) for f in padded], prompt=prompt, generator=generator,
                        output_type="np", **args).frames[0]
        if len(out) < n:
            raise ValueError(f"{self.name} returned {len(out)} frames for a {len(padded)}-frame window")
        return np.asarray(out[:n], np.float32)


def _size_multiple(pipe) -> int:
    """Height and width must divide by the VAE's spatial downsampling times the transformer's patch."""
    vae = getattr(pipe, "vae_scale_factor_spatial", None) or getattr(pipe, "vae_scale_factor", 8)
    transformer = getattr(pipe, "transformer", None)
    patch = transformer.config.get("patch_size", 1) if transformer is not None else 1
    patch = patch[-1] if isinstance(patch, (tuple, list)) else (patch or 1)
    return int(vae) * int(patch)


def _resize(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    from PIL import Image

    if frame.shape[:2] == (height, width):
        return frame
    return np.asarray(Image.fromarray(frame).resize((width, height), Image.Resampling.LANCZOS))


def _to_uint8(frame: np.ndarray) -> np.ndarray:
    return (np.clip(frame, 0.0, 1.0) * 255).round().astype(np.uint8)


def _unsupported(name: str) -> str:
    return (f"pipeline {name} is not one the adapter knows how to call; supported: {', '.join(FAMILIES)} "
            f"(add a row to FAMILIES in eve_bench/models/diffusers_pipeline.py)")


def load(device: str | None = None, **kwargs) -> DiffusersEditor:
    """`--model diffusers`; `device` named so that the runner's --device reaches it."""
    return DiffusersEditor(device=device, **kwargs)


@dataclass(frozen=True)
class Baseline:
    """A named baseline: public weights and the pipeline that runs them."""

    path: str
    pipeline: str
    components: dict = field(default_factory=dict)

    def __call__(self, device: str | None = None, **kwargs) -> DiffusersEditor:
        return DiffusersEditor(**{"path": self.path, "pipeline": self.pipeline, **self.components, **kwargs}, device=device)


instruct_pix2pix = Baseline("timbrooks/instruct-pix2pix", "StableDiffusionInstructPix2PixPipeline")
animatediff_sdedit = Baseline("stable-diffusion-v1-5/stable-diffusion-v1-5", "AnimateDiffVideoToVideoPipeline",
                              {"motion_adapter": "guoyww/animatediff-motion-adapter-v1-5-2"})
wan_sdedit = Baseline("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "WanVideoToVideoPipeline")
lucy_edit = Baseline("decart-ai/Lucy-Edit-Dev", "LucyEditPipeline")
