"""Edited video against a ground-truth edit, inside and outside the ground-truth edit mask.

Inside the mask says how accurately the edit was made; outside says how well everything else
was preserved. Both are pooled over all frames: a frame contributes in proportion to its
region's pixel count, so a mask that is small in some frames does not get their frames' full
weight.

A region with no pixel (the "out" of a whole-frame style edit, the "in" of an empty mask)
yields NaN: there is nothing to measure, and 0 or the cap would both be lies. The harness
aggregates with nanmean and reports how many samples counted.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from eve_bench.metrics.base import Metric, MetricInput, SetMetric, paired_frames
from eve_bench.metrics.ssim import mean_ssim

PSNR_CAP_DB = 100.0  # a perfect region (MSE 0) would be +inf and poison every mean
DATA_RANGE = 255.0

_MEASURE_TEXT = {
    "psnr": (
        "PSNR in dB = 10 log10(255^2 / MSE), MSE over the region's pixels of all frames pooled and "
        "the 3 RGB channels, in 0-255 units; capped at 100 dB (MSE 0 scores 100)."
    ),
    "ssim": (
        "SSIM (11x11 Gaussian window sigma 1.5, C1=(0.01*255)^2, C2=(0.03*255)^2, per RGB channel "
        "then averaged) with local means and (co)variances taken over region pixels only "
        "(normalised convolution), so no pixel outside the region influences the score; the "
        "per-pixel map is averaged over the region's pixels of all frames pooled. Range [-1, 1]."
    ),
}
_REGION_TEXT = {
    "in": "inside the ground-truth edit mask (edit accuracy)",
    "out": "outside the ground-truth edit mask (preservation)",
}


def _definition(measure: str, region: str) -> str:
    return (
        f"{measure.upper()} of the edited video against the ground-truth video, "
        f"{_REGION_TEXT[region]}. {_MEASURE_TEXT[measure]} "
        "NaN when the region is empty for the sample (the harness skips NaN and counts samples)."
    )


class GroundTruthMetric(Metric):
    """One mechanism for the four ground-truth metrics; subclasses fix (measure, region)."""

    measure: ClassVar[str]  # "psnr" | "ssim"
    region: ClassVar[str]  # "in" | "out"
    higher_is_better = True
    requires = frozenset({"ground_truth", "mask"})

    def score(self, item: MetricInput) -> float:
        edited, truth, region = _regions(item, self.region)
        if self.measure == "psnr":
            return masked_psnr(edited, truth, region)
        return mean_ssim(edited, truth, DATA_RANGE, regions=region)


def _regions(item: MetricInput, region: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    edited, truth = paired_frames(item, "ground_truth")
    if item.mask.shape != truth.shape[:3]:
        raise ValueError(f"mask {item.mask.shape} does not match ground truth {truth.shape[:3]}")
    mask = item.mask.astype(bool)
    return edited, truth, (mask if region == "in" else ~mask)


def squared_error(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> tuple[int, int]:
    """(sum of squared differences, number of values) of uint8 videos (T, H, W, 3) over the pixels
    where `region` (T, H, W) is True."""
    squared, count = 0, 0
    for fa, fb, fr in zip(a, b, region):  # frame by frame: no video-sized int temporaries
        diff = fa[fr].astype(np.int32) - fb[fr].astype(np.int32)
        squared += int((diff * diff).sum(dtype=np.int64))
        count += diff.size
    return squared, count


def psnr(squared: float, count: float) -> float:
    if count == 0:
        return float("nan")
    if squared == 0:
        return PSNR_CAP_DB
    return float(min(PSNR_CAP_DB, 10.0 * np.log10(DATA_RANGE**2 * count / squared)))


def masked_psnr(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> float:
    """PSNR of uint8 videos (T, H, W, 3) over the pixels where `region` (T, H, W) is True, pooled."""
    return psnr(*squared_error(a, b, region))


class GtPsnrIn(GroundTruthMetric):
    name, measure, region = "gt_psnr_in", "psnr", "in"
    definition = _definition(measure, region)


class GtPsnrOut(GroundTruthMetric):
    name, measure, region = "gt_psnr_out", "psnr", "out"
    definition = _definition(measure, region)


class GtSsimIn(GroundTruthMetric):
    name, measure, region = "gt_ssim_in", "ssim", "in"
    definition = _definition(measure, region)


class GtSsimOut(GroundTruthMetric):
    name, measure, region = "gt_ssim_out", "ssim", "out"
    definition = _definition(measure, region)


class GtPsnrInSet(SetMetric):
    """PSNR inside the edit masks of the whole set: squared errors and pixel counts summed over
    every sample before the log. The mean of per-sample PSNRs (gt_psnr_in) weighs a sample with a
    tiny mask as much as one with a large mask, and a nearly perfect small region (high dB) can
    hide large errors elsewhere; pooled, every edited pixel counts once."""

    name = "gt_psnr_in_set"
    higher_is_better = True
    requires = frozenset({"ground_truth", "mask"})
    definition = (
        "Set-level PSNR in dB inside the ground-truth edit masks: 10 log10(255^2 * N / S), with S the "
        "squared RGB differences and N the values, summed over every masked pixel of every sample of the set "
        "(overall, and per task); capped at 100 dB. Each record stores its sample's (S, N)."
    )

    def update(self, item: MetricInput) -> dict[str, float]:
        squared, count = squared_error(*_regions(item, "in"))
        return {"squared": squared, "count": count}

    def compute_state(self, total: dict[str, float]) -> float:
        return psnr(total.get("squared", 0), total.get("count", 0))
