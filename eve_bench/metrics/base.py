"""The metric contract.

A metric declares what it needs from a sample (`requires`), whether higher is better, what it
computes (`definition`) and which weights it loads (`weights`). The harness hands it batches of
`MetricInput` and gets one float per item back; aggregation (means per task, counts) belongs to
the harness so that every metric is aggregated the same way.
"""

from __future__ import annotations

from abc import ABC
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, ClassVar, Sequence

import numpy as np

from eve_bench.encoders import precision
from eve_bench.sample import Sample
from eve_bench.video import Video

if TYPE_CHECKING:
    from eve_bench.encoders.cache import EmbeddingCache

# What a metric may require, beside the edited video which every metric gets.
REQUIREMENTS = frozenset(
    {"source", "instruction", "source_caption", "target_caption", "ground_truth", "mask"}
)


def paired_frames(item: "MetricInput", other: str = "source") -> tuple[np.ndarray, np.ndarray]:
    """(edited, other) frames of an item, which must have the same shape to be compared pixel-wise."""
    edited, ref = item.edited.frames, getattr(item, other).frames
    if edited.shape != ref.shape:
        raise ValueError(f"edited {edited.shape} and {other.replace('_', ' ')} {ref.shape} differ in shape")
    return edited, ref


@dataclass
class MetricInput:
    sample: Sample
    edited: Video
    source: Video
    ground_truth: Video | None = None
    mask: np.ndarray | None = None  # bool (T, H, W), aligned with ground_truth

    def has(self, requirement: str) -> bool:
        if requirement in ("source",):
            return self.source is not None
        if requirement in ("instruction", "source_caption", "target_caption"):
            return bool(getattr(self.sample, requirement))
        return getattr(self, requirement) is not None


@dataclass
class MetricOptions:
    """Settings shared by all metrics of a run; what one metric alone reads is in `metric_args`."""

    # The rank's device: the run resolves it once and hands it to the model and the metrics (`on`).
    device: str = "cpu"
    batch_size: int = 32
    precision: str = "fp32"  # encoders' autocast dtype: fp32 | bf16 | fp16, or auto (encoders/precision.py)
    # Where encoder embeddings are cached; None: the default on-disk cache (EVE_BENCH_CACHE).
    embedding_cache: "EmbeddingCache | None" = None
    # Each metric's own options: metric name -> {option: value}. --metric-args NAME.OPTION=VALUE,
    # the family flags (--clip-model, ...) and a suite's defaults all arrive here (metrics/__init__.py).
    metric_args: dict = field(default_factory=dict)

    def on(self, device: str) -> "MetricOptions":
        """These options on `device`, with `auto` precision resolved for it."""
        return replace(self, device=device, precision=precision.resolve(self.precision, device))


class Metric(ABC):
    name: ClassVar[str]
    higher_is_better: ClassVar[bool | None]  # None: a diagnostic with no better direction
    requires: ClassVar[frozenset[str]] = frozenset()
    definition: ClassVar[str]
    weights: ClassVar[str] = "none"

    # This metric's own options (--metric-args NAME.OPTION=VALUE, `eve-bench list metrics`):
    # option -> what it sets. A family flag (--clip-model for every CLIP metric) sets one of them
    # for each metric of its family (metrics/__init__.py, FAMILIES); a per-metric value wins.
    own_options: ClassVar[dict[str, str]] = {}
    set_level: ClassVar[bool] = False  # True: a SetMetric, one value for a set of samples
    # True: too costly to run unasked (a VLM judge takes seconds per sample). `eve-bench validity`,
    # which scores every registered metric, runs it only when its `model` option names weights.
    opt_in: ClassVar[bool] = False
    # Part of `cache_id`: bump it with any change that alters the metric's values (and only then),
    # so that values stored in finished runs are recomputed; a refactor keeps them.
    version: ClassVar[int] = 1

    def __init__(self, options: MetricOptions | None = None) -> None:
        self.options = options or MetricOptions()
        self.check_args(self.options.metric_args.get(self.name, {}))

    @classmethod
    def check_args(cls, args: dict) -> None:
        unknown = sorted(set(args) - set(cls.own_options))
        if unknown:
            known = ", ".join(cls.own_options) or "none"
            raise ValueError(f"--metric-args: {cls.name} has no option {', '.join(unknown)} (its options: {known})")

    def option(self, name: str):
        """This metric's value of its option `name`; None when nothing set it."""
        return self.options.metric_args.get(self.name, {}).get(name)

    @property
    def cache_id(self) -> str:
        """Identifies this metric's configuration; cached values are reused only under the same id.
        Metrics with weights or options add them (by content, never by path: ids are the same on
        every machine)."""
        return f"{self.name}@v{self.version}"

    def prepare(self) -> None:
        """Load weights before any sample is scored; raise MissingWeightsError at once if absent."""

    def compute(self, items: Sequence[MetricInput]) -> list[float]:
        """One value per item, in order. Metrics that gain from batching (encoders) override this;
        the others implement `score` for a single item."""
        return [self.score(item) for item in items]

    def score(self, item: MetricInput) -> float:
        raise NotImplementedError(f"{type(self).__name__} implements neither compute nor score")

    @classmethod
    def direction(cls) -> str:
        return {True: "higher", False: "lower", None: "-"}[cls.higher_is_better]


class SetMetric(Metric):
    """A metric of a set of samples rather than a mean of per-sample values, in torchmetrics' shape:
    `update(item)` gives a sample's state (a dict of sums), states add up over samples, and
    `compute_state(total)` turns the sum into the value. Each record stores its sample's state, and
    the summary sums the stored states (overall and per task), so the value is the same at any
    number of ranks and after resuming, and a new sample costs only its own update."""

    set_level = True

    def update(self, item: MetricInput) -> dict[str, float]:
        raise NotImplementedError

    def compute_state(self, total: dict[str, float]) -> float:
        raise NotImplementedError

    def compute(self, items: Sequence[MetricInput]) -> list[dict[str, float]]:  # type: ignore[override]
        return [self.update(item) for item in items]
