"""Tiny in-memory streams in the synthetic-world item format: the data of the tiny preset's smoke
study (reference.studies.smoke_tiny) and of the trainers' tests.

They mimic `eve_bench.synth.streams` (same dict keys, uint8 (H, W, 3) / (T, H, W, 3) frames) with
one coloured square on a coloured background, so they do not depend on the real streams.
"""

from __future__ import annotations

import numpy as np
import torch

COLOURS = {"red": (220, 40, 40), "green": (40, 200, 60), "blue": (40, 70, 220), "yellow": (230, 220, 40)}


def _draw(size: int, bg: str, fg: str, x: int, y: int, s: int) -> np.ndarray:
    img = np.empty((size, size, 3), np.uint8)
    img[:] = COLOURS[bg]
    img[y : y + s, x : x + s] = COLOURS[fg]
    return img


class _TinyStream(torch.utils.data.IterableDataset):
    def __init__(self, seed: int = 0, size: int = 32, split: str = "train", num_frames: int = 4, tasks=None):
        self.seed, self.size, self.num_frames = seed, size, num_frames

    def _scene(self, rng):
        names = list(COLOURS)
        bg, fg = rng.choice(len(names), 2, replace=False)
        s = int(rng.integers(self.size // 4, self.size // 2))
        x, y = (int(v) for v in rng.integers(0, self.size - s, 2))
        return names[bg], names[fg], x, y, s


class TinyImageCaptionStream(_TinyStream):
    def __iter__(self):
        rng = np.random.default_rng(self.seed)
        while True:
            bg, fg, x, y, s = self._scene(rng)
            yield {"image": _draw(self.size, bg, fg, x, y, s), "caption": f"a {fg} square on a {bg} background"}


class TinyEditTripletStream(_TinyStream):
    def __iter__(self):
        rng = np.random.default_rng(self.seed)
        names = list(COLOURS)
        while True:
            bg, fg, x, y, s = self._scene(rng)
            new = [c for c in names if c not in (bg, fg)][int(rng.integers(0, 2))]
            yield {
                "source": _draw(self.size, bg, fg, x, y, s),
                "instruction": f"make the square {new}",
                "target": _draw(self.size, bg, new, x, y, s),
                "source_caption": f"a {fg} square on a {bg} background",
                "target_caption": f"a {new} square on a {bg} background",
                "task": "texture",
            }


class TinyClipStream(_TinyStream):
    def _clip(self, rng):
        bg, fg, x, y, s = self._scene(rng)
        dx, dy = (int(v) for v in rng.integers(-2, 3, 2))
        frames = [
            _draw(self.size, bg, fg, int(np.clip(x + i * dx, 0, self.size - s)), int(np.clip(y + i * dy, 0, self.size - s)), s)
            for i in range(self.num_frames)
        ]
        return np.stack(frames), bg, fg

    def __iter__(self):
        rng = np.random.default_rng(self.seed)
        while True:
            video, bg, fg = self._clip(rng)
            yield {"video": video, "caption": f"a {fg} square moving on a {bg} background"}


class TinyEditClipStream(TinyClipStream):
    """Unsupervised edits of moving-square clips (no target video), as `EditClipStream`."""

    def __iter__(self):
        rng = np.random.default_rng(self.seed)
        while True:
            video, bg, fg = self._clip(rng)
            new = [c for c in COLOURS if c not in (bg, fg)][int(rng.integers(0, 2))]
            yield {"video": video, "instruction": f"make the square {new}",
                   "source_caption": f"a {fg} square on a {bg} background",
                   "target_caption": f"a {new} square on a {bg} background", "task": "texture"}
