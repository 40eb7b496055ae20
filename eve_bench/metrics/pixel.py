"""Metrics computed directly on pixels, with no learned weights."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from eve_bench.metrics.base import Metric, MetricInput


class SourceMAE(Metric):
    name = "source_mae"
    higher_is_better = None
    requires = frozenset({"source"})
    definition = (
        "Mean absolute difference between edited and source frames, in 0-255 pixel units, over all "
        "frames, pixels and channels. A diagnostic of how much the edit changed (identity scores 0)."
    )

    def compute(self, items: Sequence[MetricInput]) -> list[float]:
        out = []
        for item in items:
            edited, source = item.edited.frames, item.source.frames
            if edited.shape != source.shape:
                raise ValueError(f"edited {edited.shape} and source {source.shape} differ in shape")
            out.append(float(np.abs(edited.astype(np.int16) - source.astype(np.int16)).mean()))
        return out
