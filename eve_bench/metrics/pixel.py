"""Metrics computed directly on pixels, with no learned weights."""

from __future__ import annotations

import numpy as np

from eve_bench.metrics.base import Metric, MetricInput, paired_frames


class SourceMAE(Metric):
    name = "source_mae"
    higher_is_better = None
    requires = frozenset({"source"})
    definition = (
        "Mean absolute difference between edited and source frames, in 0-255 pixel units, over all "
        "frames, pixels and channels. A diagnostic of how much the edit changed (identity scores 0)."
    )

    def score(self, item: MetricInput) -> float:
        edited, source = paired_frames(item)
        return float(np.abs(edited.astype(np.int16) - source.astype(np.int16)).mean())
