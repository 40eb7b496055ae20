"""Synthetic-world data streams for training, and batch conversion.

The streams live in `eve_bench.synth.streams` (imported lazily) and are infinite
`torch.utils.data.IterableDataset`s:
  ImageCaptionStream(seed, size, split)            -> dict(image=(H,W,3) uint8, caption)
  EditTripletStream(seed, size, split, tasks)      -> dict(source, instruction, target, source_caption, target_caption, task)
  ClipStream(seed, size, num_frames, split)        -> dict(video=(T,H,W,3) uint8, caption)
  EditClipStream(seed, size, num_frames, split)    -> dict(video, instruction, source_caption, target_caption, task)
                                                      (unsupervised: no target video, for FDD)
Any iterable yielding the same dicts works (the tests use tiny in-test streams).

`batch_iterator` groups a stream into batches, in the training process or, with `num_workers`,
in DataLoader worker processes: on a GPU, drawing synthetic scenes in one process would leave
the accelerator waiting. The synthetic streams give each worker its own seed, so workers never
repeat each other's items.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch

STREAMS = {"image": "ImageCaptionStream", "edit": "EditTripletStream", "clip": "ClipStream",
           "edit_clip": "EditClipStream"}


def make_stream(kind: str, seed: int, size: int, split: str = "train", **kwargs):
    """The synthetic-world stream of `kind` ("image", "edit", "clip", "edit_clip")."""
    try:
        from eve_bench.synth import streams
    except ImportError as e:
        raise RuntimeError(
            f"the synthetic-world streams (eve_bench.synth.streams) are not importable: {e}. "
            "They provide the training data for the synth preset."
        ) from e
    return getattr(streams, STREAMS[kind])(seed=seed, size=size, split=split, **kwargs)


def uint8_to_tensor(images) -> torch.Tensor:
    """uint8 (..., H, W, 3) array/tensor -> float [-1, 1] (..., 3, H, W)."""
    x = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images)
    x = x.float() / 127.5 - 1
    return x.movedim(-1, -3).contiguous()


def batch_iterator(stream: Iterable[dict], batch_size: int, num_workers: int = 0) -> Iterator[dict]:
    """`batches(stream, batch_size)`, made in `num_workers` worker processes when > 0."""
    if num_workers <= 0:
        return batches(stream, batch_size)
    loader = torch.utils.data.DataLoader(
        _Batched(stream, batch_size), batch_size=None, num_workers=num_workers, collate_fn=_as_is,
        persistent_workers=True, prefetch_factor=4,
    )
    return iter(loader)


class _Batched(torch.utils.data.IterableDataset):
    """Each worker batches its own copy of the stream (whose items depend on the worker id)."""

    def __init__(self, stream: Iterable[dict], batch_size: int):
        super().__init__()
        self.stream, self.batch_size = stream, batch_size

    def __iter__(self) -> Iterator[dict]:
        return batches(self.stream, self.batch_size)


def _as_is(batch: dict) -> dict:
    return batch


def batches(stream: Iterable[dict], batch_size: int) -> Iterator[dict]:
    """Group stream items into dicts of lists (strings) / stacked arrays (images), endlessly."""
    it = iter(stream)
    while True:
        items = []
        for _ in range(batch_size):
            try:
                items.append(next(it))
            except StopIteration:
                if not items:
                    return
                break
        out = {}
        for key in items[0]:
            vals = [item[key] for item in items]
            out[key] = np.stack(vals) if isinstance(vals[0], np.ndarray) else list(vals)
        yield out
        if len(items) < batch_size:
            return
