"""What a suite is, and the selection every suite shares (tasks, limit, missing videos)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from eve_bench.errors import SuiteError, VideoReadError
from eve_bench.paths import UnsafeNameError, check_name
from eve_bench.sample import Sample
from eve_bench.video import probe_video


def data_text(value: object, what: str, where: str) -> str:
    """A prompt from the data file at `where`: a non-empty string, or SuiteError naming the row.
    (An empty caption would silently make every caption metric undefined for the sample, and a
    number given to the model would be charged to it.)"""
    if value is None or isinstance(value, float) and value != value:  # JSON null; a parquet NaN
        raise SuiteError(f"{where}: {what} is missing ({value!r}); every sample needs this prompt")
    if not isinstance(value, str):
        raise SuiteError(f"{where}: {what} is {value!r} ({type(value).__name__}), not text")
    if not value.strip():
        raise SuiteError(f"{where}: {what} is empty; every sample needs this prompt")
    return value


def data_name(value: object, what: str, where: str) -> str:
    """`value` from the data file at `where` (file and row) as a safe file name, or SuiteError."""
    try:
        return check_name(value, what)
    except UnsafeNameError as e:
        raise SuiteError(f"{where}: {e}") from None


@dataclass(frozen=True)
class Suite:
    name: str
    version: str
    tasks: tuple[str, ...]
    samples: tuple[Sample, ...]
    default_metrics: tuple[str, ...] = ("source_mae",)
    description: str = ""
    info: dict = field(default_factory=dict)  # provenance recorded in the summary (data paths, seeds)
    # Metric family options ("FAMILY.OPTION", metrics/__init__.py) this suite fills where the user
    # left them unset (synth points "clip.model" at the encoders it ships; TGVE leaves the real
    # weights as the metrics' defaults).
    metric_defaults: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Two samples with one key would write the same folders and records: the second would
        # overwrite the first's outputs and the counts would disagree with the means.
        keys = Counter(s.key for s in self.samples)
        twice = sorted(k for k, n in keys.items() if n > 1)
        if twice:
            shown = ", ".join(twice[:5]) + (f" and {len(twice) - 5} more" if len(twice) > 5 else "")
            raise SuiteError(f"suite {self.name!r}: {len(twice)} sample key(s) occur more than once ({shown}); "
                             "every (group, video, edit) must be one sample")

    def select_tasks(self, tasks: list[str] | None) -> "Suite":
        if not tasks:
            return self
        unknown = [t for t in tasks if t not in self.tasks]
        if unknown:
            raise SuiteError(
                f"unknown task(s) {', '.join(unknown)} for suite {self.name!r}; its tasks are {', '.join(self.tasks)}"
            )
        return replace(
            self, tasks=tuple(tasks), samples=tuple(s for s in self.samples if s.task in tasks)
        )

    def limit(self, n: int | None) -> "Suite":
        """Keep at most n samples per task, in suite order (as lm-evaluation-harness's --limit)."""
        if n is None:
            return self
        if n < 1:
            raise SuiteError(f"--limit must be >= 1, got {n}")
        kept, seen = [], {}
        for s in self.samples:
            if seen.get(s.task, 0) < n:
                kept.append(s)
                seen[s.task] = seen.get(s.task, 0) + 1
        return replace(self, samples=tuple(kept))

    def find_unreadable(self) -> dict[str, str]:
        """source path -> reason, for every distinct source file that is missing or cannot be opened."""
        problems: dict[str, str] = {}
        checked: set[str] = set()
        for s in self.samples:
            if s.source_path is None or s.source_path in checked:
                continue
            checked.add(s.source_path)
            try:
                probe_video(s.source_path)
            except VideoReadError as e:
                problems[s.source_path] = str(e)
        return problems

    def without_sources(self, paths) -> "Suite":
        paths = set(paths)
        return replace(self, samples=tuple(s for s in self.samples if s.source_path not in paths))


def missing_sources_message(problems: dict[str, str], n_samples: int) -> str:
    """One line (as every error eve-bench prints): the first 20 problems, then how to go on."""
    shown = [problems[p] for p in sorted(problems)[:20]]
    if len(problems) > len(shown):
        shown.append(f"... and {len(problems) - len(shown)} more")
    return (f"{len(problems)} source video(s) missing or unreadable ({n_samples} sample(s) affected): "
            + "; ".join(shown) + ". Pass --skip-missing to evaluate the remaining samples (the summary counts the "
            "skipped ones as n_missing).")
