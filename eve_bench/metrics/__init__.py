"""Metric registry. Add a metric: subclass `Metric`, then register "name" -> "module:Class" here
(or from another package through the `eve_bench.metrics` entry-point group)."""

from eve_bench.metrics.base import (
    Metric,
    MetricInput,
    MetricOptions,
    MissingWeightsError,
    WeightsError,
)
from eve_bench.registry import Registry

METRICS: Registry[type[Metric]] = Registry("metric", entry_point_group="eve_bench.metrics")
METRICS.register("source_mae", "eve_bench.metrics.pixel:SourceMAE")
METRICS.register("warp_error", "eve_bench.metrics.temporal:WarpError")
METRICS.register("warp_error_self", "eve_bench.metrics.temporal:WarpErrorSelf")
METRICS.register("edge_ssim", "eve_bench.metrics.structure:EdgeSSIM")
METRICS.register("gt_psnr_in", "eve_bench.metrics.ground_truth:GtPsnrIn")
METRICS.register("gt_psnr_out", "eve_bench.metrics.ground_truth:GtPsnrOut")
METRICS.register("gt_ssim_in", "eve_bench.metrics.ground_truth:GtSsimIn")
METRICS.register("gt_ssim_out", "eve_bench.metrics.ground_truth:GtSsimOut")
METRICS.register("clip_text", "eve_bench.metrics.clip:ClipText")
METRICS.register("clip_frame", "eve_bench.metrics.clip:ClipFrame")
METRICS.register("clip_frame_consecutive", "eve_bench.metrics.clip:ClipFrameConsecutive")
METRICS.register("clip_dir", "eve_bench.metrics.clip:ClipDirection")
METRICS.register("pick_score", "eve_bench.metrics.clip:PickScore")
METRICS.register("viclip_out", "eve_bench.metrics.viclip:ViCLIPOut")
METRICS.register("viclip_dir", "eve_bench.metrics.viclip:ViCLIPDir")


def build_metrics(names, options: MetricOptions | None = None) -> list[Metric]:
    return [METRICS.get(name)(options) for name in names]


__all__ = ["METRICS", "Metric", "MetricInput", "MetricOptions", "MissingWeightsError", "WeightsError", "build_metrics"]
