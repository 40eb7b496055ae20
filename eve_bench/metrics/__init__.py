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
METRICS.register("vlm_text", "eve_bench.metrics.vlm:VlmText")
METRICS.register("vlm_structure", "eve_bench.metrics.vlm:VlmStructure")
METRICS.register("vlm_quality", "eve_bench.metrics.vlm:VlmQuality")


def build_metrics(names, options: MetricOptions | None = None) -> list[Metric]:
    """The named metrics, each checking its own --metric-args (which must name known metrics)."""
    for name, args in (options.metric_args if options else {}).items():
        METRICS.get(name).check_args(args)
    return [METRICS.get(name)(options) for name in names]


# Families share options: --clip-model DIR is `--metric-args clip_text.model=DIR,clip_frame.model=DIR,...`,
# and a suite's `metric_defaults` name them the same way ("clip.model"). `with_family_args` turns
# both into per-metric args, the one channel a metric reads its options from (`Metric.option`).
FAMILIES = {
    "clip": ("clip_text", "clip_frame", "clip_frame_consecutive", "clip_dir"),
    "pickscore": ("pick_score",),
    "viclip": ("viclip_out", "viclip_dir"),
    "vlm": ("vlm_text", "vlm_structure", "vlm_quality"),
}


def with_family_args(metric_args: dict, family_args: dict, metrics=None) -> dict:
    """`metric_args` (metric -> {option: value}) with each "FAMILY.OPTION" value of `family_args`
    given to every metric of that family (of `metrics`, when given) that has no value of its own
    for the option. A None value sets nothing."""
    out = {name: dict(args) for name, args in metric_args.items()}
    for key, value in family_args.items():
        family, dot, option = key.partition(".")
        if not dot or family not in FAMILIES:
            raise ValueError(f"metric family option {key!r}: expected FAMILY.OPTION, FAMILY one of {', '.join(FAMILIES)}")
        if value is None:
            continue
        for name in FAMILIES[family]:
            if metrics is None or name in metrics:
                out.setdefault(name, {}).setdefault(option, value)
    return out


__all__ = ["FAMILIES", "METRICS", "Metric", "MetricInput", "MetricOptions", "SetMetric", "build_metrics", "with_family_args"]
