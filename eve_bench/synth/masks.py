"""Ground-truth edit masks: which pixels an edit is allowed to change.

Rendering composites the background and then each object in order, and a layer with coverage 0
leaves a pixel bit-identical (render.py). So a pixel can change only where a changed object
covers it (old or new version) or, when the background changes, where the background shows at
all. The mask is exactly that set, assuming, as every task here does, that unchanged objects keep
their drawing order.
"""

from __future__ import annotations

import numpy as np

from eve_bench.synth.render import object_coverage
from eve_bench.synth.scene import Scene


def edit_mask(source: Scene, edited: Scene) -> np.ndarray:
    """bool (T, H, W): True where `edited` may render differently from `source`."""
    if (source.num_frames, source.size, source.pan) != (edited.num_frames, edited.size, edited.pan):
        raise ValueError("an edit must keep frame count, size and camera pan")
    shape = (source.num_frames, source.size, source.size)
    # A style changes every pixel, and under an unchanged style (blur, pixel blocks) any change
    # can spread beyond its layer, so both cases mark the whole frame.
    if source.style != edited.style or (source.style is not None and source != edited):
        return np.ones(shape, dtype=bool)
    mask = np.zeros(shape, dtype=bool)
    changed = [o for o in source.objects if o not in edited.objects]
    changed += [o for o in edited.objects if o not in source.objects]
    for obj in changed:
        mask |= object_coverage(obj, source.num_frames, source.size) > 0
    if source.background != edited.background:
        mask |= background_visible(source) | background_visible(edited)
    return mask


def background_visible(scene: Scene) -> np.ndarray:
    """bool (T, H, W): where no object covers the pixel completely."""
    visible = np.ones((scene.num_frames, scene.size, scene.size), dtype=bool)
    for obj in scene.objects:
        visible &= object_coverage(obj, scene.num_frames, scene.size) < 1.0
    return visible
