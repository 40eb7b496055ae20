"""Clips longer than one pass of a video model: windows that cover them and the join of their outputs.

The window layout is the reference baselines' (`reference.sampling.windows`: [start, end) windows,
consecutive ones sharing `overlap` frames), so both kinds of baseline cut a clip the same way.
"""

from __future__ import annotations

import numpy as np

from reference.sampling import windows


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


__all__ = ["join", "pad_to_step", "windows"]
