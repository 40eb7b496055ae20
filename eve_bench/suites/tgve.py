"""TGVE (LOVEU-TGVE-2023): 76 videos x 4 edit tasks.

Two layouts are understood:
- the official dataset zip, extracted: `LOVEU-TGVE-2023_Dataset.csv` at the root and
  `<group>/480p_videos/<video>.mp4` or `<group>/480p_frames/<video>/*.jpg`;
- the loveu-tgve-2023 repository's per-video configs, `configs/<group>/<video>.yaml`, with the
  videos under `loveu-tgve-2023/<group>/...` or directly under `<group>/...`.
Edit instructions (the captions say what the result shows; instructions say what to do) come from
the InsV2V file `loveu_tgve_edit_prompt_dict.json` when it is present.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from eve_bench.errors import SuiteError
from eve_bench.sample import TGVE_TASKS, Sample
from eve_bench.suites.base import Suite, data_name, data_text
from eve_bench.video import read_video

GROUPS = ("DAVIS_480p", "youtube_480p", "videvo_480p")
CSV_NAME = "LOVEU-TGVE-2023_Dataset.csv"
INSTRUCTIONS_NAME = "loveu_tgve_edit_prompt_dict.json"
CSV_COLUMNS = {
    "video": "Video name",
    "source": "Our GT caption",
    "style": "Style Change Caption",
    "object": "Object Change Caption",
    "background": "Background Change Caption",
    "multiple": "Multiple Changes Caption",
}
# The CSV separates groups with rows whose first cell names the group ("DAVIS Videos:", ...).
# The official script's three, EVE's two ViCLIP metrics, then weight-free temporal and structure.
TGVE_METRICS = ("clip_text", "clip_frame", "pick_score", "viclip_out", "viclip_dir", "warp_error", "edge_ssim")
SECTION_MARKERS = {"davis": "DAVIS_480p", "youtube": "youtube_480p", "videvo": "videvo_480p"}


@dataclass(frozen=True)
class VideoPrompts:
    group: str
    video: str
    source_caption: str
    target_captions: dict[str, str]  # task -> caption


def load_tgve(data: str | None, instructions: str | None = None, **unknown) -> Suite:
    if unknown:
        raise SuiteError(f"unknown suite argument(s) for tgve: {', '.join(unknown)} (known: instructions)")
    root = require_root(data, "tgve")
    prompts = read_tgve_prompts(root)
    instr = read_instructions(Path(instructions) if instructions else root / INSTRUCTIONS_NAME)
    samples = []
    for vp in prompts:
        source = find_source(root, vp.group, vp.video)
        for task in TGVE_TASKS:
            samples.append(
                make_sample(vp, task, source, instruction=instr.get(vp.video, {}).get(f"edit_{task}"))
            )
    return Suite(
        name="tgve",
        version="2023",
        tasks=TGVE_TASKS,
        samples=tuple(samples),
        default_metrics=TGVE_METRICS,
        description="LOVEU-TGVE-2023: 76 videos (DAVIS, YouTube, Videvo) x style/object/background/multiple",
        info={"data": str(root), "prompt_source": _prompt_source(root), "instructions": bool(instr)},
    )


def make_sample(vp: VideoPrompts, task: str, source: Path, instruction: str | None, edit_id: str = "") -> Sample:
    return Sample(
        video_id=vp.video,
        group=vp.group,
        task=task,
        instruction=instruction,
        source_caption=vp.source_caption,
        target_caption=vp.target_captions.get(task),
        load_source=functools.partial(_read_source, str(source), vp.group),
        source_path=str(source),
        edit_id=edit_id or task,
    )


def _read_source(path: str, group: str):
    # Frame folders carry no frame rate; the TGVE facts: 128-frame YouTube clips play at 14 fps, the rest at 10.
    return read_video(path, fps=None if path.endswith(".mp4") else (14.0 if group == "youtube_480p" else 10.0))


def require_root(data: str | None, suite: str) -> Path:
    """The TGVE data folder `--data` names (TGVE+ reads its videos there too), or SuiteError."""
    if not data:
        raise SuiteError(
            f"suite {suite!r} needs --data PATH: the extracted loveu-tgve-2023 dataset "
            f"(with {CSV_NAME} or configs/<group>/<video>.yaml, and <group>/480p_videos/)"
        )
    root = Path(data)
    if not root.is_dir():
        raise SuiteError(f"--data {root}: no such folder")
    return root


def _prompt_source(root: Path) -> str:
    return CSV_NAME if (root / CSV_NAME).exists() else "configs/*.yaml"


def read_tgve_prompts(root: Path) -> list[VideoPrompts]:
    if (root / CSV_NAME).exists():
        return _read_csv(root / CSV_NAME)
    if (root / "configs").is_dir():
        return _read_configs(root / "configs")
    raise SuiteError(f"{root}: found neither {CSV_NAME} nor a configs/ folder of per-video YAML files")


def _read_csv(path: Path) -> list[VideoPrompts]:
    import pandas as pd

    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as e:
        raise SuiteError(f"{path}: cannot parse CSV ({e})") from e
    missing = [c for c in CSV_COLUMNS.values() if c not in df.columns]
    if missing:
        raise SuiteError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(df.columns)}")
    out, group, lines = [], None, {}
    for i, row in enumerate(df.to_dict("records")):
        name = row[CSV_COLUMNS["video"]].strip()
        caption = row[CSV_COLUMNS["source"]].strip()
        if not name:
            continue
        if not caption:  # a section row such as "DAVIS Videos:"
            group = next((g for k, g in SECTION_MARKERS.items() if k in name.lower()), group)
            continue
        where = f"{path}, line {i + 2}"  # the header is line 1
        if group is None:
            raise SuiteError(f"{where}: video {name!r} appears before any group header row (e.g. 'DAVIS Videos:')")
        data_name(name, f"{CSV_COLUMNS['video']!r}", where)
        if (group, name) in lines:
            raise SuiteError(f"{path}, lines {lines[group, name]} and {i + 2}: video {name!r} of {group} is listed twice; "
                             "each video is one row")
        lines[group, name] = i + 2
        targets = {t: data_text(row[CSV_COLUMNS[t]].strip(), repr(CSV_COLUMNS[t]), where) for t in TGVE_TASKS}
        out.append(VideoPrompts(group, name, caption, targets))
    if not out:
        raise SuiteError(f"{path}: no video rows found")
    return out


def _read_configs(folder: Path) -> list[VideoPrompts]:
    import yaml

    out = []
    for group in GROUPS:
        for path in sorted((folder / group).glob("*.yaml")):
            data_name(path.stem, "video name (the config's file name)", str(path))
            try:
                cfg = yaml.safe_load(path.read_text())
                targets = cfg["validation_data"]["prompts"]
                source = data_text(cfg["train_data"]["prompt"], "train_data.prompt", str(path))
                targets = {t: data_text(targets[t], f"validation_data.prompts.{t}", str(path)) for t in TGVE_TASKS}
                out.append(VideoPrompts(group, path.stem, source, targets))
            except (KeyError, TypeError, yaml.YAMLError) as e:
                raise SuiteError(f"{path}: not a loveu-tgve-2023 config ({type(e).__name__}: {e})") from e
    if not out:
        raise SuiteError(f"{folder}: no <group>/<video>.yaml configs for groups {', '.join(GROUPS)}")
    return out


def read_instructions(path: Path) -> dict[str, dict[str, str]]:
    """InsV2V's `{video: {edit_<task>: instruction}}`, every instruction checked to be text here, so
    bad data stops the run naming the file instead of reaching the model."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise SuiteError(f"{path}: invalid JSON ({e})") from e
    except OSError as e:
        raise SuiteError(f"{path}: cannot read ({e.strerror or e})") from e
    shape = "an object of video name -> {edit_<task>: instruction}"
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: a JSON {type(data).__name__}; expected {shape}")
    for video, entry in data.items():
        if not isinstance(entry, dict):
            raise SuiteError(f"{path}: entry {video!r} is {entry!r}; expected {shape}")
        for key, text in entry.items():
            data_text(text, f"{key!r}", f"{path}, entry {video!r}")
    return data


def find_source(root: Path, group: str, video: str) -> Path:
    """The source video's path: mp4 first, then a frame folder. The first candidate is returned
    when none exists, so that the missing-file check can name it."""
    candidates = [
        base / group / kind
        for base in (root, root / "loveu-tgve-2023")
        for kind in (f"480p_videos/{video}.mp4", f"480p_frames/{video}")
    ]
    return next((c for c in candidates if c.exists()), candidates[0])
