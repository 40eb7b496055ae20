"""The videos people look at: each sample's source, ground truth and every run's output as small mp4s.

Both the HTML leaderboard's gallery and the human-evaluation server show, for one sample, the
input video and the edited ones. A run folder holds only its outputs (`previews/`), so the source
and (on synth) the ground truth are rebuilt from the suite the run names in its summary, under the
run's frame policy. That is only trusted when the suite loads with the provenance the run recorded
(`suite_info`), rebuilt with the suite arguments it recorded (`suite_args`; older runs recorded
none): one that loads otherwise, or data that is not on this machine, gives no source rather than
the wrong one.

Sample keys come from run files (samples.jsonl); each part is checked to be one plain path
component before it names a file, so a tampered record cannot write or read outside the folders.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from eve_bench.paths import check_name
from eve_bench.run.results import load_records
from eve_bench.sample import FramePolicy, Sample
from eve_bench.video import Video, probe_video, read_video, resize_frames, write_mp4


@dataclass(frozen=True)
class Prompts:
    """What a viewer reads beside a sample's videos (None where the suite has no such text)."""

    task: str
    instruction: str | None = None
    source_caption: str | None = None
    target_caption: str | None = None


def key_parts(key: str) -> tuple[str, str, str]:
    """group, video, edit id of a sample key, each refused unless it is one plain path component."""
    parts = key.split("/")
    if len(parts) != 3:
        raise ValueError(f"sample key {key!r} is not group/video/edit_id")
    return tuple(check_name(p, "sample key part") for p in parts)  # type: ignore[return-value]


def ok_previews(run_dir: str | Path) -> dict[str, Path]:
    """sample key -> the run's preview mp4, for scored samples whose preview lies inside the run folder."""
    root = Path(run_dir).resolve()
    found = {}
    for r in load_records(run_dir):
        if r.status != "ok" or not r.preview:
            continue
        key_parts(r.key)
        path = (root / r.preview).resolve()
        # A preview path in a record is data: it must stay inside the run folder.
        if path.is_relative_to(root) and path.is_file():
            found[r.key] = path
    return found


def suite_samples(summary: dict) -> dict[str, Sample]:
    """key -> Sample of the suite a run was made on, or {} when it cannot be rebuilt as the run saw it."""
    from eve_bench.suites import load_suite

    try:
        suite = load_suite(summary["suite"], summary.get("data"), **summary.get("suite_args", {}))
    except (ValueError, FileNotFoundError, OSError):  # SuiteError is a ValueError; data absent here
        return {}
    if suite.info != summary.get("suite_info", suite.info):
        return {}
    return {s.key: s for s in suite.samples}


def prompts_of(sample: Sample | None, task: str) -> Prompts:
    if sample is None:
        return Prompts(task)
    return Prompts(sample.task, sample.instruction, sample.source_caption, sample.target_caption)


def _small(video: Video, max_side: int | None) -> Video:
    h, w = video.size
    if max_side is None or max(h, w) <= max_side:
        return video
    scale = max_side / max(h, w)
    size = (max(2, round(h * scale)), max(2, round(w * scale)))
    return Video(resize_frames(video.frames, size), fps=video.fps)


def write_reference_videos(sample: Sample, frame_policy: dict, source: Path, ground_truth: Path | None,
                           max_side: int | None) -> tuple[Path | None, Path | None]:
    """Write the sample's source and (where the suite has one and `ground_truth` names a file) its
    ground truth as mp4s, under the run's frame policy, at most `max_side` pixels on a side.
    Returns the paths written (None: no such video)."""
    policy = FramePolicy(**frame_policy) if frame_policy else FramePolicy()
    src = _small(policy.apply(sample.load_source()), max_side)
    write_mp4(src, source, crf=23)
    if sample.load_ground_truth is None or ground_truth is None:
        return source, None
    write_mp4(_small(policy.apply(sample.load_ground_truth()), max_side), ground_truth, crf=23)
    return source, ground_truth


def copy_small(preview: Path, dest: Path, max_side: int | None) -> Path:
    """A run's preview at most `max_side` pixels on a side: copied as it is when already that small."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    _, h, w, _ = probe_video(preview)
    if max_side is None or max(h, w) <= max_side:
        shutil.copyfile(preview, dest)
    else:
        write_mp4(_small(read_video(preview), max_side), dest, crf=28)
    return dest
