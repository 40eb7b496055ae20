"""Where each object is in each frame."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from eve_bench.synth.scene import SceneObject


@dataclass(frozen=True)
class Poses:
    """Per-frame pose of one object; every field is float64 of shape (T,)."""

    x: np.ndarray
    y: np.ndarray
    scale: np.ndarray
    angle: np.ndarray


def object_poses(obj: SceneObject, num_frames: int) -> Poses:
    # Trigonometry goes through math, one scalar per frame: numpy may vectorise sin/cos differently
    # on different CPUs, and the suite promises the same bytes everywhere.
    t = np.arange(num_frames, dtype=np.float64)
    m = obj.motion
    x = np.full(num_frames, obj.position[0])
    y = np.full(num_frames, obj.position[1])
    scale = np.ones(num_frames)
    angle = np.full(num_frames, obj.angle)
    if m.kind in ("linear", "bouncing"):
        x = x + m.velocity[0] * t
        y = y + m.velocity[1] * t
        if m.kind == "bouncing":
            low = obj.max_extent() + 0.02
            x, y = _reflect(x, low, 1.0 - low), _reflect(y, low, 1.0 - low)
    elif m.kind == "circular":
        x = x + np.array([m.orbit * math.cos(m.phase + m.rate * k) for k in range(num_frames)])
        y = y + np.array([m.orbit * math.sin(m.phase + m.rate * k) for k in range(num_frames)])
    elif m.kind == "scaling":
        scale = np.array([1.0 + m.amplitude * math.sin(m.rate * k) for k in range(num_frames)])
    elif m.kind == "rotating":
        angle = angle + m.rate * t
    return Poses(x=x, y=y, scale=scale, angle=angle)


def _reflect(v: np.ndarray, low: float, high: float) -> np.ndarray:
    """Fold positions back into [low, high] as a ball bouncing off both walls would."""
    span = high - low
    folded = np.mod(v - low, 2 * span)
    return low + np.where(folded > span, 2 * span - folded, folded)
