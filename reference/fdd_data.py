"""FDD's unsupervised items from your own videos: source clips with instructions, never an edited
video (`python -m reference.train_fdd --data PATH`).

PATH is one of:
- a JSONL file of rows {"video": path relative to the file, "instruction": ..., "target_caption":
  ..., "task": ...} (`target_caption` and `task` optional), or a CSV file with those columns;
- the TGVE+ parquet (facebook/tgve_plus) inside or beside the TGVE videos, read by the `tgve-plus`
  suite's loader. That is evaluation data: a student aligned on it must not be reported on TGVE or
  TGVE+, and loading it says so.

Each row is checked once, before anything trains: its video exists and decodes, it has enough
frames for one clip, and its instruction is not empty. Rows that fail are left out and counted
by reason (`DataReport`), so a bad row is a line in the log, never a crash hours into a run.
Where a row has no output caption, its instruction stands in for it (the backbone is then
conditioned on the instruction's text; docs/fdd.md says how to write captions offline instead).

A clip is `num_frames` frames taken every `stride`-th frame from a window of the video, resized
(shorter side) and centre-cropped to the checkpoint's resolution. Item i of a split is row
i mod R of that split and window (i div R) mod W of that row (R rows, W whole windows in the row's
video, consecutive and non-overlapping), so items are a pure function of the index: the teacher
bank can make them in any order and a resumed run draws exactly what an uninterrupted one drew.
A seeded share of the rows (`split_rows`) is held out as the probe split, never trained on.
"""

from __future__ import annotations

import csv
import json
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from eve_bench.hashing import json_hash


@dataclass(frozen=True)
class Row:
    """One source video with its edit: where it came from (file:line) for the log."""

    video: Path
    instruction: str
    target_caption: str
    task: str | None
    origin: str


@dataclass
class DataReport:
    """What --data held: rows read, rows usable, and the rest counted by reason."""

    path: str
    rows: int = 0
    usable: int = 0
    skipped: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)  # reason -> the first row it hit
    evaluation_data: bool = False

    def skip(self, reason: str, origin: str) -> None:
        self.skipped[reason] += 1
        self.examples.setdefault(reason, origin)

    def line(self) -> str:
        why = ", ".join(f"{reason}: {n} (first: {self.examples[reason]})" for reason, n in sorted(self.skipped.items()))
        return f"data {self.path}: {self.rows} rows, {self.usable} usable" + (f"; skipped {why}" if why else "")

    def as_dict(self) -> dict:
        return {"path": self.path, "rows": self.rows, "usable": self.usable, "skipped": dict(self.skipped),
                "first_skipped": self.examples, "evaluation_data": self.evaluation_data}


def read_rows(path: str | Path) -> tuple[list[Row], DataReport]:
    """The rows of a JSONL, CSV or TGVE+ parquet file (a folder: the TGVE+ parquet inside it)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"--data {path}: no such file or folder")
    report = DataReport(str(path))
    if path.is_dir() or path.suffix == ".parquet":
        rows = _tgve_plus_rows(path, report)
    elif path.suffix == ".jsonl":
        rows = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                report.rows += 1
                report.skip("not JSON", f"{path.name}:{n} ({e.msg})")
                continue
            rows.append(_row(record, path.parent, f"{path.name}:{n}", report))
    elif path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            rows = [_row(r, path.parent, f"{path.name}:{n}", report) for n, r in enumerate(csv.DictReader(f), 2)]
    else:
        raise ValueError(f"--data {path}: expected a .jsonl or .csv file of rows, or the TGVE+ parquet (or its folder)")
    return [r for r in rows if r is not None], report


def _row(record, base: Path, origin: str, report: DataReport) -> Row | None:
    report.rows += 1
    if not isinstance(record, dict) or not isinstance(record.get("video"), str) or not record["video"].strip():
        report.skip("no video path", origin)
        return None
    instruction = record.get("instruction")
    if not isinstance(instruction, str) or not instruction.strip():
        report.skip("empty instruction", origin)
        return None
    caption = record.get("target_caption")
    caption = caption.strip() if isinstance(caption, str) and caption.strip() else instruction.strip()
    task = record.get("task")
    return Row(base / record["video"], instruction.strip(), caption, task.strip() if isinstance(task, str) and task.strip()
               else None, origin)


def _tgve_plus_rows(path: Path, report: DataReport) -> list[Row]:
    from eve_bench.suites.tgve_plus import load_tgve_plus

    root, parquet = (path, None) if path.is_dir() else (path.parent, str(path))
    warnings.warn(f"--data {path}: TGVE+ is evaluation data; a student aligned on it must not be reported on "
                  "TGVE or TGVE+", stacklevel=3)
    report.evaluation_data = True
    suite = load_tgve_plus(str(root), parquet=parquet)
    rows = []
    for sample in suite.samples:
        report.rows += 1
        rows.append(Row(Path(sample.source_path), sample.instruction, sample.target_caption or sample.instruction,
                        sample.task, f"{Path(parquet or root).name}:{sample.key}"))
    return rows


@dataclass(frozen=True)
class ClipPolicy:
    """How a clip is cut from a video: frames, their stride, and the square size."""

    num_frames: int
    stride: int
    resolution: int

    @property
    def span(self) -> int:
        return (self.num_frames - 1) * self.stride + 1


def usable_rows(rows: list[Row], policy: ClipPolicy, report: DataReport) -> list[tuple[Row, int]]:
    """(row, number of whole windows) for every row whose video decodes and holds one clip."""
    from eve_bench.video import VideoReadError, probe_video

    out = []
    for row in rows:
        if not row.video.is_file():
            report.skip("missing video", row.origin)
            continue
        try:
            frames = probe_video(row.video)[0]
        except (VideoReadError, OSError) as e:
            report.skip("undecodable video", f"{row.origin} ({e})")
            continue
        windows = frames // (policy.num_frames * policy.stride) or (1 if frames >= policy.span else 0)
        if windows == 0:
            report.skip(f"fewer than {policy.span} frames", f"{row.origin} ({frames})")
            continue
        out.append((row, windows))
    report.usable = len(out)
    return out


def split_rows(rows: list, probe: int, seed: int) -> tuple[list, list]:
    """(train, probe): up to `probe` rows chosen by a seeded permutation held out for measuring D
    (at most a fifth of the rows from ten on; one below that, when there are two or more)."""
    n = min(probe, len(rows) // 5) if len(rows) >= 10 else min(probe, 1 if len(rows) >= 2 else 0)
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed)).tolist()
    held = set(order[:n])
    return [r for i, r in enumerate(rows) if i not in held], [r for i, r in enumerate(rows) if i in held]


def cut_clip(frames: np.ndarray, resolution: int) -> np.ndarray:
    """uint8 (F, H, W, 3) -> (F, R, R, 3): the shorter side resized to R (antialiased), centre crop."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    h, w = x.shape[-2:]
    scale = resolution / min(h, w)
    size = (max(resolution, round(h * scale)), max(resolution, round(w * scale)))
    x = torch.nn.functional.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    top, left = (size[0] - resolution) // 2, (size[1] - resolution) // 2
    x = x[:, :, top : top + resolution, left : left + resolution]
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


class VideoItems:
    """The items of one split of --data, indexable (module docstring), as the teacher bank takes them."""

    def __init__(self, rows: list[tuple[Row, int]], policy: ClipPolicy, split: str):
        if not rows:
            raise ValueError(f"--data: no usable rows for the {split} split")
        self.rows, self.policy, self.split = rows, policy, split

    def __len__(self) -> int:
        return sum(w for _, w in self.rows)

    def __getitem__(self, index: int) -> dict:
        from eve_bench.video import read_video

        row, windows = self.rows[index % len(self.rows)]
        start = (index // len(self.rows)) % windows * self.policy.num_frames * self.policy.stride
        frames = read_video(row.video, indices=list(range(start, start + self.policy.span, self.policy.stride))).frames
        return {"video": cut_clip(frames, self.policy.resolution), "instruction": row.instruction,
                "target_caption": row.target_caption, "task": row.task}

    def describe(self) -> dict:
        """What the items are: the policy, and each row's fields and video file size, in order."""
        rows = [[str(r.video), r.instruction, r.target_caption, r.task, r.video.stat().st_size, w] for r, w in self.rows]
        return {"source": "videos", "split": self.split, "num_frames": self.policy.num_frames,
                "stride": self.policy.stride, "resolution": self.policy.resolution, "rows": json_hash(rows)}


def video_sources(path: str | Path, policy: ClipPolicy, probe_items: int, seed: int = 0) -> tuple[dict, DataReport]:
    """{"train": VideoItems, "probe": VideoItems} from --data, and what was left out and why."""
    rows, report = read_rows(path)
    usable = usable_rows(rows, policy, report)
    train, probe = split_rows(usable, probe_items, seed)
    sources = {"train": VideoItems(train, policy, "train")}
    if probe:
        sources["probe"] = VideoItems(probe, policy, "probe")
    return sources, report
