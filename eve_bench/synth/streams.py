"""Endless training streams of synthetic images, edit triplets and clips (torch IterableDatasets).

Disjoint from the evaluation set: every stream seeds from (tag, seed, rank, worker) with tags 1
(train) and 2 (heldout), while the `synth` suite uses tag 0, so no stream draws the suite's scenes.

Generalisation split: the (shape, colour) pairs in HELDOUT_PAIRS never appear in the "train"
split, neither in a source nor in an edit's target, though every shape and every colour does
appear there in other pairings. The "heldout" split yields only samples that show at least one
held-out pair (in the source or, for triplets, in the target), to measure whether a model
composes attributes it has seen only apart.

Defaults: 64 x 64 as in the suite; clips have 8 frames, half the suite's 16, because a clip
model trains on many clips per second on a CPU and 8 frames (one second at 8 fps) still show
every motion clearly. Images and triplets are single frames (frame 0 of a scene).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from eve_bench.synth.captions import caption
from eve_bench.synth.render import render_scene
from eve_bench.synth.scene import Scene, pick, sample_scene
from eve_bench.synth.styles import STYLES
from eve_bench.synth.tasks import TASKS

HELDOUT_PAIRS: frozenset[tuple[str, str]] = frozenset({
    ("circle", "purple"),
    ("square", "orange"),
    ("triangle", "cyan"),
    ("star", "green"),
    ("diamond", "red"),
    ("hexagon", "yellow"),
    ("cross", "pink"),
})
SPLIT_TAGS = {"train": 1, "heldout": 2}  # tag 0 is the evaluation suite's


def shows_heldout_pair(scene: Scene) -> bool:
    return any((o.shape, o.colour) in HELDOUT_PAIRS for o in scene.objects)


def _share(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"style_share must be in [0, 1], got {value}")
    return float(value)


def _tasks(tasks: list[str] | None) -> tuple[str, ...]:
    chosen = tuple(tasks or TASKS)
    unknown = [t for t in chosen if t not in TASKS]
    if unknown:
        raise ValueError(f"unknown task(s) {', '.join(unknown)}; known: {', '.join(TASKS)}")
    return chosen


def belongs(split: str, *scenes: Scene) -> bool:
    """Whether an item made of `scenes` is in `split`: held-out items show a held-out attribute pair."""
    held = any(shows_heldout_pair(s) for s in scenes)
    return held if split == "heldout" else not held


class _SynthStream(IterableDataset):
    """Shared seeding: each (distributed rank, dataloader worker) gets its own endless stream, and
    every iter() replays it from the start, so a run is reproducible."""

    def __init__(self, seed: int, size: int, split: str) -> None:
        super().__init__()
        if split not in SPLIT_TAGS:
            raise ValueError(f"split must be one of {', '.join(SPLIT_TAGS)}, got {split!r}")
        self.seed, self.size, self.split = seed, size, split

    def __iter__(self) -> Iterator[dict]:
        worker = get_worker_info()
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        rank = torch.distributed.get_rank() if distributed else 0
        rng = np.random.default_rng([SPLIT_TAGS[self.split], self.seed, rank, worker.id if worker else 0])
        while True:
            yield self.draw(rng)

    def draw(self, rng: np.random.Generator) -> dict:
        raise NotImplementedError

    def _scene(self, rng: np.random.Generator, num_frames: int, style_share: float = 0.0) -> Scene:
        # Rejection: about one scene in four shows a held-out pair, so either split needs few draws.
        while True:
            scene = sample_scene(rng, num_frames=num_frames, size=self.size)
            if belongs(self.split, scene):
                break
        # No extra draw at share 0, so unstyled streams stay item-for-item what they always were.
        if style_share > 0 and rng.random() < style_share:
            scene = replace(scene, style=pick(rng, STYLES))
        return scene


class ImageCaptionStream(_SynthStream):
    """dict(image=uint8 (H, W, 3), caption=str).

    `style_share`: the share of scenes drawn in one of the global looks of the style task (sepia,
    sketch, ...; the caption names it), so that a text-to-image model trained on the stream knows
    the looks that edit instructions ask for, as a web-trained model does.
    """

    def __init__(self, seed: int = 0, size: int = 64, split: str = "train", style_share: float = 0.0) -> None:
        super().__init__(seed, size, split)
        self.style_share = _share(style_share)

    def draw(self, rng: np.random.Generator) -> dict:
        scene = self._scene(rng, num_frames=1, style_share=self.style_share)
        return {"image": render_scene(scene)[0], "caption": caption(scene)}


class EditTripletStream(_SynthStream):
    """dict(source, target: uint8 (H, W, 3); instruction, source_caption, target_caption, task: str).

    `tasks` restricts the edit tasks (default: all seven), drawn uniformly.
    """

    def __init__(self, seed: int = 0, size: int = 64, split: str = "train", tasks: list[str] | None = None) -> None:
        super().__init__(seed, size, split)
        self.tasks = _tasks(tasks)

    def draw(self, rng: np.random.Generator) -> dict:
        task = pick(rng, self.tasks)
        while True:
            source = sample_scene(rng, num_frames=1, size=self.size)
            edit = TASKS[task](source, rng)
            if belongs(self.split, source, edit.scene):
                break
        return {
            "source": render_scene(source)[0],
            "instruction": edit.instruction,
            "target": render_scene(edit.scene)[0],
            "source_caption": caption(source),
            "target_caption": edit.target_caption,
            "task": task,
        }


class EditClipStream(_SynthStream):
    """dict(video: uint8 (T, H, W, 3); instruction, source_caption, target_caption, task: str).

    Unsupervised video-editing data, as Factorized Diffusion Distillation uses it: a source clip
    and what to do with it, never the result. The edited scene is drawn only to keep the split
    honest (no held-out pair in the target either) and is never rendered, so no target video can
    reach a trainer through this stream. `tasks` as for EditTripletStream.
    """

    def __init__(self, seed: int = 0, size: int = 64, num_frames: int = 8, split: str = "train",
                 tasks: list[str] | None = None) -> None:
        super().__init__(seed, size, split)
        self.num_frames = num_frames
        self.tasks = _tasks(tasks)

    def draw(self, rng: np.random.Generator) -> dict:
        task = pick(rng, self.tasks)
        while True:
            source = sample_scene(rng, num_frames=self.num_frames, size=self.size)
            edit = TASKS[task](source, rng)
            if belongs(self.split, source, edit.scene):
                break
        return {
            "video": render_scene(source),
            "instruction": edit.instruction,
            "source_caption": caption(source),
            "target_caption": edit.target_caption,
            "task": task,
        }


class ClipStream(_SynthStream):
    """dict(video=uint8 (T, H, W, 3), caption=str). `style_share` as for ImageCaptionStream."""

    def __init__(
        self, seed: int = 0, size: int = 64, num_frames: int = 8, split: str = "train", style_share: float = 0.0
    ) -> None:
        super().__init__(seed, size, split)
        self.num_frames = num_frames
        self.style_share = _share(style_share)

    def draw(self, rng: np.random.Generator) -> dict:
        scene = self._scene(rng, num_frames=self.num_frames, style_share=self.style_share)
        return {"video": render_scene(scene), "caption": caption(scene)}
