"""TGVE+ (facebook/tgve_plus, the EVE paper's extension): the TGVE videos x 7 tasks.

The rows live in one parquet file (instruction, input and output captions, task, the video's
path inside the TGVE zip). Its column names are not pinned down anywhere we can check, so they are
discovered from a list of plausible names; users can map any field explicitly with suite args
(`--suite-args instruction_column=...,task_column=...`). A schema that cannot be mapped fails with
the fields that are missing and the columns that were found.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from eve_bench.errors import SuiteError
from eve_bench.sample import TGVE_PLUS_TASKS
from eve_bench.suites.base import Suite, data_name, data_text
from eve_bench.suites.tgve import GROUPS, TGVE_METRICS, VideoPrompts, find_source, make_sample, require_root

FIELDS = {
    "instruction": ("instruction", "edit_instruction", "edit_prompt", "instruct", "edit_text"),
    "source_caption": ("input_caption", "source_caption", "src_caption", "original_caption", "input_prompt", "source_prompt", "caption_in"),
    "target_caption": ("output_caption", "target_caption", "tgt_caption", "edited_caption", "output_prompt", "target_prompt", "caption_out"),
    "task": ("task", "task_name", "edit_type", "task_type", "edit_task", "category", "type"),
    "video": ("video_path", "relative_path", "video_relative_path", "path", "video", "video_name", "file_name", "filename"),
}
# Checked in order: "remove"/"add" before "object", since "object removal" names removal.
TASK_KEYWORDS = (
    ("remov", "removal"),
    ("add", "addition"),
    ("textur", "texture"),
    ("style", "style"),
    ("background", "background"),
    ("multi", "multiple"),
    ("object", "object"),
    ("local", "object"),
)


def load_tgve_plus(data: str | None, parquet: str | None = None, **args) -> Suite:
    root = require_root(data, "tgve-plus")
    mapping_args = {k: args.pop(f"{k}_column") for k in FIELDS if f"{k}_column" in args}
    if args:
        known = ", ".join(["parquet"] + [f"{k}_column" for k in FIELDS])
        raise SuiteError(f"unknown suite argument(s) for tgve-plus: {', '.join(args)} (known: {known})")
    path = Path(parquet) if parquet else find_parquet(root)
    import pandas as pd

    try:
        df = pd.read_parquet(path)
    except Exception as e:
        raise SuiteError(f"{path}: cannot read parquet ({e})") from e
    if df.empty:
        raise SuiteError(f"{path}: the parquet has no rows")
    columns = map_columns(list(df.columns), mapping_args, path)

    samples, seen = [], Counter()
    for i, row in enumerate(df.to_dict("records")):
        task = normalize_task(row[columns["task"]], columns["task"], i)
        group, video = parse_video_ref(str(row[columns["video"]]), root, columns["video"], i)
        text = {f: data_text(row[columns[f]], f"{f} (column {columns[f]!r})", f"{path}, row {i}")
                for f in ("instruction", "source_caption", "target_caption")}
        vp = VideoPrompts(group, video, text["source_caption"], {task: text["target_caption"]})
        n = seen[(group, video, task)]
        seen[(group, video, task)] += 1
        samples.append(
            make_sample(
                vp,
                task,
                find_source(root, group, video),
                instruction=text["instruction"],
                edit_id=task if n == 0 else f"{task}_{n}",  # several rows may share a (video, task)
            )
        )
    return Suite(
        name="tgve-plus",
        version="1",
        tasks=TGVE_PLUS_TASKS,
        samples=tuple(samples),
        default_metrics=TGVE_METRICS,
        description="TGVE+ (EVE): the 76 TGVE videos x 7 tasks, adding removal, addition and texture",
        info={"data": str(root), "parquet": str(path), "columns": columns},
    )


def find_parquet(root: Path) -> Path:
    found = sorted({p for pattern in ("*.parquet", "tgve_plus/**/*.parquet", "data/*.parquet") for p in root.glob(pattern)})
    if len(found) == 1:
        return found[0]
    if not found:
        raise SuiteError(
            f"no TGVE+ parquet under {root}; download facebook/tgve_plus and pass --suite-args parquet=PATH"
        )
    raise SuiteError(f"several parquet files under {root} ({', '.join(map(str, found))}); choose one with --suite-args parquet=PATH")


def map_columns(columns: list[str], explicit: dict[str, str], path: Path) -> dict[str, str]:
    normalized: dict[str, list[str]] = {}
    for c in columns:
        normalized.setdefault(_norm(c), []).append(c)
    mapping, missing = {}, []
    for field, candidates in FIELDS.items():
        if field in explicit:
            if explicit[field] not in columns:
                raise SuiteError(f"{path}: column {explicit[field]!r} given for {field} is not in the file; columns: {', '.join(columns)}")
            mapping[field] = explicit[field]
            continue
        hits = next((normalized[_norm(c)] for c in candidates if _norm(c) in normalized), None)
        if hits is not None and len(hits) > 1:  # "instruction" and "Instruction": never choose silently
            raise SuiteError(f"{path}: columns {', '.join(map(repr, hits))} could each be the {field}; name one with "
                             f"--suite-args {field}_column=COLUMN")
        if hits is None or hits[0] in mapping.values():
            missing.append(field)
        else:
            mapping[field] = hits[0]
    if missing:
        hints = ",".join(f"{f}_column=COLUMN" for f in missing)
        raise SuiteError(
            f"{path}: cannot map TGVE+ field(s) {', '.join(missing)} to a column; columns found: "
            f"{', '.join(columns)}. Name them with --suite-args {hints}"
        )
    return mapping


def normalize_task(value, column: str, row: int) -> str:
    text = str(value).strip().lower()
    for keyword, task in TASK_KEYWORDS:
        if keyword in text:
            return task
    raise SuiteError(f"row {row}: unknown task {value!r} in column {column!r}; known tasks: {', '.join(TGVE_PLUS_TASKS)}")


def parse_video_ref(ref: str, root: Path, column: str, row: int) -> tuple[str, str]:
    """(group, video) from a path inside the TGVE zip ("DAVIS_480p/480p_videos/x.mp4") or a bare name."""
    parts = [p for p in re.split(r"[\\/]", ref.strip()) if p]
    if not parts:
        raise SuiteError(f"row {row}: empty video reference in column {column!r}")
    video = data_name(Path(parts[-1]).stem, f"video name in {ref!r}", f"row {row} (column {column!r})")
    group = next((p for p in parts if p in GROUPS), None)
    if group is None:
        group = next((g for g in GROUPS if find_source(root, g, video).exists()), None)
    if group is None:
        raise SuiteError(
            f"row {row}: cannot tell the TGVE group of video {ref!r} (column {column!r}); expected a path "
            f"containing one of {', '.join(GROUPS)} or a video present under --data"
        )
    return group, video


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())
