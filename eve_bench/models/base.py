"""The model contract: anything with `edit(request) -> Video` is a video editor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from eve_bench.video import Video


@dataclass(frozen=True)
class EditRequest:
    """Everything a model may use; it takes whichever of instruction / captions it understands.

    `video` holds the source frames after the run's frame policy; the model must return the same
    number of frames at the same size, as uint8.
    """

    video: Video
    instruction: str | None
    source_caption: str | None
    target_caption: str | None
    task: str
    seed: int
    video_id: str = ""
    group: str = ""


@runtime_checkable
class VideoEditor(Protocol):
    def edit(self, request: EditRequest) -> Video: ...
