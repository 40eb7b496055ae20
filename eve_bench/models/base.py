"""The model contract: anything with `edit(request) -> Video` is a video editor."""

from __future__ import annotations

import ast
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


def parse_kv_args(text: str | None) -> dict:
    """Parse "a=1,b=x,c=true" into {"a": 1, "b": "x", "c": True} (Python literals where they parse)."""
    result: dict = {}
    if not text:
        return result
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected key=value in {text!r}, got {part!r}")
        value = value.strip()
        lowered = value.lower()
        if lowered in ("true", "false"):
            parsed = lowered == "true"
        elif lowered in ("none", "null"):
            parsed = None
        else:
            try:
                parsed = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                parsed = value
        result[key.strip()] = parsed
    return result
