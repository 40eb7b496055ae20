"""Clips longer than one pass of a video model: windows that cover them and the join of their outputs.

The public baselines (diffusers_pipeline.py) and the reference ones (reference/baselines.py) both
cut a clip with `windows`, so every model sees a long clip the same way.
"""

from __future__ import annotations

import numpy as np


def windows(num_frames: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) windows covering num_frames; consecutive windows share `overlap` frames."""
    if window < 1 or not 0 <= overlap < window:
        raise ValueError(f"need window >= 1 and 0 <= overlap < window, got window={window}, overlap={overlap}")
    if num_frames <= window:
        return [(0, num_frames)]
    out, start = [], 0
    while True:
        end = min(start + window, num_frames)
        out.append((start, end))
        if end == num_frames:
            return out
        start = end - overlap


def join(pieces: list[tuple[int, int, np.ndarray]], num_frames: int) -> np.ndarray:
    """Frames (T, H, W, C) float from windows `(start, end, frames)`; where windows overlap, a linear
    crossfade from the earlier window to the later one (weights summing to one), so no frame jumps
    from one window's result to the next."""
    out = np.zeros((num_frames, *pieces[0][2].shape[1:]), np.float64)
    total = np.zeros(num_frames, np.float64)
    for i, (start, end, frames) in enumerate(pieces):
        weight = np.ones(end - start)
        if i > 0:
            shared = max(0, pieces[i - 1][1] - start)
            weight[:shared] = np.arange(1, shared + 1) / (shared + 1)
        if i + 1 < len(pieces):
            shared = max(0, end - pieces[i + 1][0])
            if shared:
                weight[end - start - shared:] *= 1 - np.arange(1, shared + 1) / (shared + 1)
        out[start:end] += weight[:, None, None, None] * frames
        total[start:end] += weight
    return (out / total[:, None, None, None]).astype(np.float32)


def pad_to_step(num_frames: int, step: int) -> int:
    """The smallest count >= num_frames of the form step * k + 1: what a VAE that compresses time
    `step`-fold keeps whole (Wan, Lucy: 4k + 1). step 1: any count."""
    if step <= 1:
        return num_frames
    return -(-(num_frames - 1) // step) * step + 1
