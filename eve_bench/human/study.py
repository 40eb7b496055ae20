"""What a pairwise human study judges: every pair of the given runs on every sample both scored.

EVE's protocol (paper section 5.4, after TGVE): a rater sees the input video, the caption of the
output video and two edited videos side by side, and answers three questions. Here the instruction
is shown too, where the suite has one. Items are (pair of runs, sample); the videos are the runs'
own previews, and the inputs are rebuilt from the suite (eve_bench.reports.gallery) into a media folder
beside the votes database, since a run folder does not hold its source.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from eve_bench.reports.gallery import Prompts, key_parts, ok_previews, prompts_of, suite_samples, write_reference_videos
from eve_bench.run.results import load_summary

@dataclass(frozen=True)
class Run:
    path: str  # as given on the command line: the run's identity in the votes database
    model: str
    model_args: str

    @property
    def label(self) -> str:
        return self.model + (f" ({self.model_args})" if self.model_args else "")


@dataclass(frozen=True)
class Item:
    a: int  # index into Study.runs; a < b
    b: int
    key: str


@dataclass(frozen=True)
class Study:
    runs: tuple[Run, ...]
    items: tuple[Item, ...]  # pair by pair, samples in suite order
    prompts: dict[str, Prompts]  # sample key -> its texts
    outputs: tuple[dict[str, Path], ...]  # per run: sample key -> preview mp4 (inside the run folder)
    sources: dict[str, Path]  # sample key -> input video (in the media folder); absent where not rebuilt


def load_study(run_dirs: list[str], media: Path) -> Study:
    if len(run_dirs) < 2:
        raise ValueError("a pairwise study needs at least two run folders")
    if len(set(run_dirs)) != len(run_dirs):
        raise ValueError("the same run folder is given twice")
    summaries = [load_summary(d) for d in run_dirs]
    suites = {s["suite"] for s in summaries}
    if len(suites) > 1:
        raise ValueError(f"runs come from different suites ({', '.join(sorted(suites))}); a study compares edits of the same samples")
    runs = tuple(Run(d, s["model"], ",".join(f"{k}={v}" for k, v in s.get("model_args", {}).items()))
                 for d, s in zip(run_dirs, summaries))
    outputs = tuple(ok_previews(d) for d in run_dirs)
    samples = suite_samples(summaries[0])
    order = list(samples) or sorted(set().union(*outputs))
    items = tuple(Item(a, b, k) for a, b in itertools.combinations(range(len(runs)), 2)
                  for k in order if k in outputs[a] and k in outputs[b])
    if not items:
        raise ValueError("no sample has a preview in two of these runs (were they run with --no-previews?)")
    keys = dict.fromkeys(i.key for i in items)
    sources, prompts = {}, {}
    for key in keys:
        sample = samples.get(key)
        prompts[key] = prompts_of(sample, key_parts(key)[2])
        if sample is None:
            continue
        path = media / "source" / Path(*key_parts(key)).with_suffix(".mp4")
        if not path.exists():  # rebuilt once; the suite is deterministic for a given summary
            # No ground truth: raters compare the edits, they are not shown the answer.
            write_reference_videos(sample, summaries[0].get("frame_policy") or {}, path, None, None)
        sources[key] = path
    return Study(runs, items, prompts, outputs, sources)
