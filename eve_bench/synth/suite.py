"""The `synth` suite: a fixed, versioned evaluation set of procedural videos with exact ground truth.

Video i of seed s is drawn from its own random stream (SEED_TAG, s, i), and each of its seven edits
from (SEED_TAG, s, i, task number), so sets of any size agree on their common videos, and the
frames are the same bytes on every run and machine. Rendering is lazy: listing, filtering and
fingerprinting the 280 samples renders nothing.

Defaults: 64 x 64 pixels is the smallest size at which every shape, surface pattern and style
stays legible (objects span 15 to 25 pixels, stripes 5 or more), and it keeps a full run on a
laptop CPU in seconds. 16 frames at 8 fps is two seconds: long enough for a bounce, half an orbit
or a full pulse, so temporal metrics have motion to judge, and within the 8 to 32 frames that
TGVE-style evaluations feed editing models.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from eve_bench.errors import SuiteError
from eve_bench.sample import TGVE_PLUS_TASKS, Sample, content_fingerprint
from eve_bench.suites.base import Suite
from eve_bench.synth.captions import caption
from eve_bench.synth.masks import edit_mask
from eve_bench.synth.render import render_scene
from eve_bench.synth.scene import Scene, sample_scene
from eve_bench.synth.tasks import TASKS, Edit
from eve_bench.video import Video
from eve_bench.weights import SYNTH_CLIP_DIR, SYNTH_VICLIP_DIR

SUITE_VERSION = "1"  # bump whenever any change to this package changes a caption or a pixel
SEED_TAG = 0  # first word of every evaluation seed; the training streams use other tags
FPS = 8.0
DEFAULTS = {"n_videos": 40, "seed": 0, "num_frames": 16, "size": 64}
GROUP = "synth"
# Ground truth first (what the suite exists for), then text alignment and consistency through the
# small encoders shipped for this suite, then weight-free temporal and structure metrics.
SYNTH_DEFAULT_METRICS = (
    "gt_psnr_in", "gt_psnr_out", "gt_ssim_in", "gt_ssim_out",
    "clip_text", "clip_frame", "clip_dir", "viclip_out", "viclip_dir",
    "warp_error", "edge_ssim", "source_mae",
)


@dataclass(frozen=True)
class SynthVideo:
    video_id: str
    index: int
    scene: Scene
    source_caption: str
    edits: dict[str, Edit]  # task -> edit, in TGVE+ task order


def synth_videos(n_videos: int = 40, seed: int = 0, num_frames: int = 16, size: int = 64) -> list[SynthVideo]:
    """The scenes and edits of the evaluation set (cheap: nothing is rendered)."""
    videos = []
    for i in range(n_videos):
        scene = sample_scene(np.random.default_rng([SEED_TAG, seed, i]), num_frames=num_frames, size=size)
        edits = {
            task: TASKS[task](scene, np.random.default_rng([SEED_TAG, seed, i, 1 + k]))
            for k, task in enumerate(TGVE_PLUS_TASKS)
        }
        videos.append(SynthVideo(f"synth-{i:03d}", i, scene, caption(scene), edits))
    return videos


def load_synth(data: str | None = None, **suite_args) -> Suite:
    """The synth suite. `data` is ignored: everything is generated. suite_args: n_videos, seed,
    num_frames, size (ints; strings from a command line are accepted)."""
    unknown = sorted(set(suite_args) - set(DEFAULTS))
    if unknown:
        raise SuiteError(f"unknown synth suite argument(s) {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
    try:
        args = {k: int(suite_args.get(k, v)) for k, v in DEFAULTS.items()}
    except (TypeError, ValueError) as e:
        raise SuiteError(f"synth suite arguments must be integers ({e})") from e
    if args["n_videos"] < 1 or args["num_frames"] < 1 or args["size"] < 16:
        raise SuiteError(f"synth needs n_videos >= 1, num_frames >= 1 and size >= 16, got {args}")

    samples = []
    for video in synth_videos(**args):
        for task, edit in video.edits.items():
            samples.append(Sample(
                video_id=video.video_id,
                group=GROUP,
                task=task,
                instruction=edit.instruction,
                source_caption=video.source_caption,
                target_caption=edit.target_caption,
                load_source=_RenderLoader(video.scene),
                load_ground_truth=_RenderLoader(edit.scene),
                load_mask=_MaskLoader(video.scene, edit.scene),
                fingerprint=content_fingerprint(
                    GROUP, SUITE_VERSION, args["seed"], video.index, task, args["num_frames"], args["size"]
                ),
            ))
    return Suite(
        name="synth",
        version=SUITE_VERSION,
        tasks=TGVE_PLUS_TASKS,
        samples=tuple(samples),
        default_metrics=SYNTH_DEFAULT_METRICS,
        description="Procedural videos with exact ground-truth edits and edit masks for the seven TGVE+ tasks.",
        info={"generator": "eve_bench.synth", **args, "fps": FPS},
        metric_defaults={"clip.model": str(SYNTH_CLIP_DIR), "viclip.model": str(SYNTH_VICLIP_DIR)},
    )


@lru_cache(maxsize=64)
def _frames(scene: Scene) -> np.ndarray:
    # Keyed on the scene itself, so a source shared by seven samples renders once.
    frames = render_scene(scene)
    frames.setflags(write=False)
    return frames


@dataclass(frozen=True)
class _RenderLoader:
    """Renders a scene on call; a picklable callable, unlike a lambda, for worker processes."""

    scene: Scene

    def __call__(self) -> Video:
        return Video(_frames(self.scene).copy(), fps=FPS)


@dataclass(frozen=True)
class _MaskLoader:
    source: Scene
    edited: Scene

    def __call__(self) -> np.ndarray:
        return edit_mask(self.source, self.edited)
