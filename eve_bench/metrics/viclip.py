"""EVE's ViCLIP metrics (Singer et al., arXiv 2403.09334): text-video agreement over whole clips.

viclip_out = cos(E_V(edited), E_T(target caption))
viclip_dir = cos(E_V(edited) - E_V(source), E_T(target caption) - E_T(source caption))

E_V and E_T are L2-normalised ViCLIP embeddings, differenced after normalisation as in CLIP
direction similarity (InstructPix2Pix). Values are raw cosines in [-1, 1]; EditVerse prints them
x100. Preprocessing is set by the metrics' own options `sampling` and `recipe` (`ViCLIPPreprocess`
fields; `--viclip-preprocess` sets both metrics') and recorded in `cache_id`, as is `--precision`;
see docs/metrics-viclip.md.
"""

from __future__ import annotations

import os
from functools import cached_property, lru_cache
from typing import Sequence

import numpy as np

from eve_bench.encoders import precision
from eve_bench.encoders.cache import EmbeddingCache
from eve_bench.encoders.local_weights import weights_id
from eve_bench.encoders.viclip import ViCLIPPreprocess, load_viclip
from eve_bench.metrics.base import Metric, MetricInput

WEIGHTS = ("ViClip-InternVid-10M-FLT.pth (ViCLIP ViT-L/14, InternVid-10M-FLT) converted once with eve-bench "
           "convert-viclip, via --viclip-model DIR")


class _ViCLIPMetric(Metric):
    higher_is_better = True
    weights = WEIGHTS
    own_options = {"model": "ViCLIP weights: an eve-bench ViCLIP folder or safetensors file; alias --viclip-model",
                   "sampling": "frames taken: uniform (default) or middle; alias --viclip-preprocess sampling=...",
                   "recipe": "pixels: clip (default) or internvid; alias --viclip-preprocess recipe=..."}

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.preprocess = ViCLIPPreprocess(**{k: v for k in ("sampling", "recipe") if (v := self.option(k)) is not None})
        self.model = None
        self.cache = None

    @cached_property
    def _weights(self) -> str | None:
        """The weights by content, or the path as given where there is none (the metric then fails
        in prepare(), so no value is ever stored under that id)."""
        path = self.option("model")
        return weights_id(path) if isinstance(path, str) and os.path.exists(path) else path

    @property
    def cache_id(self) -> str:
        return f"{super().cache_id}|{self._weights}|{self.preprocess.id}{precision.id_suffix(self.options.precision)}"

    def prepare(self) -> None:
        precision.check(self.options.precision, self.options.device)
        # Raises MissingWeightsError naming --viclip-model when the path is unset or absent, and
        # WeightsError when it holds a pickle or unreadable weights.
        self.model = _shared_model(self.option("model"), self.options.device, self._weights)
        cache = self.options.embedding_cache
        self.cache = cache if cache is not None else EmbeddingCache()

    def _videos(self, videos: list[np.ndarray]) -> np.ndarray:
        """L2-normalised video embeddings, through the cache (keyed on the sampled frames)."""
        cfg, pre = self.model.config, self.preprocess
        suffix = precision.id_suffix(self.options.precision)
        encoder_id = f"viclip-video|{self.model.weights_id}|{pre.id}|{cfg.num_frames}x{cfg.image_size}{suffix}"
        sampled = [np.ascontiguousarray(pre.sample(v, cfg.num_frames)) for v in videos]
        # Sampling is idempotent on num_frames-long clips, so encoding the sampled frames is exact.
        compute = lambda todo: self._encode(self.model.encode_video, todo, pre, self.options.batch_size)
        return np.stack(self.cache.get_or_compute(encoder_id, sampled, compute))

    def _texts(self, texts: list[str]) -> np.ndarray:
        suffix = precision.id_suffix(self.options.precision)
        encoder_id = f"viclip-text|{self.model.weights_id}|ctx{self.model.config.context_length}{suffix}"
        compute = lambda todo: self._encode(self.model.encode_text, todo, self.options.batch_size)
        return np.stack(self.cache.get_or_compute(encoder_id, list(texts), compute))

    def _encode(self, encode, *args) -> np.ndarray:
        with precision.autocast(self.options.precision, self.options.device):
            return encode(*args).numpy()

    def _check_prepared(self) -> None:
        if self.model is None:
            raise RuntimeError(f"{self.name}: call prepare() before compute()")


@lru_cache(maxsize=2)
def _shared_model(path: str | None, device: str, identity: str | None):
    # viclip_out and viclip_dir run in the same process: one copy of the 1.7 GB model, not two.
    # `identity` is the weights' content, so weights replaced on disk load afresh.
    return load_viclip(path, device)


def _cosine(a: np.ndarray, b: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    # Row-wise; a zero vector (an identity edit in viclip_dir) scores 0, as torch's cosine_similarity.
    num = (a * b).sum(-1)
    den = np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), eps)
    return num / den


class ViCLIPOut(_ViCLIPMetric):
    name = "viclip_out"
    requires = frozenset({"target_caption"})
    definition = (
        "Cosine between the ViCLIP embedding of the edited video (8 frames) and that of the target "
        "caption (32 BPE tokens for the public checkpoint; the loaded model's context length in general), raw in [-1, 1] (EditVerse prints x100). EVE's ViCLIP_out."
    )

    def compute(self, items: Sequence[MetricInput]) -> list[float]:
        self._check_prepared()
        video = self._videos([it.edited.frames for it in items])
        text = self._texts([it.sample.target_caption for it in items])
        return [float(v) for v in _cosine(video, text)]


class ViCLIPDir(_ViCLIPMetric):
    name = "viclip_dir"
    requires = frozenset({"source", "source_caption", "target_caption"})
    definition = (
        "Cosine between the change of the ViCLIP video embedding (edited minus source) and the "
        "change of the text embedding (target minus source caption), on L2-normalised embeddings; "
        "raw in [-1, 1], 0 when the edit leaves the video embedding unchanged. EVE's ViCLIP_dir."
    )

    def compute(self, items: Sequence[MetricInput]) -> list[float]:
        self._check_prepared()
        n = len(items)
        video = self._videos([it.edited.frames for it in items] + [it.source.frames for it in items])
        text = self._texts([it.sample.target_caption for it in items]
                           + [it.sample.source_caption for it in items])
        return [float(v) for v in _cosine(video[:n] - video[n:], text[:n] - text[n:])]
