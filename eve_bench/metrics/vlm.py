"""VLM-judged metrics: EVE's three human questions (Text, Structure, Quality) asked of an open
vision-language model about one edit, on a 1-5 scale.

The model sees the input video, the edited video, the instruction (where the suite has one) and
the caption of the output, and is asked one question (eve_bench/encoders/prompts/vlm-v1.yaml).
The value is the expectation of its answer, sum_k k * p(k) over k = 1..5 with the next-token
probabilities of "1".."5" renormalised over those five: deterministic (nothing is sampled), in
[1, 5], and graded where a single answer would be coarse. docs/metrics-vlm.md.
"""

from __future__ import annotations

from typing import ClassVar, Sequence

import numpy as np

from eve_bench.encoders.cache import EmbeddingCache
from eve_bench.encoders.vlm import DEFAULT_VLM, INPUTS, VlmJudge, VlmSettings, resolve_vlm
from eve_bench.encoders.vlm_prompts import DEFAULT_VERSION, PromptSet
from eve_bench.metrics.base import Metric, MetricInput
from eve_bench.questions import QUALITY, STRUCTURE, TEXT, Question

_DEFAULTS = VlmSettings()


class _VlmMetric(Metric):
    question: ClassVar[Question]
    higher_is_better = True
    requires = frozenset({"source", "target_caption"})
    weights = f"{DEFAULT_VLM} (any image-text-to-text model with a chat template; safetensors)"
    opt_in = True
    own_options = {
        "model": f"VLM weights: a folder, or a hub id in the local HF cache (default {DEFAULT_VLM}); alias --vlm-model",
        "frames": f"frames shown per video, spread uniformly (default {_DEFAULTS.frames})",
        "max_pixels": f"pixels per frame at most, the memory option (default {_DEFAULTS.max_pixels} = 224 x 224)",
        "input": f"videos as {' or '.join(INPUTS)} (default {_DEFAULTS.input}; images for models without video input)",
        "prompts": f"prompt version shipped in eve_bench/encoders/prompts (default {DEFAULT_VERSION}) or a YAML file",
    }

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.settings = VlmSettings(**{k: v for k in ("frames", "max_pixels", "input") if (v := self.option(k)) is not None},
                                    precision=self.options.precision)
        self.prompts = PromptSet.load(self.option("prompts"))
        self._judge: VlmJudge | None = None

    @property
    def cache_id(self) -> str:
        # The judge's id names the weights by content and what the model is shown.
        return f"{self.name}|{self.judge.id}|prompts {self.prompts.id}"

    def prepare(self) -> None:
        if self._judge is not None:
            return
        folder = resolve_vlm(self.option("model"), flag="--vlm-model", what=self.name)
        cache = self.options.embedding_cache
        self._judge = VlmJudge.shared(folder, self.settings, device=self.options.device,
                                      batch_size=self.options.batch_size, cache=cache if cache is not None else EmbeddingCache())

    @property
    def judge(self) -> VlmJudge:
        self.prepare()
        return self._judge  # type: ignore[return-value]

    def compute(self, items: Sequence[MetricInput]) -> list[float]:
        prompts = [self.prompts.rating(self.question, it.sample.instruction, it.sample.target_caption, it.source, it.edited)
                   for it in items]
        probs = self.judge.ask(prompts, self.prompts.rate.answers)
        return [float(v) for v in probs @ np.arange(1, len(self.prompts.rate.answers) + 1)]


def _definition(question: Question) -> str:
    return (f"EVE's human question '{question.name}' asked of a vision-language model ({DEFAULT_VLM} by default, "
            "--vlm-model): shown the input and edited videos (frames sampled uniformly), the instruction and the "
            "output caption, the expectation of its answer 1-5 under its next-token probabilities of '1'..'5' "
            "(renormalised over them; nothing sampled), in [1, 5]. Prompts: eve_bench/encoders/prompts/vlm-v1.yaml "
            "unless the option prompts names another version.")


class VlmText(_VlmMetric):
    name = "vlm_text"
    question = TEXT
    definition = _definition(TEXT)


class VlmStructure(_VlmMetric):
    name = "vlm_structure"
    question = STRUCTURE
    definition = _definition(STRUCTURE)


class VlmQuality(_VlmMetric):
    name = "vlm_quality"
    question = QUALITY
    definition = _definition(QUALITY)
