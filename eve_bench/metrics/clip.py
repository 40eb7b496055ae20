"""CLIP-family metrics: CLIP-T, CLIP-F (all pairs and consecutive), CLIP direction, PickScore.

Three scoring mechanisms, each configured by its metrics' class attributes:
- text alignment (clip_text, pick_score): exp(logit_scale) * mean_t cos(E_I(f_t), E_T(target));
- frame consistency (clip_frame, clip_frame_consecutive): mean cos(E_I(f_i), E_I(f_j)) over a pair set;
- direction (clip_dir): mean_t cos(E_I(edit_t) - E_I(src_t), E_T(target) - E_T(source)).
Every one uses the projected embeddings of the official TGVE preprocessing (frames PIL-resized to
480x480, then the processor); see eve_bench/encoders/clip.py and docs/metrics-clip.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar, Sequence

import numpy as np

from eve_bench.encoders import precision
from eve_bench.encoders.cache import EmbeddingCache
from eve_bench.encoders.clip import ClipEncoder, clip_weights_id, missing_message, resolve_weights
from eve_bench.encoders.local_weights import local_folder
from eve_bench.errors import WeightsError
from eve_bench.metrics.base import Metric, MetricInput

CLIP_L14 = "openai/clip-vit-large-patch14"
PICKSCORE = "pickapic-anonymous/PickScore_v1"
PICKSCORE_PROCESSOR = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"


@dataclass(frozen=True)
class _Part:
    """One set of weights a metric loads (an own option): the family flag that sets it, the hub id
    used when nothing does, and which of the hub repo's files it needs (all when empty)."""

    flag: str
    default: str
    include: str = ""


_CLIP = {"model": _Part("--clip-model", CLIP_L14)}
# The PickScore processor repo also holds 4 GB of open_clip weights that are not needed.
_PICKSCORE = {"model": _Part("--pickscore-model", PICKSCORE),
              "processor": _Part("--pickscore-processor", PICKSCORE_PROCESSOR, '"*.json" "*.txt"')}


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    # The floor (as torch's cosine_similarity eps) makes a zero direction score 0, not NaN: an
    # unchanged video or identical captions have no direction in clip_dir.
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


class _ClipMetric(Metric):
    # The weights it loads, each an own option; without a "processor" part the processor is in the
    # model's folder.
    parts: ClassVar[dict[str, _Part]] = _CLIP
    own_options = {"model": f"CLIP weights: a folder, or a hub id in the local HF cache (default {CLIP_L14}); "
                            "alias --clip-model"}

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self._encoder: ClipEncoder | None = None

    def _spec(self, part: str) -> str:
        return self.option(part) or self.parts[part].default

    @property
    def cache_id(self) -> str:
        return f"{super().cache_id}|{self._weights_id}|tgve480{precision.id_suffix(self.options.precision)}"

    @cached_property
    def _weights_id(self) -> str:
        """The weights by content; where they are not on this machine, as asked (such a metric is
        skipped or fails in prepare(), so no value is ever stored under that id)."""
        dirs = {part: local_folder(self._spec(part)) for part in self.parts}
        if None in dirs.values():
            return "|".join(self._spec(part) for part in self.parts)
        return clip_weights_id(dirs["model"], dirs.get("processor", dirs["model"]))

    def _missing(self, part: str, detail: str) -> str:
        p = self.parts[part]
        return missing_message(self._spec(part), default=p.default, flag=p.flag, what=self.name, include=p.include,
                               detail=detail)

    def prepare(self) -> None:
        if self._encoder is not None:
            return
        precision.check(self.options.precision, self.options.device)
        processor = "processor" if "processor" in self.parts else "model"
        dirs = {p: resolve_weights(self._spec(p), lambda why, p=p: self._missing(p, why))
                for p in dict.fromkeys(("model", processor))}
        try:
            self._encoder = ClipEncoder.shared(
                dirs["model"], dirs[processor], device=self.options.device,
                batch_size=self.options.batch_size, precision=self.options.precision,
                cache=self.options.embedding_cache or EmbeddingCache(),
                missing=lambda part, why: self._missing(part if part in self.parts else "model", why),
            )
        except WeightsError as e:  # only the model part holds weights files
            raise WeightsError(f"{self.parts['model'].flag} {self._spec('model')}: {e}") from e

    @property
    def encoder(self) -> ClipEncoder:
        self.prepare()
        return self._encoder  # type: ignore[return-value]


class _TextAlignment(_ClipMetric):
    higher_is_better = True
    requires = frozenset({"target_caption"})

    def compute(self, items: Sequence[MetricInput]) -> list[float]:
        enc = self.encoder
        videos = enc.encode_videos([it.edited.frames for it in items])
        texts = _unit(enc.encode_texts([it.sample.target_caption for it in items]))
        return [enc.logit_scale * float((_unit(v) @ t).mean()) for v, t in zip(videos, texts)]


class ClipText(_TextAlignment):
    name = "clip_text"
    weights = CLIP_L14
    definition = (
        "CLIP-T, as the official TGVE script: mean over edited frames of exp(logit_scale) * "
        "cos(E_I(frame), E_T(target caption)) with projected CLIP embeddings (CLIP ViT-L/14 by default, "
        "--clip-model); exp(logit_scale) = 100, so about 100x the cosine. Frames are PIL-resized to "
        "480x480, then the CLIP processor (shortest side 224 bicubic, centre crop, CLIP mean/std)."
    )


class PickScore(_TextAlignment):
    name = "pick_score"
    weights = f"{PICKSCORE} + processor {PICKSCORE_PROCESSOR}"
    parts = _PICKSCORE
    own_options = {"model": f"PickScore weights: a folder or cached hub id (default {PICKSCORE}); alias --pickscore-model",
                   "processor": f"its processor: a folder or cached hub id (default {PICKSCORE_PROCESSOR}); "
                                "alias --pickscore-processor"}
    definition = (
        "PickScore, as the official TGVE script: mean over edited frames of exp(logit_scale) * "
        f"cos(E_I(frame), E_T(target caption)) with the {PICKSCORE} model (--pickscore-model) and the "
        f"processor of {PICKSCORE_PROCESSOR} (--pickscore-processor), text truncated at 77 tokens; about "
        "100x the cosine. Frames are PIL-resized to 480x480 first. V2VBench loads the model from "
        "yuvalkirstain/PickScore_v1 instead."
    )


class _FrameConsistency(_ClipMetric):
    higher_is_better = True
    consecutive: ClassVar[bool]

    def compute(self, items: Sequence[MetricInput]) -> list[float]:
        return [self._score(_unit(v)) for v in self.encoder.encode_videos([it.edited.frames for it in items])]

    def _score(self, e: np.ndarray) -> float:
        if len(e) < 2:
            return float("nan")  # no pair of frames; the official script divides 0 by 0 as well
        if self.consecutive:
            return float(np.einsum("td,td->t", e[1:], e[:-1]).mean())
        sims = e @ e.T
        n = len(e)
        return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


class ClipFrame(_FrameConsistency):
    name = "clip_frame"
    weights = CLIP_L14
    consecutive = False
    definition = (
        "CLIP-F, as the official TGVE script: mean of cos(E_I(f_i), E_I(f_j)) over all ordered pairs "
        "i != j of edited frames (not only neighbours), projected CLIP embeddings (CLIP ViT-L/14 by "
        "default, --clip-model), raw cosine in [-1, 1] (leaderboards often print it x100). Frames are "
        "PIL-resized to 480x480, then the CLIP processor. NaN for a single frame."
    )


class ClipFrameConsecutive(_FrameConsistency):
    name = "clip_frame_consecutive"
    weights = CLIP_L14
    consecutive = True
    definition = (
        "Mean of cos(E_I(f_t), E_I(f_t-1)) over neighbouring edited frames only, the pair set of "
        "V2VBench/EditVerse CLIP consistency; otherwise exactly as clip_frame (projected CLIP ViT-L/14 "
        "embeddings, TGVE 480x480 preprocessing, no clipping at 0). Differs from clip_frame, which "
        "averages all pairs, and from V2VBench, which uses pre-projection vision features clipped at 0."
    )


class ClipDirection(_ClipMetric):
    name = "clip_dir"
    higher_is_better = True
    requires = frozenset({"source", "source_caption", "target_caption"})
    weights = CLIP_L14
    definition = (
        "Frame-wise CLIP direction similarity (InstructPix2Pix, InsV2V): mean over frames t of "
        "cos(E_I(edited_t) - E_I(source_t), E_T(target caption) - E_T(source caption)), with each "
        "embedding L2-normalised before the differences; projected CLIP ViT-L/14 embeddings by default "
        "(--clip-model), TGVE 480x480 preprocessing; raw cosine in [-1, 1]. A frame left unchanged "
        "or identical captions score 0."
    )

    def compute(self, items: Sequence[MetricInput]) -> list[float]:
        for it in items:
            if it.edited.num_frames != it.source.num_frames:
                raise ValueError(f"{it.sample.key}: edited has {it.edited.num_frames} frames, "
                                 f"source {it.source.num_frames}; clip_dir pairs them frame by frame")
        enc = self.encoder
        videos = enc.encode_videos([it.edited.frames for it in items] + [it.source.frames for it in items])
        texts = _unit(enc.encode_texts([it.sample.target_caption for it in items]
                                       + [it.sample.source_caption for it in items]))
        n = len(items)
        out = []
        for i, it in enumerate(items):
            image_dir = _unit(videos[i]) - _unit(videos[n + i])
            text_dir = texts[i] - texts[n + i]
            # Equal inputs have no direction. Their embeddings, computed at different positions of
            # a batch, can differ in the last bits, and the cosine of that noise is arbitrary.
            image_dir[[np.array_equal(e, s) for e, s in zip(it.edited.frames, it.source.frames)]] = 0
            if it.sample.target_caption == it.sample.source_caption:
                text_dir[:] = 0
            out.append(float((_unit(image_dir) @ _unit(text_dir)).mean()))
        return out
