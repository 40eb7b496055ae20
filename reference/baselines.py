"""Reference baselines as eve-bench models (spec `reference.baselines:<factory>`).

- `per_frame_edit`: the edit teacher (backbone + ControlNet) applied to every frame independently.
- `video_sdedit`: the video teacher (backbone + temporal layers) re-noising the source video to
  `strength` (0.75 as in the paper's SDEdit baseline) and denoising toward the target caption.
- `plug_and_play`: both adapters stacked without alignment (the paper's "w/o alignment" ablation).

Common model args: weights (EVE checkpoint dir; default: $EVE_REFERENCE_WEIGHTS or shipped weights),
steps (DDIM steps), first_frame_steps (DDIM steps of the edit adapter's first-frame edit that
plug-and-play and the EVE student follow; default: steps), guidance_scale (text),
image_guidance_scale (image, edit models), strength (SDEdit), device, precision ("fp32" / "bf16" / "fp16"); per_frame_edit also takes frame_batch
(frames denoised together). A sampling setting not given comes from the checkpoint's `sampling`
entry in eve_config.json (what it was tuned for; a key named after a baseline, e.g.
"per_frame_edit", holds settings for that baseline alone), else from SAMPLING_DEFAULTS
(InstructPix2Pix's image guidance 1.5, the paper's SDEdit strength 0.75). Frames are resized to the
model resolution (square) and back to the request size; videos longer than the video adapter's
window are processed in windows, chained through their first frame when the adapter is first-frame
conditioned. Every result is a deterministic function of the request seed.
"""

from __future__ import annotations

import torch

from eve_bench.encoders.precision import torch_dtype
from eve_bench.errors import ModelNotReadyError
from eve_bench.models.base import EditRequest
from eve_bench.models.windows import windows
from eve_bench.video import Video
from reference import sampling
from reference.checkpoint import EVEModel, SAMPLING_DEFAULTS, part_paths, tuned_sampling
from reference.weights import resolve_weights


class _ReferenceEditor:
    name = "reference"
    key = ""  # this baseline's entry in a checkpoint's sampling settings
    needs: tuple[str, ...] = ()

    def __init__(
        self,
        weights=None,
        steps: int | None = None,
        first_frame_steps: int | None = None,
        guidance_scale: float | None = None,
        image_guidance_scale: float | None = None,
        strength: float | None = None,
        device: str | None = None,
        precision: str = "fp32",
        model: EVEModel | None = None,
    ):
        if model is None:
            path = resolve_weights(weights, self.needs, self.name)
            try:
                model = EVEModel.from_pretrained(path, torch_dtype=torch_dtype(precision), require=self.needs)
            except FileNotFoundError as e:
                raise ModelNotReadyError(f"{self.name}: {e}") from e
            self.weights, self.model_dir = str(path), path
        else:
            self.weights, self.model_dir = "<in-memory>", None
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device)
        given = dict(steps=steps, first_frame_steps=first_frame_steps, guidance_scale=guidance_scale,
                     image_guidance_scale=image_guidance_scale, strength=strength)
        settings = {**SAMPLING_DEFAULTS, **tuned_sampling(model.config.sampling, self.key, self.weights),
                    **{k: v for k, v in given.items() if v is not None}}
        self.steps = int(settings["steps"])
        # a student distilled to few steps still follows a first frame from the (undistilled) edit adapter
        self.first_frame_steps = int(settings["first_frame_steps"] or self.steps)
        self.guidance_scale = float(settings["guidance_scale"])
        self.image_guidance_scale = float(settings["image_guidance_scale"])
        self.strength = float(settings["strength"])
        if not 0.0 < self.strength <= 1.0:
            raise ValueError(f"strength must be in (0, 1], got {self.strength}")

    def _generator(self, seed: int) -> torch.Generator:
        return torch.Generator("cpu").manual_seed(int(seed))

    def _frames(self, request: EditRequest) -> torch.Tensor:
        bb = self.model.backbone
        return sampling.frames_to_tensor(request.video.frames, self.model.config.resolution, bb.device, bb.dtype)

    def _result(self, request: EditRequest, images: torch.Tensor) -> Video:
        frames = sampling.tensor_to_frames(images, request.video.size)
        return Video(frames=frames, fps=request.video.fps, meta={"model": self.name})

    def edit(self, request: EditRequest) -> Video:
        with torch.inference_mode():
            images = self._edit(request, self._frames(request), self._generator(request.seed))
        return self._result(request, images)

    def _windowed(self, num_frames: int, first, window) -> torch.Tensor:
        """Latents (T, C, h, w) of a clip longer than the video adapter's window, one
        `window(start, end, first_frame)` -> (1, C, F, h, w) call per window.

        With a first-frame-conditioned adapter, consecutive windows share a frame and each starts
        from the previous window's last frame, held clean (the adapter's first-frame conditioning
        reused to extend a clip), so windows join without a seam; `first` conditions the first
        window (None: text-to-video). Without it, windows are independent."""
        conditioned = self.model.config.first_frame_conditioning
        pieces = []
        for start, end in windows(num_frames, self.model.config.num_frames, overlap=1 if conditioned else 0):
            per_frame = sampling.frames_to_batch(window(start, end, first if conditioned else None))
            pieces.append(per_frame[1:] if pieces and conditioned else per_frame)
            first = per_frame[-1]
        return torch.cat(pieces)

    def _edit(self, request, frames, generator) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class PerFrameEdit(_ReferenceEditor):
    name = "reference.per_frame_edit"
    key = "per_frame_edit"
    needs = ("edit_adapter",)

    def __init__(self, frame_batch: int = 16, **kwargs):
        super().__init__(**kwargs)
        self.frame_batch = max(1, int(frame_batch))  # frames denoised together (memory knob)

    def _edit(self, request, frames, generator):
        out = []
        for start in range(0, frames.shape[0], self.frame_batch):
            latents = sampling.edit_frames(
                self.model, frames[start : start + self.frame_batch], request.instruction or "",
                request.target_caption or "", request.task, generator, steps=self.steps,
                guidance_scale=self.guidance_scale, image_guidance_scale=self.image_guidance_scale,
            )
            out.append(self.model.backbone.decode_latents(latents))
        return torch.cat(out)


class VideoSDEdit(_ReferenceEditor):
    name = "reference.video_sdedit"
    key = "video_sdedit"
    needs = ("video_adapter",)

    def _edit(self, request, frames, generator):
        model = self.model
        src = model.backbone.encode_images(frames)  # (T, C, h, w)

        def window(start, end, first):
            return sampling.generate_video(
                model, end - start, request.target_caption or "", generator, steps=self.steps,
                guidance_scale=self.guidance_scale, init_latents=sampling.batch_to_frames(src[start:end], end - start),
                strength=self.strength, first_frame=first,
            )

        return model.backbone.decode_latents(self._windowed(src.shape[0], None, window))


class PlugAndPlay(_ReferenceEditor):
    name = "reference.plug_and_play"
    key = "plug_and_play"
    needs = ("edit_adapter", "video_adapter")
    align = False  # the EVE student (reference.eve) is this stack with its align LoRA on

    def _edit(self, request, frames, generator):
        model = self.model
        first = None
        if model.config.first_frame_conditioning:  # EVE: the edit adapter edits frame 0, the video adapter follows it
            first = sampling.edit_frames(
                model, frames[:1], request.instruction or "", request.target_caption or "", request.task, generator,
                steps=self.first_frame_steps, guidance_scale=self.guidance_scale, image_guidance_scale=self.image_guidance_scale,
            )[0]

        def window(start, end, first):
            return sampling.plug_and_play(
                model, frames[start:end], request.instruction or "", request.target_caption or "", request.task,
                generator, steps=self.steps, guidance_scale=self.guidance_scale,
                image_guidance_scale=self.image_guidance_scale, first_frame=first, align=self.align,
            )

        return model.backbone.decode_latents(self._windowed(frames.shape[0], first, window))


def reads(weights=None, **_) -> dict:
    """What a reference model loads: the checkpoint's eve_config.json, backbone and adapters
    (wherever its config puts them). eve-bench keys cached results on these files rather than on
    every file under the checkpoint, so a student trained into the same folder later leaves the
    baselines' results valid. {} where there is no checkpoint: loading then says what is missing."""
    try:
        path = resolve_weights(weights, (), "reference")
        return {"weights": {"eve_config.json": path / "eve_config.json", **part_paths(path)}}
    except (ModelNotReadyError, OSError, ValueError, KeyError, TypeError):
        return {}


def per_frame_edit(**kwargs) -> PerFrameEdit:
    return PerFrameEdit(**kwargs)


def video_sdedit(**kwargs) -> VideoSDEdit:
    return VideoSDEdit(**kwargs)


def plug_and_play(**kwargs) -> PlugAndPlay:
    return PlugAndPlay(**kwargs)


per_frame_edit.reads = video_sdedit.reads = plug_and_play.reads = reads
