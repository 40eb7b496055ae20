"""CLIP-family encoders (CLIP, PickScore) loaded with transformers from local files only.

Weights come from a local directory or from a hub id already in the Hugging Face cache; the
network is never tried, so a machine without the weights fails at once with a message saying
which flag supplies them, instead of stalling on retries.

Frames go through the official TGVE preprocessing (showlab/loveu-tgve-2023 `scripts/run_eval.py`):
each frame is resized to 480x480 with PIL (bicubic, Pillow's default there) and then handed, as a
PIL image, to the model's processor. The processor uses its PIL backend because the torchvision
backend that transformers 5 picks by default resizes differently from the PIL-based processor the
official script ran with.
"""

from __future__ import annotations

import json
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from eve_bench.encoders.cache import EmbeddingCache
from eve_bench.encoders.local_weights import hub_cache, local_folder, pickled_only, weights_id
from eve_bench.encoders.precision import autocast, id_suffix
from eve_bench.errors import MissingWeightsError, WeightsError, one_line

FRAME_SIZE = 480  # the TGVE protocol resizes every frame to 480x480 before the processor
PROCESSOR_SUFFIXES = (".json", ".txt")  # what a processor folder contributes: configs and tokenizer files

# Metrics sharing weights (clip_text, clip_frame, clip_dir) share one loaded model; it is freed
# once no metric holds it any more.
_LOADED: "weakref.WeakValueDictionary[tuple, ClipEncoder]" = weakref.WeakValueDictionary()


def resolve_weights(spec: str, missing: Callable[[str], str]) -> Path:
    """Local directory holding `spec`: the directory itself, or the cached snapshot of hub id `spec`.

    Otherwise raises MissingWeightsError with `missing(why)`, a message naming the weights, the
    flag that supplies them and how to fetch them (see `missing_message`).
    """
    path = local_folder(spec)
    if path is None:
        raise MissingWeightsError(missing(f"no directory {spec!r} and no snapshot of it in the Hugging Face cache "
                                          f"{hub_cache()}"))
    return path


def clip_weights_id(model_dir: Path, processor_dir: Path) -> str:
    """The content id of a CLIP-family encoder: its model folder, and a separate processor folder's
    configs (a processor repo may also hold gigabytes of weights this encoder never loads)."""
    ids = [weights_id(model_dir)]
    if Path(processor_dir).resolve() != Path(model_dir).resolve():
        ids.append(weights_id(processor_dir, PROCESSOR_SUFFIXES))
    return "|".join(ids)


def missing_message(spec: str, *, default: str, flag: str, what: str, include: str, detail: str) -> str:
    """Why `what`'s weights `spec` are missing (`detail`), which `flag` supplies them, and how to
    fetch hub id `default` (`include`: file patterns, when only part of the repo is needed)."""
    args = f"download {default}" + (f" --include {include}" if include else "")
    return (
        f"{what} weights {spec!r} are not available locally ({detail}). Pass a local directory with "
        f"{flag} DIR, or on a machine with internet run `hf {args}` (older huggingface_hub: "
        f"`huggingface-cli {args}`), copy the Hugging Face cache here (or set HF_HOME to it) and run "
        f"with HF_HUB_OFFLINE=1."
    )


def _pooled(out):
    # transformers 5 returns a model output whose pooler_output is projected; 4.x the tensor itself.
    return getattr(out, "pooler_output", out)


class ClipEncoder:
    """Projected (not normalised) CLIP image and text embeddings, batched and cached.

    The weights load at the first embedding the cache does not hold, not before: re-scoring
    outputs whose embeddings are all cached costs no model load. What can be checked without
    loading (the files are there, safetensors only, a readable header, the processor files) is
    checked when the encoder is made, so a metric's prepare() still fails at once on bad weights.
    """

    def __init__(self, model_dir: Path, processor_dir: Path, *, device: str = "cpu", batch_size: int = 32,
                 cache: EmbeddingCache | None = None, missing: Callable[[str, str], str] | None = None,
                 precision: str = "fp32") -> None:
        self.model_dir, self.processor_dir = model_dir, processor_dir
        self.device = device
        self.batch_size = batch_size
        self.cache = cache or EmbeddingCache()
        self.precision = precision
        self._message = missing or (lambda part, why: why)
        config = _check_files(model_dir, processor_dir, self._message)
        text = config.get("text_config") or {}
        self.max_length = int(text.get("max_position_embeddings", 77))  # CLIPTextConfig's defaults
        self.projection_dim = int(config.get("projection_dim", 512))
        weights_id = clip_weights_id(model_dir, processor_dir)
        suffix = id_suffix(precision)
        self.image_id = f"clip-image|{weights_id}|pil-bicubic-{FRAME_SIZE}|processor-pil{suffix}"
        self.text_id = f"clip-text|{weights_id}|truncate-{self.max_length}{suffix}"
        self._scale_id = f"clip-logit-scale|{weights_id}"
        self._loaded = None  # (model, image_processor, tokenizer) once needed
        self.encoder_calls = 0  # forward passes run; lets tests and benchmarks see cache hits

    @classmethod
    def shared(cls, model_dir: Path, processor_dir: Path, *, device: str = "cpu", batch_size: int = 32,
               cache: EmbeddingCache, missing: Callable[[str, str], str] | None = None,
               precision: str = "fp32") -> "ClipEncoder":
        """The encoder already made with these settings, or a new one."""
        key = (str(model_dir), str(processor_dir), device, batch_size, str(cache.root), cache.enabled, precision)
        encoder = _LOADED.get(key)
        if encoder is None:
            encoder = cls(model_dir, processor_dir, device=device, batch_size=batch_size, cache=cache,
                          missing=missing, precision=precision)
            _LOADED[key] = encoder
        return encoder

    @classmethod
    def load(cls, model_dir: Path, processor_dir: Path, **kwargs) -> "ClipEncoder":
        """An encoder with its weights loaded now (benchmarks time the forward passes alone)."""
        encoder = cls(model_dir, processor_dir, **kwargs)
        encoder.model  # noqa: B018 (loads)
        return encoder

    @property
    def model(self):
        return self._parts()[0]

    @property
    def image_processor(self):
        return self._parts()[1]

    @property
    def tokenizer(self):
        return self._parts()[2]

    @property
    def logit_scale(self) -> float:
        """exp(logit_scale) of the weights; cached beside the embeddings, so a warm re-score of
        CLIP-T or PickScore loads no weights for it either."""
        key = "logit_scale"
        if self.cache.enabled:
            value = self.cache.get(self._scale_id, key)
            if value is not None:
                return float(value)
        value = float(self.model.logit_scale.detach().exp().cpu())
        self.cache.put(self._scale_id, key, np.float64(value))
        return value

    def _parts(self):
        if self._loaded is None:
            self._loaded = _load_parts(self.model_dir, self.processor_dir, self.device, self._message)
        return self._loaded

    # ------------------------------------------------------------------------------------------

    def encode_videos(self, videos: Sequence[np.ndarray]) -> list[np.ndarray]:
        """(T_i, D) embeddings for each (T_i, H, W, 3) uint8 video, all frames batched together."""
        flat = self.encode_frames([f for v in videos for f in v])
        return np.split(flat, np.cumsum([len(v) for v in videos])[:-1]) if len(videos) else []

    def encode_frames(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """(N, D) float32 embeddings of (H, W, 3) uint8 frames, cached per frame content."""
        return self._cached(self.image_id, frames, self._embed_frames)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(N, D) float32 embeddings of prompts, truncated to the model's 77 tokens."""
        return self._cached(self.text_id, texts, self._embed_texts)

    def _cached(self, encoder_id: str, items: Sequence, embed) -> np.ndarray:
        if not len(items):
            return np.zeros((0, self.projection_dim), np.float32)
        if not self.cache.enabled:  # skip hashing every frame for keys nobody will read
            return embed(list(items))
        return np.stack(self.cache.get_or_compute(encoder_id, list(items), embed))

    def _embed_frames(self, frames: list[np.ndarray]) -> np.ndarray:
        import torch

        model = self.model
        out = []
        # Preprocessing (two PIL resizes per frame) costs more than a GPU forward pass; PIL releases
        # the GIL while resizing, so each batch is prepared in as many parts as torch has threads.
        workers = torch.get_num_threads()
        # The next batch is prepared while the current one runs through the model.
        batches = [frames[i : i + self.batch_size] for i in range(0, len(frames), self.batch_size)]
        with ThreadPoolExecutor(workers) as pool:
            def prepare(batch):
                step = -(-len(batch) // workers)
                return [pool.submit(self._pixels, batch[i : i + step]) for i in range(0, len(batch), step)]

            upcoming = prepare(batches[0])
            for k in range(len(batches)):
                pixels = torch.cat([f.result() for f in upcoming])
                if k + 1 < len(batches):
                    upcoming = prepare(batches[k + 1])
                with torch.no_grad(), autocast(self.precision, self.device):
                    out.append(_pooled(model.get_image_features(pixel_values=pixels.to(self.device))).float())
                self.encoder_calls += 1
        return torch.cat(out).float().cpu().numpy()

    def _pixels(self, frames: list[np.ndarray]):
        images = [tgve_resize(f) for f in frames]
        return self._parts()[1](images=images, return_tensors="pt")["pixel_values"]

    def _embed_texts(self, texts: list[str]) -> np.ndarray:
        import torch

        model, _, tokenizer = self._parts()
        out = []
        for start in range(0, len(texts), self.batch_size):
            # Padding to the longest prompt cannot change an embedding: CLIP's text tower is causal
            # and pools at the first end-of-text token.
            tokens = tokenizer(texts[start : start + self.batch_size], padding=True, truncation=True,
                                    max_length=self.max_length, return_tensors="pt").to(self.device)
            with torch.no_grad(), autocast(self.precision, self.device):
                out.append(_pooled(model.get_text_features(**tokens)).float())
            self.encoder_calls += 1
        return torch.cat(out).float().cpu().numpy()


def tgve_resize(frame: np.ndarray) -> Image.Image:
    image = Image.fromarray(frame)
    if image.size == (FRAME_SIZE, FRAME_SIZE):
        return image  # PIL's resize to the same size is an exact copy
    return image.resize((FRAME_SIZE, FRAME_SIZE), Image.BICUBIC)


def _check_files(model_dir: Path, processor_dir: Path, message: Callable[[str, str], str]) -> dict:
    """The checks that need no model load; returns the model's config.json."""
    pickles = pickled_only(model_dir)
    weights = sorted(model_dir.glob("*.safetensors"))
    if pickles:
        raise WeightsError(
            f"{model_dir} holds only pickled weights ({', '.join(pickles)}), which eve-bench never loads "
            "(unpickling can run code). If you trust them, convert them once: python -c \"from transformers "
            f"import CLIPModel; CLIPModel.from_pretrained('{model_dir}').save_pretrained('OUT')\" and pass OUT"
        )
    if not (model_dir / "config.json").is_file() or not weights:
        raise MissingWeightsError(message("model", f"{model_dir} is incomplete: it needs config.json and *.safetensors"))
    try:
        from safetensors import safe_open

        for f in weights:
            with safe_open(str(f), framework="np"):
                pass  # reads the header only
        config = json.loads((model_dir / "config.json").read_text())
    except Exception as e:
        raise WeightsError(f"{model_dir}: cannot load the weights: {one_line(e)}") from e
    has_image = any((processor_dir / n).is_file() for n in ("preprocessor_config.json", "processor_config.json"))
    has_text = any((processor_dir / n).is_file() for n in ("tokenizer.json", "vocab.json"))
    if not (has_image and has_text):
        raise MissingWeightsError(message("processor", f"{processor_dir} is incomplete: it holds no CLIP image "
                                                       "processor and tokenizer"))
    return config


def _load_parts(model_dir: Path, processor_dir: Path, device: str, message: Callable[[str, str], str]):
    """(CLIPModel in float32 on `device`, PIL image processor, tokenizer)."""
    import transformers
    from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

    major = int(transformers.__version__.split(".")[0])
    pil_backend = {"backend": "pil"} if major >= 5 else {"use_fast": False}
    transformers.utils.logging.disable_progress_bar()  # the harness draws its own progress bar
    try:
        model = CLIPModel.from_pretrained(model_dir, use_safetensors=True)
    except OSError as e:  # no config or weights file
        raise MissingWeightsError(message("model", f"{model_dir} is incomplete: {e}")) from e
    except Exception as e:  # a corrupt safetensors file, a config that does not match the weights
        raise WeightsError(f"{model_dir}: cannot load the weights: {one_line(e)}") from e
    try:
        image_processor = AutoImageProcessor.from_pretrained(processor_dir, **pil_backend)
        tokenizer = AutoTokenizer.from_pretrained(processor_dir)
    except (OSError, ValueError) as e:  # no processor config or tokenizer files
        raise MissingWeightsError(message("processor", f"{processor_dir} is incomplete: {e}")) from e
    return model.float().eval().requires_grad_(False).to(device), image_processor, tokenizer
