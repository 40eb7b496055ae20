"""Global looks for the style task, applied to rendered float frames (T, H, W, 3) in 0..255.

Each keeps the scene recognisable (outlines and layout survive) and changes nearly every pixel,
including flat regions: quantisation levels avoid the palette's channel values, and the blur
also adds a haze. Pixels are combined only with +, -, * and comparisons so results are
byte-identical on every machine.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from eve_bench.synth.palette import mix

_PAPER, _INK = (250, 244, 228), (38, 36, 48)
_SEPIA_DARK, _SEPIA_LIGHT = (58, 36, 20), (250, 231, 194)
_HAZE = (255, 248, 235)
_PIXEL_LEVELS = (20, 95, 170, 240)
_POSTER_LEVELS = (28, 128, 228)


def luminance(frames: np.ndarray) -> np.ndarray:
    return 0.299 * frames[..., 0] + 0.587 * frames[..., 1] + 0.114 * frames[..., 2]


def sketch(frames: np.ndarray) -> np.ndarray:
    """Dark pencil lines on cream paper where brightness changes, light shading elsewhere."""
    lum = np.pad(luminance(frames), ((0, 0), (1, 1), (1, 1)), mode="edge")
    gx = lum[:, 1:-1, 2:] - lum[:, 1:-1, :-2]
    gy = lum[:, 2:, 1:-1] - lum[:, :-2, 1:-1]
    ink = np.clip((np.abs(gx) + np.abs(gy) - 10.0) / 50.0, 0.0, 1.0)
    shade = 0.8 + 0.2 * lum[:, 1:-1, 1:-1] / 255.0
    paper = np.asarray(_PAPER, np.float32) * shade[..., None]
    return mix(paper, np.asarray(_INK, np.float32), ink)


def pixel_art(frames: np.ndarray) -> np.ndarray:
    """Blocks of 1/32 of the frame, each one flat colour from a four-level-per-channel palette."""
    t, h, w, _ = frames.shape
    b = max(1, min(h, w) // 32)
    padded = np.pad(frames, ((0, 0), (0, -h % b), (0, -w % b), (0, 0)), mode="edge")
    total = np.zeros_like(padded[:, ::b, ::b])
    for dy in range(b):  # explicit sums keep the addition order, hence the bytes, fixed
        for dx in range(b):
            total += padded[:, dy::b, dx::b]
    blocks = _quantise(total / (b * b), _PIXEL_LEVELS)
    return blocks.repeat(b, axis=1).repeat(b, axis=2)[:, :h, :w]


def sepia(frames: np.ndarray) -> np.ndarray:
    tone = np.clip(luminance(frames) / 255.0, 0.0, 1.0)
    return mix(np.asarray(_SEPIA_DARK, np.float32), np.asarray(_SEPIA_LIGHT, np.float32), tone)


def inverted(frames: np.ndarray) -> np.ndarray:
    return 255.0 - frames


def posterised(frames: np.ndarray) -> np.ndarray:
    return _quantise(frames, _POSTER_LEVELS)


def blur(frames: np.ndarray) -> np.ndarray:
    """A soft-focus look: Gaussian blur (sigma 1/40 of the frame) plus a light haze."""
    sigma = max(frames.shape[1], frames.shape[2]) / 40.0
    radius = max(1, math.ceil(3 * sigma))
    weights = [math.exp(-0.5 * (k / sigma) ** 2) for k in range(-radius, radius + 1)]
    weights = [w / sum(weights) for w in weights]
    out = frames
    for axis in (1, 2):
        pad = [(0, 0)] * 4
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="edge")
        n = out.shape[axis]
        out = sum(w * np.take(padded, range(k, k + n), axis=axis) for k, w in enumerate(weights))
    return 0.78 * out + 0.22 * np.asarray(_HAZE, np.float32)


STYLES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sketch": sketch,
    "pixel_art": pixel_art,
    "sepia": sepia,
    "inverted": inverted,
    "posterised": posterised,
    "blur": blur,
}


def apply_style(name: str, frames: np.ndarray) -> np.ndarray:
    return STYLES[name](frames).astype(np.float32, copy=False)


def _quantise(frames: np.ndarray, levels: tuple[int, ...]) -> np.ndarray:
    index = np.clip(np.floor(frames * (len(levels) / 256.0)), 0, len(levels) - 1).astype(np.intp)
    return np.asarray(levels, np.float32)[index]

