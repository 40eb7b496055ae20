"""Editing models used by the harness tests (importable by a subprocess via PYTHONPATH=tests)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from eve_bench.models import EditRequest
from eve_bench.video import Video


class NoisyEditor:
    """Adds seeded noise: deterministic per request, different per sample."""

    calls = 0

    def __init__(self, sleep: float = 0.0, strength: int = 40, device: str = "cpu", note: str = "") -> None:
        self.sleep = sleep
        self.strength = strength  # `note`: an argument the model ignores (a long prompt, say)

    def edit(self, request: EditRequest) -> Video:
        type(self).calls += 1
        time.sleep(self.sleep)
        rng = np.random.default_rng(request.seed)
        noise = rng.integers(-self.strength, self.strength + 1, size=request.video.frames.shape)
        frames = np.clip(request.video.frames.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        return Video(frames, fps=request.video.fps)


def load(**kwargs) -> NoisyEditor:
    return NoisyEditor(**kwargs)


class WeightedEditor:
    """Shifts the brightness by the number in its "weights" file: its outputs change when the
    weights do, as a real model's."""

    def __init__(self, weights: str) -> None:
        self.shift = int(Path(weights).read_text())

    def edit(self, request: EditRequest) -> Video:
        frames = np.clip(request.video.frames.astype(np.int16) + self.shift, 0, 255).astype(np.uint8)
        return Video(frames, fps=request.video.fps)


class FlakyEditor:
    """Raises on every third call; other calls return broken outputs of several kinds."""

    def __init__(self) -> None:
        self.calls = 0

    def edit(self, request: EditRequest):
        self.calls += 1
        frames = request.video.frames
        if self.calls % 3 == 0:
            raise RuntimeError(f"boom on call {self.calls}")
        if self.calls == 1:
            return Video(frames[:, :-2], fps=request.video.fps)  # wrong size
        if self.calls == 2:
            return frames[:-1]  # wrong frame count, bare array
        if self.calls == 4:
            return frames.astype(np.float32) * np.nan  # NaN, wrong dtype
        return request.video


class InvertEditor:
    """Inverts colours; `in_place` does it on the request's frames, as model code often does."""

    def __init__(self, in_place: bool = False) -> None:
        self.in_place = in_place

    def edit(self, request: EditRequest) -> Video:
        if self.in_place:
            np.subtract(255, request.video.frames, out=request.video.frames)
            return request.video
        return Video(255 - request.video.frames, fps=request.video.fps)


class StoppingEditor:
    """On call `on` (or on every style edit of video `video`), hangs for `hang` seconds, calls
    sys.exit(code) or raises KeyboardInterrupt."""

    def __init__(self, on: int = 2, how: str = "exit", hang: float = 5.0, code: int = 0, video: str | None = None) -> None:
        self.on, self.how, self.hang, self.code, self.video = on, how, hang, code, video
        self.calls = 0

    def edit(self, request: EditRequest) -> Video:
        self.calls += 1
        if (request.video_id, request.task) == (self.video, "style") if self.video else self.calls == self.on:
            if self.how == "hang":
                time.sleep(self.hang)
            elif self.how == "exit":
                sys.exit(self.code)
            else:
                raise KeyboardInterrupt
        return request.video


class BrokenEditor:
    """Every call raises."""

    def edit(self, request: EditRequest) -> Video:
        raise RuntimeError("broken model")
