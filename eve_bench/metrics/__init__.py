"""Metric registry. Add a metric: subclass `Metric`, then register "name" -> "module:Class" here
(or from another package through the `eve_bench.metrics` entry-point group)."""

from eve_bench.metrics.base import Metric, MetricInput, MetricOptions, SetMetric
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
METRICS.register("gt_psnr_in_set", "eve_bench.metrics.ground_truth:GtPsnrInSet")
METRICS.register("clip_text", "eve_bench.metrics.clip:ClipText")
METRICS.register("clip_frame", "eve_bench.metrics.clip:ClipFrame")
METRICS.register("clip_frame_consecutive", "eve_bench.metrics.clip:ClipFrameConsecutive")
METRICS.register("clip_dir", "eve_bench.metrics.clip:ClipDirection")
METRICS.register("pick_score", "eve_bench.metrics.clip:PickScore")
METRICS.register("viclip_out", "eve_bench.metrics.viclip:ViCLIPOut")
METRICS.register("viclip_dir", "eve_bench.metrics.viclip:ViCLIPDir")


def build_metrics(names, options: MetricOptions | None = None) -> list[Metric]:
    """The named metrics, each checking its own --metric-args (which must name known metrics)."""
    for name, args in (options.metric_args if options else {}).items():
        METRICS.get(name).check_args(args)
    return [METRICS.get(name)(options) for name in names]


def parse_metric_args(text: str | None) -> dict:
    """"clip_text.model=DIR,pick_score.processor=DIR" -> {"clip_text": {"model": "DIR"}, ...}."""
    from eve_bench.models.base import parse_kv_args

    out: dict = {}
    for key, value in parse_kv_args(text).items():
        metric, dot, option = key.partition(".")
        if not dot or not metric or not option:
            raise ValueError(f"--metric-args takes METRIC.OPTION=VALUE, got {key!r}")
        out.setdefault(metric, {})[option] = value
    return out


__all__ = ["METRICS", "Metric", "MetricInput", "MetricOptions", "SetMetric", "build_metrics", "parse_metric_args"]
