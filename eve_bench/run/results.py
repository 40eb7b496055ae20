"""Per-sample records, `samples.jsonl` and `summary.json`: the files a run leaves behind.

Schema (version 1) is documented in docs/results.md. Aggregation lives here and only here, so
`run`, `eval` and the leaderboard agree: a metric's mean is taken over the samples that produced a
finite value for it; failed samples are counted, never averaged in silently. `exit_code` turns a summary into the
command's exit status.
"""

from __future__ import annotations

import json
import math
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from eve_bench.atomic import atomic_write_text

SCHEMA_VERSION = 1


@dataclass
class SampleRecord:
    key: str  # group/video/edit_id
    video_id: str
    group: str
    task: str
    edit_id: str
    status: str  # "ok" | "failed"
    cache_key: str = ""
    seed: int | None = None
    error: str | None = None
    traceback: str | None = None  # the last frames of a failure's traceback, for debugging models
    cached: bool = False
    timings: dict = field(default_factory=dict)  # seconds per stage
    metrics: dict = field(default_factory=dict)  # name -> float, or None where undefined (e.g. an empty mask)
    metric_ids: dict = field(default_factory=dict)  # name -> the metric's cache_id when computed
    metric_errors: dict = field(default_factory=dict)
    set_states: dict = field(default_factory=dict)  # set-level metric -> this sample's state (sums), or None
    output: str | None = None  # frames folder, relative to the run folder
    frames_sha256: str | None = None  # digest of the frames scored (video.frames_digest); resume checks it
    preview: str | None = None

    def to_json(self) -> str:
        d = asdict(self)
        # Strict JSON has no NaN: an undefined value is stored as null.
        d["metrics"] = {k: (v if v is None or math.isfinite(v) else None) for k, v in d["metrics"].items()}
        return json.dumps(d, sort_keys=True, allow_nan=False)

    @classmethod
    def from_dict(cls, d: object) -> "SampleRecord":
        """A record from its JSON object; ValueError saying what is wrong when it is not one (a list,
        a field of the wrong type), so no report averages or resumes from a damaged file."""
        problem = _record_problem(d)
        if problem:
            raise ValueError(f"not a sample record: {problem}")
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})  # type: ignore[union-attr]

    def save(self, path: Path) -> None:
        atomic_write_text(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: Path) -> "SampleRecord | None":
        """The record at `path`, or None where there is none or it is damaged (the sample then runs
        again: a record counts only when it can be trusted)."""
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            return None


_TEXT = ("key", "video_id", "group", "task", "edit_id", "status", "cache_key")
_TEXT_OR_NULL = ("error", "traceback", "output", "frames_sha256", "preview")
_OBJECTS = ("timings", "metrics", "metric_ids", "metric_errors", "set_states")


def _record_problem(d: object) -> str | None:
    if not isinstance(d, dict):
        return f"a JSON {type(d).__name__}, not an object"
    for name in _TEXT:
        if (name in d or name != "cache_key") and not isinstance(d.get(name), str):  # cache_key may be absent
            return f"{name} is {d.get(name)!r}, not text"
    if d["status"] not in ("ok", "failed"):
        return f"status is {d['status']!r}, not 'ok' or 'failed'"
    for name in _TEXT_OR_NULL:
        if d.get(name) is not None and not isinstance(d[name], str):
            return f"{name} is {d[name]!r}, not text or null"
    for name in _OBJECTS:
        if name in d and not isinstance(d[name], dict):
            return f"{name} is {d[name]!r}, not an object"
    for name, value in d.get("metrics", {}).items():
        if value is not None and not _is_number(value):
            return f"metric {name} is {value!r}, not a number or null"
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite_values(records: list[SampleRecord], name: str) -> dict[str, float]:
    """key -> value of metric `name` for the samples a mean is taken over: scored ("ok") samples
    with a finite value. The leaderboard's intervals and paired comparisons resample exactly these."""
    return {r.key: float(v) for r in records if r.status == "ok"
            for v in [r.metrics.get(name)] if isinstance(v, (int, float)) and math.isfinite(v)}


def aggregate(records: list[SampleRecord], metric_names: list[str], tasks: tuple[str, ...],
              set_metrics: dict[str, Callable[[dict], float]] | None = None) -> dict:
    """{"overall": {metric: value}, "per_task": {task: {metric: value}}, "counts": {metric: n}}:
    the mean of per-sample metrics, and for set-level ones (`set_metrics`: name -> compute of a
    summed state) the value of the states summed over the scored samples."""
    set_metrics = set_metrics or {}

    def mean_of(rows, name):
        if name in set_metrics:
            states = [r.set_states[name] for r in rows if r.status == "ok" and r.set_states.get(name) is not None]
            total = {k: sum(s.get(k, 0) for s in states) for k in {k for s in states for k in s}}
            value = set_metrics[name](total) if states else None
            return (value if value is None or math.isfinite(value) else None), len(states)
        values = list(finite_values(rows, name).values())
        return (sum(values) / len(values) if values else None), len(values)

    overall, counts, per_task = {}, {}, {}
    for name in metric_names:
        overall[name], counts[name] = mean_of(records, name)
    for task in tasks:
        rows = [r for r in records if r.task == task]
        if rows:
            per_task[task] = {name: mean_of(rows, name)[0] for name in metric_names}
    return {"overall": overall, "per_task": per_task, "counts": counts}


def environment(device: str) -> dict:
    """What the numbers may depend on beyond the run's configuration: versions, the device and the
    torch thread count (float reductions are split by thread: docs/results.md, Determinism); null
    where torch was never loaded in this process (every value came from records, the embedding
    cache or numpy/OpenCV metrics; a warm re-score does not pay a second to import it)."""
    import importlib.metadata as md
    import sys

    import eve_bench

    versions = {"eve_bench": eve_bench.__version__, "python": platform.python_version()}
    for dist in ("torch", "diffusers", "transformers", "numpy", "open_clip_torch"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = None
    torch = sys.modules.get("torch")
    return {"versions": versions, "device": device, "torch_threads": torch.get_num_threads() if torch else None,
            "platform": platform.platform()}


def write_results(out: Path, records: list[SampleRecord], summary: dict) -> None:
    """samples.jsonl, then summary.json: a reader takes a run as finished by its summary, so a
    failure between the two leaves no summary beside other samples (the run folder withdrew the
    last run's summary when this run began)."""
    atomic_write_text(out / "samples.jsonl", "".join(r.to_json() + "\n" for r in records))
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, sort_keys=False, allow_nan=False, default=_json_default) + "\n")


# Exit statuses of `eve-bench run` and `eval` (documented in docs/results.md), after pytest's.
EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_STOPPED = 0, 1, 2, 3


def exit_code(summary: dict) -> int:
    """0 every sample scored; 1 some samples failed; 3 the run stopped early (timeout, the model
    exited, Ctrl-C). 2 (bad input or environment, nothing or not all evaluated) comes from errors."""
    if summary.get("stopped"):
        return EXIT_STOPPED
    return EXIT_FAILED if summary["n_failed"] else EXIT_OK


def load_summary(run_dir: str | Path) -> dict:
    """A finished run's summary; FileNotFoundError or ValueError naming the file when the run has
    none (it did not finish) or it is damaged."""
    path = Path(run_dir) / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no summary.json (is {run_dir} a finished eve-bench run folder?)") from None
    except OSError as e:
        raise ValueError(f"{path}: cannot read ({e.strerror or e})") from None
    except ValueError as e:
        raise ValueError(f"{path}: not valid JSON ({e}); was it cut short?") from None
    problem = _summary_problem(summary)
    if problem:
        raise ValueError(f"{path}: not an eve-bench summary: {problem}")
    return summary


def _summary_problem(s: object) -> str | None:
    """What the reports read of a summary, checked: a damaged one is refused, not half-read."""
    if not isinstance(s, dict):
        return f"a JSON {type(s).__name__}, not an object"
    if s.get("schema_version") != SCHEMA_VERSION:
        return f"schema version {s.get('schema_version')!r} is not {SCHEMA_VERSION}"
    for name in ("model", "suite"):
        if not isinstance(s.get(name), str):
            return f"{name} is {s.get(name)!r}, not text"
    for name in ("n_samples", "n_failed", "n_missing"):
        if not isinstance(s.get(name), int) or isinstance(s.get(name), bool):
            return f"{name} is {s.get(name)!r}, not a whole number"
    metrics = s.get("metrics")
    if not isinstance(metrics, dict) or not isinstance(metrics.get("overall"), dict) or not isinstance(metrics.get("per_task"), dict):
        return "metrics is not {overall: {...}, per_task: {...}}"
    tables = [metrics["overall"], *metrics["per_task"].values()]
    if not all(isinstance(t, dict) for t in tables):
        return "metrics.per_task holds a task that is not an object"
    bad = next(((k, v) for t in tables for k, v in t.items() if v is not None and not (_is_number(v) and math.isfinite(v))), None)
    if bad:
        return f"the mean of {bad[0]} is {bad[1]!r}, not a finite number or null"
    for name in ("model_args", "metric_info", "metric_counts"):
        if not isinstance(s.get(name, {}), dict):
            return f"{name} is {s[name]!r}, not an object"
    if not all(isinstance(v, dict) for v in s.get("metric_info", {}).values()):
        return "metric_info holds a metric that is not an object"
    return None


def load_records(run_dir: str | Path) -> list[SampleRecord]:
    """The records of a finished run (samples.jsonl); [] for a run folder that has none. A damaged
    line is a ValueError naming the file and the line."""
    path = Path(run_dir) / "samples.jsonl"
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise ValueError(f"{path}: cannot read ({e.strerror or e})") from None
    records = []
    for i, line in enumerate(lines, 1):
        if line.strip():
            try:
                records.append(SampleRecord.from_dict(json.loads(line)))
            except ValueError as e:
                raise ValueError(f"{path}, line {i}: {e}") from None
    return records


def _json_default(obj):
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
