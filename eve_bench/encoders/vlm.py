"""A vision-language model as a judge: any transformers `AutoModelForImageTextToText` whose
processor has a chat template and takes videos (or several images), asked questions whose answer
is one token.

The answer is never generated: one forward pass gives the next-token distribution, and the
probabilities of the allowed answers ("1".."5", or "A" / "B" / "C") are read and renormalised over
them. So a judgement is deterministic and carries its confidence (docs/metrics-vlm.md).

Weights come only from a local folder or the local Hugging Face cache (`local_weights`), and
only as safetensors. The judge's identity is the content of its files (`files_digest`), not
their path, so a copied model keeps its cached answers and a changed one never reuses them; with
the frame count, the pixel budget, the input mode and the precision it makes `VlmJudge.id`.

Each video is sampled to `frames` frames spread uniformly from the first to the last, and each
frame is scaled down (PIL bicubic, aspect kept) to at most `max_pixels` pixels before the
processor sees it: this is the memory option, since a video's tokens grow with its pixels. The
processor then does its own resizing (Qwen2.5-VL rounds sides to multiples of 28). The fps of
the sampled frames goes along as video metadata, which Qwen2.5-VL turns into time positions.

Answers are cached on disk (`EmbeddingCache`) under the judge's id and a hash of exactly what
the model was shown, so a re-run, a resumed judge or a second report costs no forward pass.
"""

from __future__ import annotations

import inspect
import math
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from eve_bench.encoders.cache import EmbeddingCache
from eve_bench.encoders.clip import missing_message, resolve_weights
from eve_bench.encoders.local_weights import pickled_only
from eve_bench.encoders.precision import check, id_suffix, torch_dtype
from eve_bench.encoders.vlm_prompts import Prompt
from eve_bench.errors import MissingWeightsError, WeightsError, one_line
from eve_bench.hashing import cached_files_digest, content_hash, json_hash
from eve_bench.video import resize_frames

DEFAULT_VLM = "Qwen/Qwen2.5-VL-3B-Instruct"
INPUTS = ("video", "images")
# The files that make a model what it is: weights, configs, tokenizer and chat template (a README
# or a .gitattributes does not change an answer).
IDENTITY_SUFFIXES = (".safetensors", ".json", ".jinja", ".txt", ".model", ".tiktoken")

_LOADED: "weakref.WeakValueDictionary[tuple, VlmJudge]" = weakref.WeakValueDictionary()


@dataclass(frozen=True)
class VlmSettings:
    """What the model is shown, besides the prompt: frames per video, the pixel budget per frame,
    videos as videos or as lists of images, and the compute dtype."""

    frames: int = 8
    max_pixels: int = 224 * 224
    input: str = "video"
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if not (isinstance(self.frames, int) and self.frames >= 1):
            raise ValueError(f"VLM frames must be a positive integer, got {self.frames!r}")
        if not (isinstance(self.max_pixels, int) and self.max_pixels >= 28 * 28):
            raise ValueError(f"VLM max_pixels must be an integer of at least 784 (28 x 28), got {self.max_pixels!r}")
        if self.input not in INPUTS:
            raise ValueError(f"VLM input must be one of {', '.join(INPUTS)}, got {self.input!r}")

    @property
    def id(self) -> str:
        return f"frames {self.frames}|max_pixels {self.max_pixels}|{self.input}{id_suffix(self.precision)}"


def resolve_vlm(spec: str | None, *, flag: str, what: str) -> Path:
    """The local folder of VLM weights `spec` (default `DEFAULT_VLM`), checked without loading them:
    MissingWeightsError (one line, naming `flag` and the download command) when absent,
    WeightsError when only pickles are there."""
    spec = spec or DEFAULT_VLM

    def missing(detail: str) -> str:
        return missing_message(spec, default=DEFAULT_VLM, flag=flag, what=what, include="", detail=detail)

    folder = resolve_weights(spec, missing)
    pickles = pickled_only(folder)
    if pickles:
        raise WeightsError(f"{folder} holds only pickled weights ({', '.join(pickles)}), which eve-bench never loads "
                           "(unpickling can run code). If you trust them, convert them once with transformers' "
                           "save_pretrained (safetensors) and pass that folder")
    if not (folder / "config.json").is_file() or not any(folder.glob("*.safetensors")):
        raise MissingWeightsError(missing(f"{folder} is incomplete: it needs config.json and *.safetensors"))
    return folder


def weights_digest(folder: Path) -> str:
    """The content hash of a model folder (IDENTITY_SUFFIXES files), read once per machine while
    its files are unchanged: reading gigabytes again for every metric would cost seconds."""
    return cached_files_digest(folder, IDENTITY_SUFFIXES)


def uniform_indices(length: int, n: int) -> list[int]:
    """n frame indices spread evenly from the first frame to the last (every frame when fewer)."""
    if length <= n:
        return list(range(length))
    return [round(i * (length - 1) / (n - 1)) for i in range(n)] if n > 1 else [length // 2]


def fit_pixels(frames: np.ndarray, max_pixels: int) -> np.ndarray:
    """Frames scaled down (aspect kept) to at most `max_pixels` pixels each; smaller ones unchanged."""
    h, w = frames.shape[1:3]
    if h * w <= max_pixels:
        return frames
    scale = math.sqrt(max_pixels / (h * w))
    return resize_frames(frames, (max(1, int(h * scale)), max(1, int(w * scale))))


@dataclass(frozen=True)
class _Shown:
    """A video as the model sees it: the sampled, scaled frames and their metadata."""

    frames: np.ndarray
    metadata: dict


class VlmJudge:
    """Asks a VLM one-token questions in batches; `ask` returns the answers' probabilities."""

    def __init__(self, folder: Path, settings: VlmSettings, *, device: str = "cpu", batch_size: int = 32,
                 cache: EmbeddingCache | None = None) -> None:
        check(settings.precision, device)
        self.folder = folder
        self.settings = settings
        self.device = device
        self.batch_size = batch_size  # frames per forward pass, as for the encoders
        self.cache = cache or EmbeddingCache()
        self.weights = weights_digest(folder)  # the content of the model's files
        self.id = f"vlm|{self.weights}|{settings.id}"
        self._loaded = None  # (model, processor, accepts logits_to_keep) once needed
        self.forward_passes = 0  # lets tests and benchmarks see cache hits

    @classmethod
    def shared(cls, folder: Path, settings: VlmSettings, *, device: str, batch_size: int,
               cache: EmbeddingCache) -> "VlmJudge":
        """The judge already made with these settings (vlm_text, vlm_structure and vlm_quality share
        one loaded model), or a new one."""
        key = (str(folder.resolve()), settings, device, batch_size, str(cache.root), cache.enabled)
        judge = _LOADED.get(key)
        if judge is None:
            judge = _LOADED[key] = cls(folder, settings, device=device, batch_size=batch_size, cache=cache)
        return judge

    def ask(self, prompts: Sequence[Prompt], answers: Sequence[str]) -> np.ndarray:
        """(len(prompts), len(answers)) float64: each prompt's next-token probabilities of `answers`,
        renormalised to sum to 1 over them."""
        shown = [[self._show(v) for v in p.videos] for p in prompts]
        # Exactly what the model is shown: the texts, the frames, and their timing (Qwen's time positions).
        keys = [json_hash([list(answers), p.system, [x if isinstance(x, str) else None for x in p.parts],
                           [[content_hash(s.frames), s.metadata] for s in videos]], length=64)
                for p, videos in zip(prompts, shown)]
        out: list[np.ndarray | None] = [self.cache.get(self.id, k) for k in keys]
        todo = [i for i, v in enumerate(out) if v is None]
        frames_each = max(1, sum(len(s.frames) for s in shown[0])) if prompts else 1
        step = max(1, self.batch_size // frames_each)
        for start in range(0, len(todo), step):
            batch = todo[start : start + step]
            probs = self._forward([prompts[i] for i in batch], [shown[i] for i in batch], answers)
            for i, p in zip(batch, probs):
                self.cache.put(self.id, keys[i], p)
                out[i] = p
        return np.stack(out) if out else np.zeros((0, len(answers)))

    def _show(self, video) -> _Shown:
        indices = uniform_indices(video.num_frames, self.settings.frames)
        frames = fit_pixels(np.ascontiguousarray(video.frames[indices]), self.settings.max_pixels)
        # The fps of the frames shown is len(indices) / num_frames * fps (VideoMetadata.sampled_fps).
        return _Shown(frames, {"total_num_frames": video.num_frames, "fps": float(video.fps), "frames_indices": indices})

    def encode(self, prompts: Sequence[Prompt]) -> dict:
        """What the model is given for these prompts: the processor's tensors, on the device
        (benchmarks time the model on them)."""
        return self._inputs(prompts, [[self._show(v) for v in p.videos] for p in prompts])

    def _inputs(self, prompts: Sequence[Prompt], shown: list[list[_Shown]]) -> dict:
        import torch

        processor = self._parts()[1]
        texts = [processor.apply_chat_template(self._messages(p, s), tokenize=False, add_generation_prompt=True)
                 for p, s in zip(prompts, shown)]
        videos = [v for s in shown for v in s]
        if self.settings.input == "video":
            inputs = processor(text=texts, videos=[v.frames for v in videos], video_metadata=[v.metadata for v in videos],
                               do_sample_frames=False, padding=True, return_tensors="pt")
        else:
            inputs = processor(text=texts, images=[f for v in videos for f in v.frames], padding=True, return_tensors="pt")
        dtype = torch_dtype(self.settings.precision)
        # Pixels in the model's dtype; every other tensor (ids, masks, time steps) as it is.
        return {k: v.to(self.device, dtype) if k.startswith("pixel_values") else v.to(self.device)
                for k, v in inputs.items() if isinstance(v, torch.Tensor)}

    def _forward(self, prompts: list[Prompt], shown: list[list[_Shown]], answers: Sequence[str]) -> np.ndarray:
        import torch

        model, processor, logits_to_keep = self._parts()
        token_ids = self._answer_ids(processor, answers)
        inputs = self._inputs(prompts, shown)
        with torch.inference_mode():
            logits = model(**inputs, **({"logits_to_keep": 1} if logits_to_keep else {})).logits[:, -1, :]
        self.forward_passes += 1
        # Left padding puts every prompt's last token at the last position.
        chosen = torch.log_softmax(logits.float(), dim=-1)[:, token_ids].double()
        return torch.softmax(chosen, dim=-1).cpu().numpy()

    def _messages(self, prompt: Prompt, shown: list[_Shown]) -> list[dict]:
        content, videos = [], iter(shown)
        for part in prompt.parts:
            if isinstance(part, str):
                content.append({"type": "text", "text": part})
            elif self.settings.input == "video":
                next(videos)
                content.append({"type": "video"})
            else:
                content += [{"type": "image"}] * len(next(videos).frames)
        return [{"role": "system", "content": [{"type": "text", "text": prompt.system}]},
                {"role": "user", "content": content}]

    def _answer_ids(self, processor, answers: Sequence[str]) -> list[int]:
        ids = [processor.tokenizer.encode(a, add_special_tokens=False) for a in answers]
        split = [a for a, i in zip(answers, ids) if len(i) != 1]
        if split:
            raise WeightsError(f"{self.folder}: the tokenizer splits the answer(s) {split} into several tokens; "
                               "the judge reads one next-token probability per answer")
        return [i[0] for i in ids]

    def _parts(self):
        if self._loaded is None:
            self._loaded = _load(self.folder, self.settings, self.device)
        return self._loaded


def _load(folder: Path, settings: VlmSettings, device: str):
    """(model in the settings' dtype on `device`, processor with left padding, whether the model's
    forward takes `logits_to_keep`)."""
    import transformers
    from transformers import AutoModelForImageTextToText, AutoProcessor

    transformers.utils.logging.disable_progress_bar()
    try:
        processor = AutoProcessor.from_pretrained(folder)
        model = AutoModelForImageTextToText.from_pretrained(folder, use_safetensors=True,
                                                            dtype=torch_dtype(settings.precision))
    except Exception as e:  # a corrupt file, a config that is no image-text-to-text model
        raise WeightsError(f"{folder}: cannot load it as an image-text-to-text model: {one_line(e)}") from e
    if not getattr(processor, "chat_template", None):
        raise WeightsError(f"{folder}: its processor has no chat template; the judge needs an instruction-tuned model")
    if settings.input == "video" and getattr(processor, "video_processor", None) is None:
        raise WeightsError(f"{folder}: its processor takes no video; pass the metric option input=images "
                           "(--metric-args vlm_text.input=images, judge --input images)")
    processor.tokenizer.padding_side = "left"
    video_processor = getattr(processor, "video_processor", None)
    if getattr(video_processor, "cap_pixels_per_frame", False) is None:
        # Qwen2-VL asks whether to cap each frame's pixels; max_pixels has capped them already, so
        # its answer changes nothing, and saying so silences its warning on every call.
        video_processor.cap_pixels_per_frame = False
    accepts = "logits_to_keep" in inspect.signature(model.forward).parameters
    return model.eval().requires_grad_(False).to(device), processor, accepts

