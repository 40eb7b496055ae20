"""Temporal consistency without learned weights: flow-based warping error (Lai et al., ECCV 2018).

Flow is OpenCV's DIS (Kroeger et al. 2016), preset MEDIUM, on BT.601 luma. DIS over Farneback:
its coarse-to-fine patch search keeps track of large displacements where Farneback's polynomial
expansion loses them (a 16 px shift of a 128 px texture: end-point error 1.4 px against 16.5 px
with OpenCV's usual Farneback settings), at about a millisecond per 64x64 pair on one core. It
ships with opencv-python-headless, so the metric needs no weights. The reference used FlowNet2:
our numbers follow its trends, not its values.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from eve_bench.metrics.base import Metric, MetricInput, paired_frames

# Which pixels of frame t have a trustworthy match in frame t+1, after Sundaram et al. (ECCV
# 2010), the test the reference's occlusion masks also use. Forward-backward consistency:
# |F_f + F_b(x + F_f)|^2 < CONSISTENCY_REL (|F_f|^2 + |F_b(x + F_f)|^2) + CONSISTENCY_ABS.
# Motion boundary: |grad u|^2 + |grad v|^2 > BOUNDARY_REL |F_f|^2 + BOUNDARY_ABS is dropped,
# because DIS smooths flow across object edges, so that at a covered strip forward and backward
# flows are both blurred alike and can pass the consistency test (measured on textured squares
# moving 3-6 px/frame over 64-96 px frames: 5-100% of the covered strip kept without it, 0-34%
# with it).
CONSISTENCY_REL = 0.01
CONSISTENCY_ABS = 0.5  # px^2
BOUNDARY_REL = 0.01
BOUNDARY_ABS = 0.002  # px^2 per px^2
SCALE = 1000.0  # report MSE x 1000, the unit editing papers tabulate warping error in
SOURCE_CACHE_BYTES = 1 << 30


@dataclass(frozen=True)
class Motion:
    """For each consecutive pair (t, t+1): where each pixel of frame t lies in frame t+1."""

    maps: np.ndarray  # float32 (T-1, H, W, 2): (x, y) + F_f(x, y), the cv2.remap map of the pair
    valid: np.ndarray  # bool (T-1, H, W): M_t, the pixels whose match is trusted

    @property
    def nbytes(self) -> int:
        return self.maps.nbytes + self.valid.nbytes


def estimate_motion(frames: np.ndarray) -> Motion:
    """Forward and backward DIS flow between consecutive frames of a (T, H, W, 3) uint8 video."""
    t, h, w = frames.shape[:3]
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), axis=-1)
    maps = np.empty((max(t - 1, 0), h, w, 2), np.float32)
    valid = np.empty((max(t - 1, 0), h, w), bool)
    luma = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    for i in range(t - 1):
        forward = dis.calc(luma[i], luma[i + 1], None)
        backward = dis.calc(luma[i + 1], luma[i], None)
        maps[i] = grid + forward
        valid[i] = match_mask(forward, _warp(backward, maps[i]), maps[i])
    return Motion(maps, valid)


def match_mask(forward: np.ndarray, back: np.ndarray, remap: np.ndarray) -> np.ndarray:
    """M_t: consistent with the backward flow `back` (sampled at x + F_f), off motion
    boundaries, and landing inside the frame."""
    h, w = forward.shape[:2]
    magnitude = np.square(forward).sum(-1)
    mismatch = np.square(forward + back).sum(-1)
    consistent = mismatch < CONSISTENCY_REL * (magnitude + np.square(back).sum(-1)) + CONSISTENCY_ABS
    du_dy, du_dx = np.gradient(forward[..., 0])
    dv_dy, dv_dx = np.gradient(forward[..., 1])
    boundary = du_dx**2 + du_dy**2 + dv_dx**2 + dv_dy**2 > BOUNDARY_REL * magnitude + BOUNDARY_ABS
    x, y = remap[..., 0], remap[..., 1]
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    return consistent & ~boundary & inside


def _warp(image: np.ndarray, remap: np.ndarray) -> np.ndarray:
    """image sampled at `remap` (bilinear); out-of-frame samples are masked by the caller."""
    return cv2.remap(image, remap, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def warp_error(frames: np.ndarray, motion: Motion) -> float:
    """SCALE x mean over pairs of the masked MSE between frame t and frame t+1 warped onto t.

    Pairs with no valid pixel are skipped; NaN when no pair counts (e.g. a single frame).
    """
    if frames.shape[0] - 1 != motion.maps.shape[0] or frames.shape[1:3] != motion.maps.shape[1:3]:
        raise ValueError(f"video {frames.shape} does not match motion {motion.maps.shape}")
    errors = []
    for i, valid in enumerate(motion.valid):
        if not valid.any():
            continue
        current = frames[i].astype(np.float32) / 255.0
        warped = _warp(frames[i + 1].astype(np.float32) / 255.0, motion.maps[i])
        errors.append(float(np.square(current - warped).mean(-1)[valid].mean()))
    return SCALE * float(np.mean(errors)) if errors else float("nan")


class _MotionCache:
    """Source motion by content hash: one source video is scored for many edit tasks and models."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, Motion] = OrderedDict()

    def get(self, frames: np.ndarray) -> Motion:
        digest = hashlib.blake2b(np.ascontiguousarray(frames).data, digest_size=16)
        digest.update(repr(frames.shape).encode())
        key = digest.hexdigest()
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        motion = estimate_motion(frames)
        self._entries[key] = motion
        while sum(m.nbytes for m in self._entries.values()) > self.max_bytes and len(self._entries) > 1:
            self._entries.popitem(last=False)
        return motion

    def clear(self) -> None:
        self._entries.clear()


SOURCE_MOTION = _MotionCache(SOURCE_CACHE_BYTES)

_COMMON = (
    "Warping error (Lai et al. 2018), x1000: 1000 x the mean over consecutive pairs t of "
    "sum_i M_t(i) |E_t(i) - W(E_{t+1})(i)|^2 / (3 sum_i M_t(i)), E the edited frames as RGB in "
    "[0,1], W(E_{t+1}) frame t+1 sampled (cv2.remap, bilinear) at x + F_f(x), i.e. warped back "
    "onto t; the squared norm is averaged over the 3 channels (an MSE). Flow F_f (t->t+1) and "
    "F_b (t+1->t): OpenCV DIS preset MEDIUM on BT.601 luma. M_t (Sundaram et al. 2010) keeps "
    "pixels passing the forward-backward check |F_f + F_b(x+F_f)|^2 < 0.01 (|F_f|^2 + "
    "|F_b(x+F_f)|^2) + 0.5, off motion boundaries (|grad u|^2 + |grad v|^2 <= 0.01 |F_f|^2 + "
    "0.002, central differences), and whose x + F_f lands inside the frame. Pairs with an "
    "empty M_t are skipped; NaN for fewer than 2 frames. "
)


class WarpError(Metric):
    name = "warp_error"
    higher_is_better = False
    requires = frozenset({"source"})
    flow_from: ClassVar[str] = "source"  # "source" | "edited"
    definition = _COMMON + (
        "Flow and M come from the SOURCE video, as in the reference: an edit should move the way "
        "the source moves, every method is judged on the same pixels and warps, and a frozen or "
        "temporally garbled output cannot supply its own motion to explain itself. Identity scores "
        "the source's own warping error, which is not 0 (flow and interpolation error). "
        "Penalises edits that legitimately change shape or motion; see warp_error_self."
    )

    def score(self, item: MetricInput) -> float:
        if self.flow_from == "source":
            edited, source = paired_frames(item)
            motion = SOURCE_MOTION.get(source)
        else:
            edited = item.edited.frames
            motion = estimate_motion(edited)
        return warp_error(edited, motion)


class WarpErrorSelf(WarpError):
    name = "warp_error_self"
    requires = frozenset()
    flow_from = "edited"
    definition = _COMMON + (
        "Flow and M come from the EDITED video itself: internal temporal consistency, fair to "
        "edits that change shape or motion (object swap, addition), but blind to whether the "
        "output follows the source, and a static output scores near 0."
    )
