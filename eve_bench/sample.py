"""The unit of evaluation: one (video, edit task) pair, and how its frames are prepared."""

from __future__ import annotations

import glob
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from eve_bench.paths import check_name
from eve_bench.video import Video, resize_frames

# The seven TGVE+ tasks; TGVE uses the first four.
TGVE_TASKS = ("style", "object", "background", "multiple")
TGVE_PLUS_TASKS = TGVE_TASKS + ("removal", "addition", "texture")


@dataclass(frozen=True)
class FramePolicy:
    """How source frames are prepared before a model sees them.

    The default keeps native frames and size, as the official TGVE evaluation does. It is recorded
    in every summary because frame count and size change every metric.
    """

    max_frames: int | None = None
    stride: int = 1
    size: int | None = None  # resize to size x size (the TGVE videos are square)

    def __post_init__(self) -> None:
        if self.stride < 1:
            raise ValueError(f"frame stride must be >= 1, got {self.stride}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {self.max_frames}")
        if self.size is not None and self.size < 1:
            raise ValueError(f"frame size must be >= 1, got {self.size}")

    def apply(self, video: Video) -> Video:
        frames = video.frames[:: self.stride]
        if self.max_frames is not None:
            frames = frames[: self.max_frames]
        if self.size is not None:
            frames = resize_frames(frames, (self.size, self.size))
        if frames is video.frames:
            return video
        return Video(np.ascontiguousarray(frames), fps=video.fps / self.stride, meta=video.meta)

    def apply_mask(self, mask: np.ndarray) -> np.ndarray:
        """The same selection for a bool (T, H, W) mask; resizing uses nearest neighbour."""
        mask = mask[:: self.stride]
        if self.max_frames is not None:
            mask = mask[: self.max_frames]
        if self.size is not None and mask.shape[1:] != (self.size, self.size):
            from PIL import Image

            mask = np.stack(
                [np.asarray(Image.fromarray(m).resize((self.size, self.size), Image.NEAREST)) for m in mask]
            )
        return mask

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Sample:
    """One edit to evaluate.

    Videos are loaded lazily through callables so that a suite of hundreds of samples is cheap to
    list, filter and resume. `fingerprint` identifies the sample's content (prompts and source
    file) for cache keys: two samples with the same fingerprint must give the same model input.
    """

    video_id: str
    group: str
    task: str
    instruction: str | None
    source_caption: str | None
    target_caption: str | None
    load_source: Callable[[], Video] = field(repr=False, compare=False)
    fingerprint: str = ""
    edit_id: str = ""  # folder name in the submission layout; the task unless a task repeats
    load_ground_truth: Callable[[], Video] | None = field(default=None, repr=False, compare=False)
    # Ground-truth edit mask, bool (T, H, W): which pixels the edit should change.
    load_mask: Callable[[], np.ndarray] | None = field(default=None, repr=False, compare=False)
    source_path: str | None = None

    def __post_init__(self) -> None:
        if not self.edit_id:
            object.__setattr__(self, "edit_id", self.task)
        # The key becomes folders under --out and the submission: each part must stay one folder.
        for what in ("group", "video_id", "edit_id"):
            check_name(getattr(self, what), f"sample {what}")
        # None means the suite has no such prompt; an empty one is a data error that would silently
        # leave every metric needing it undefined, and one that is not text would reach the model
        # and be charged to it.
        for what, text in self.prompts().items():
            if text is not None and not isinstance(text, str):
                raise ValueError(f"sample {self.key}: {what} is {text!r} ({type(text).__name__}), not text")
            if isinstance(text, str) and not text.strip():
                raise ValueError(f"sample {self.key}: {what} is empty")
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", content_fingerprint(self.prompts(), self.source_path))

    @property
    def key(self) -> str:
        """Position in the submission layout: group/video/edit_id."""
        return f"{self.group}/{self.video_id}/{self.edit_id}"

    def prompts(self) -> dict:
        return {
            "instruction": self.instruction,
            "source_caption": self.source_caption,
            "target_caption": self.target_caption,
            "task": self.task,
        }


def content_fingerprint(*parts) -> str:
    """Stable short hash of JSON-serialisable parts.

    A part that names an existing file or frame folder hashes as its name and byte size, not its
    location or mtime, so moving or re-extracting a dataset keeps cached results valid.
    """
    resolved = []
    for part in parts:
        if isinstance(part, str) and os.path.exists(part):
            paths = [part] if os.path.isfile(part) else sorted(glob.glob(os.path.join(part, "*")))
            resolved.append([os.path.basename(part), sum(os.path.getsize(p) for p in paths)])
        else:
            resolved.append(part)
    blob = json.dumps(resolved, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
