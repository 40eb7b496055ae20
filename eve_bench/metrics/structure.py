"""Structure preservation without learned weights: SSIM between edge maps."""

from __future__ import annotations

from typing import Iterator

import cv2
import numpy as np

from eve_bench.metrics.base import Metric, MetricInput, paired_frames
from eve_bench.metrics.ssim import mean_ssim

EDGE_BLUR_SIGMA = 1.0
EDGE_BLUR_KSIZE = 7  # 2 * ceil(3 sigma) + 1
SOBEL_GAIN = 4.0  # 3x3 Sobel answers 4 to a unit step; /4 puts edges on the luma scale of SSIM's L=1


def edge_frames(frames: np.ndarray) -> Iterator[np.ndarray]:
    """Edge-magnitude maps (H, W, 1) float32, one per frame of a (T, H, W, 3) uint8 video.

    Luma (OpenCV RGB2GRAY, BT.601) in [0, 1], Gaussian blur (sigma 1, 7x7) so that pixel noise
    and fine texture count less than object outlines, then the 3x3 Sobel gradient magnitude
    divided by 4. Borders are OpenCV's default reflect-101.
    """
    for frame in frames:
        luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        luma = cv2.GaussianBlur(luma, (EDGE_BLUR_KSIZE, EDGE_BLUR_KSIZE), EDGE_BLUR_SIGMA)
        gx = cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=3)
        yield (np.sqrt(gx * gx + gy * gy) / SOBEL_GAIN)[..., None]


class EdgeSSIM(Metric):
    name = "edge_ssim"
    higher_is_better = True
    requires = frozenset({"source"})
    definition = (
        "SSIM between the edge maps of edited and source frames, averaged over all pixels of all "
        "frames. Edge map: BT.601 luma in [0,1], Gaussian blur sigma 1 (7x7), 3x3 Sobel gradient "
        "magnitude / 4. SSIM: 11x11 Gaussian window sigma 1.5, data range 1 (C1=1e-4, C2=9e-4), "
        "reflected borders, every pixel averaged (no border crop). Range [-1, 1]; identity scores "
        "1. Compares where outlines are, not their colour: recolouring and restyling that keep the "
        "layout score high, while changed geometry, removed or added outlines, and blur score low."
    )

    def score(self, item: MetricInput) -> float:
        edited, source = paired_frames(item)
        return mean_ssim(edge_frames(edited), edge_frames(source), data_range=1.0)
