"""Metric registry. Add a metric: subclass `Metric`, then register "name" -> "module:Class" here
(or from another package through the `eve_bench.metrics` entry-point group)."""

from eve_bench.metrics.base import (
    Metric,
    MetricInput,
    MetricOptions,
    MissingWeightsError,
)
from eve_bench.registry import Registry

METRICS: Registry[type[Metric]] = Registry("metric", entry_point_group="eve_bench.metrics")
METRICS.register("source_mae", "eve_bench.metrics.pixel:SourceMAE")


def build_metrics(names, options: MetricOptions | None = None) -> list[Metric]:
    return [METRICS.get(name)(options) for name in names]


__all__ = ["METRICS", "Metric", "MetricInput", "MetricOptions", "MissingWeightsError", "build_metrics"]
