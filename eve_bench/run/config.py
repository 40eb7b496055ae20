"""What a run is asked to do: the suite selection and the run's configuration, and the samples
they select."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from eve_bench.errors import SuiteError
from eve_bench.metrics import MetricOptions
from eve_bench.sample import FramePolicy
from eve_bench.suites import Suite, load_suite
from eve_bench.suites.base import missing_sources_message


@dataclass
class SuiteSelection:
    suite: str = "synth"
    data: str | None = None
    suite_args: dict = field(default_factory=dict)
    tasks: list[str] | None = None
    limit: int | None = None
    skip_missing: bool = False
    frame_policy: FramePolicy = field(default_factory=FramePolicy)


@dataclass
class RunConfig:
    model: str
    out: Path
    selection: SuiteSelection = field(default_factory=SuiteSelection)
    model_args: dict = field(default_factory=dict)
    seed: int = 0
    device: str = "cpu"  # under torchrun, "cuda" becomes each rank's own cuda:<local rank>
    metrics: list[str] | None = None  # None: the suite's defaults
    metric_options: MetricOptions = field(default_factory=MetricOptions)
    fail_fast: bool = False
    previews: bool = True
    progress: bool = True
    timeout: float | None = None  # seconds per model call; past it the run stops (models/guard.py)
    overwrite: bool = False  # replace a run folder's results made with another configuration

    def identity(self, suite: Suite) -> dict:
        """What makes a run folder's outputs this configuration's (folder.py): a folder holds one.
        The world size is not part of it: a run resumes at any number of ranks."""
        return {"model": self.model, "model_args": self.model_args, "seed": self.seed, "suite": suite.name,
                "frame_policy": self.selection.frame_policy.to_dict()}


def prepare_suite(sel: SuiteSelection) -> tuple[Suite, int]:
    """The selected samples and how many were dropped for missing or unreadable sources."""
    suite = load_suite(sel.suite, sel.data, **sel.suite_args).select_tasks(sel.tasks)
    problems = suite.find_unreadable()
    n_missing = 0
    if problems:
        n_missing = sum(1 for s in suite.samples if s.source_path in problems)
        if not sel.skip_missing:
            raise SuiteError(missing_sources_message(problems, n_missing))
        suite = suite.without_sources(problems)
    return suite.limit(sel.limit), n_missing
