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

import hashlib
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from eve_bench.encoders.cache import EmbeddingCache
from eve_bench.metrics.base import MissingWeightsError, WeightsError, one_line

FRAME_SIZE = 480  # the TGVE protocol resizes every frame to 480x480 before the processor
# Weights formats that are pickles: loading one can run code, so they are refused (safetensors only).
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".ckpt", ".pkl"}

# Metrics sharing weights (clip_text, clip_frame, clip_dir) share one loaded model; it is freed
# once no metric holds it any more.
_LOADED: "weakref.WeakValueDictionary[tuple, ClipEncoder]" = weakref.WeakValueDictionary()


def resolve_weights(spec: str, missing: Callable[[str], str]) -> Path:
    """Local directory holding `spec`: the directory itself, or the cached snapshot of hub id `spec`.

    Otherwise raises MissingWeightsError with `missing(why)`, a message naming the weights, the
    flag that supplies them and how to fetch them (see `missing_message`).
    """
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    from huggingface_hub import constants, snapshot_download

    try:
        return Path(snapshot_download(spec, local_files_only=True))
    except Exception as e:  # not cached, or not even a valid repo id (HFValidationError)
        raise MissingWeightsError(
            missing(f"no directory {spec!r} and no snapshot of it in the Hugging Face cache "
                    f"{constants.HF_HUB_CACHE}")
        ) from e


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


def dir_fingerprint(path: Path) -> str:
    """Short hash of a weights directory's file names, sizes and mtimes: replaced weights in the
    same directory must not reuse cached embeddings."""
    h = hashlib.sha256(str(path.resolve()).encode())
    for f in sorted(path.iterdir()):
        if f.is_file():
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def _pooled(out):
    # transformers 5 returns a model output whose pooler_output is projected; 4.x the tensor itself.
    return getattr(out, "pooler_output", out)


class ClipEncoder:
    """Projected (not normalised) CLIP image and text embeddings, batched and cached."""

    def __init__(self, model, image_processor, tokenizer, *, device: str, batch_size: int,
                 cache: EmbeddingCache, weights_id: str) -> None:
        self.model = model
        self.image_processor = image_processor
        self.tokenizer = tokenizer
        self.device = device
        self.batch_size = batch_size
        self.cache = cache
        self.max_length = int(model.config.text_config.max_position_embeddings)
        self.logit_scale = float(model.logit_scale.detach().exp().cpu())
        self.image_id = f"clip-image|{weights_id}|pil-bicubic-{FRAME_SIZE}|processor-pil"
        self.text_id = f"clip-text|{weights_id}|truncate-{self.max_length}"
        self.encoder_calls = 0  # forward passes run; lets tests and benchmarks see cache hits

    @classmethod
    def shared(cls, model_dir: Path, processor_dir: Path, *, device: str = "cpu", batch_size: int = 32,
               cache: EmbeddingCache, missing: Callable[[str, str], str] | None = None) -> "ClipEncoder":
        """The encoder already loaded with these settings, or a newly loaded one."""
        key = (str(model_dir), str(processor_dir), device, batch_size, str(cache.root), cache.enabled)
        encoder = _LOADED.get(key)
        if encoder is None:
            encoder = cls.load(model_dir, processor_dir, device=device, batch_size=batch_size,
                               cache=cache, missing=missing)
            _LOADED[key] = encoder
        return encoder

    @classmethod
    def load(cls, model_dir: Path, processor_dir: Path, *, device: str = "cpu", batch_size: int = 32,
             cache: EmbeddingCache | None = None,
             missing: Callable[[str, str], str] | None = None) -> "ClipEncoder":
        """Load a CLIPModel from `model_dir` and its processor from `processor_dir` (often the same).

        An incomplete directory raises MissingWeightsError with the message `missing(part, why)`,
        part being "model" or "processor", which lets the caller name the flag that supplies it.
        Weights that are pickled or corrupt raise WeightsError: only safetensors files are read.
        """
        import transformers
        from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

        major = int(transformers.__version__.split(".")[0])
        pil_backend = {"backend": "pil"} if major >= 5 else {"use_fast": False}
        message = missing or (lambda part, why: why)
        transformers.utils.logging.disable_progress_bar()  # the harness draws its own progress bar
        pickles = sorted(p.name for p in model_dir.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles and not any(model_dir.glob("*.safetensors")):
            raise WeightsError(
                f"{model_dir} holds only pickled weights ({', '.join(pickles)}), which eve-bench never loads "
                "(unpickling can run code). If you trust them, convert them once: python -c \"from transformers "
                f"import CLIPModel; CLIPModel.from_pretrained('{model_dir}').save_pretrained('OUT')\" and pass OUT"
            )
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
        model = model.float().eval().requires_grad_(False).to(device)
        weights_id = "|".join(f"{d}:{dir_fingerprint(d)}" for d in (model_dir, processor_dir))
        return cls(model, image_processor, tokenizer, device=device, batch_size=batch_size,
                   cache=cache or EmbeddingCache(), weights_id=weights_id)

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
            return np.zeros((0, self.model.config.projection_dim), np.float32)
        if not self.cache.enabled:  # skip hashing every frame for keys nobody will read
            return embed(list(items))
        return np.stack(self.cache.get_or_compute(encoder_id, list(items), embed))

    def _embed_frames(self, frames: list[np.ndarray]) -> np.ndarray:
        import torch

        out = []
        # Preprocessing (two PIL resizes per frame) costs more than a GPU forward pass; PIL releases
        # the GIL while resizing, so each batch is prepared in as many parts as torch has threads.
        workers = torch.get_num_threads()
        with ThreadPoolExecutor(workers) as pool:
            for start in range(0, len(frames), self.batch_size):
                batch = frames[start : start + self.batch_size]
                step = -(-len(batch) // workers)
                parts = [batch[i : i + step] for i in range(0, len(batch), step)]
                pixels = torch.cat(list(pool.map(self._pixels, parts)))
                with torch.no_grad():
                    out.append(_pooled(self.model.get_image_features(pixel_values=pixels.to(self.device))))
                self.encoder_calls += 1
        return torch.cat(out).float().cpu().numpy()

    def _pixels(self, frames: list[np.ndarray]):
        images = [_tgve_resize(f) for f in frames]
        return self.image_processor(images=images, return_tensors="pt")["pixel_values"]

    def _embed_texts(self, texts: list[str]) -> np.ndarray:
        import torch

        out = []
        for start in range(0, len(texts), self.batch_size):
            # Padding to the longest prompt cannot change an embedding: CLIP's text tower is causal
            # and pools at the first end-of-text token.
            tokens = self.tokenizer(texts[start : start + self.batch_size], padding=True, truncation=True,
                                    max_length=self.max_length, return_tensors="pt").to(self.device)
            with torch.no_grad():
                out.append(_pooled(self.model.get_text_features(**tokens)))
            self.encoder_calls += 1
        return torch.cat(out).float().cpu().numpy()


def _tgve_resize(frame: np.ndarray) -> Image.Image:
    image = Image.fromarray(frame)
    if image.size == (FRAME_SIZE, FRAME_SIZE):
        return image  # PIL's resize to the same size is an exact copy
    return image.resize((FRAME_SIZE, FRAME_SIZE), Image.BICUBIC)
