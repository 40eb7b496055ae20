"""`eve-bench judge`: EVE's pairwise human protocol, with a local, pinned VLM as the rater.

For every sample two runs both scored, the judge (eve_bench.encoders.vlm) is shown the input
video, the two edits, the instruction and the output caption, and asked each of the human study's
three questions word for word (eve_bench.questions): the first edit is better, the second is, or
they are equally good. Its answer is the most probable of the three answer tokens: nothing is
sampled, so the same weights, prompts and videos give the same table.

Each question is asked twice, A shown first and B shown first, to cancel position bias. The two
orders are two judgements of one item, as two raters would be, so the table is the human report's
(eve_bench.human.report): % preferring A per question and Avg. with cluster-bootstrap intervals
over samples, and the agreement between the orders, which measures how far an answer survives a
swap of sides. Swapping A and B on the command line mirrors every share (p becomes 100 - p).

`graded_checks` asks the judge about the metric-validity report's graded outputs, whose order on
each question is known by construction (the ground-truth judge's check, criteria-validity.md).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from eve_bench.atomic import atomic_write_text
from eve_bench.encoders.cache import EmbeddingCache
from eve_bench.encoders.vlm import VlmJudge, VlmSettings, resolve_vlm
from eve_bench.encoders.vlm_prompts import PromptSet
from eve_bench.human.report import (TABLE_HEADER, PairReport, Vote, agreement, agreement_table, preference,
                                    question_result, runs_line, table_rows, write_tables)
from eve_bench.human.study import Run
from eve_bench.questions import QUESTIONS, Question
from eve_bench.reports.gallery import suite_samples
from eve_bench.reports.gt_preference import KNOWN_ORDER, KNOWN_TIES, ValidityCheck
from eve_bench.run.results import load_records, load_summary
from eve_bench.run.summary import progress_bar
from eve_bench.sample import FramePolicy, Sample
from eve_bench.tables import csv_table, md_cell, md_table
from eve_bench.video import Video, read_video

ORDERS = ("a", "b")  # the run shown first
RATERS = {"a": "A shown first", "b": "B shown first"}  # each order is one rater of the human report
SHOWN = ("first", "second", "tie")  # what the compare answers say, in the prompt file's order
SAMPLES_PER_CHUNK = 8  # samples whose videos are held in memory at once


@dataclass(frozen=True)
class JudgeConfig:
    """Which runs to judge and where the tables go; what judges them is a `PairJudge`."""

    runs: tuple[str, str]  # A, B: run folders on the same suite, as given on the command line
    model: str  # the VLM weights as named (a folder or a cached hub id), for the tables' text
    out: Path
    progress: bool = True


@dataclass(frozen=True)
class Pair:
    """Two edits of one sample to compare."""

    key: str
    sample: Sample
    source: Video
    a: Video
    b: Video


@dataclass(frozen=True)
class Judgement:
    key: str
    first: str  # the run shown first: "a" | "b"
    question: str  # question id
    probabilities: tuple[float, float, float]  # first better, second better, tie (renormalised)
    answer: str  # in the runs' terms: "a" | "b" | "tie"


class PairJudge:
    """A VLM and a prompt set, asking comparison questions in both orders."""

    def __init__(self, judge: VlmJudge, prompts: PromptSet) -> None:
        self.judge = judge
        self.prompts = prompts

    @classmethod
    def load(cls, model: str, settings: VlmSettings, prompts: str | None, device: str, batch_size: int) -> "PairJudge":
        folder = resolve_vlm(model, flag="--model", what="eve-bench judge")
        return cls(VlmJudge(folder, settings, device=device, batch_size=batch_size, cache=EmbeddingCache()),
                   PromptSet.load(prompts))

    @property
    def id(self) -> str:
        return f"{self.judge.id}|prompts {self.prompts.id}"

    def judge_pairs(self, pairs: Sequence[Pair], questions: Sequence[Question] = QUESTIONS) -> list[Judgement]:
        asked = [(pair, q, first) for pair in pairs for q in questions for first in ORDERS]
        prompts = [self.prompts.comparison(q, pair.sample.instruction, pair.sample.target_caption, pair.source,
                                           *((pair.a, pair.b) if first == "a" else (pair.b, pair.a)))
                   for pair, q, first in asked]
        probs = self.judge.ask(prompts, self.prompts.compare.answers)
        return [Judgement(pair.key, first, q.id, tuple(float(x) for x in p), _answer(p, first))
                for (pair, q, first), p in zip(asked, probs)]


def _answer(probs: np.ndarray, first: str) -> str:
    shown = SHOWN[int(np.argmax(probs))]
    if shown == "tie":
        return "tie"
    return first if shown == "first" else ORDERS[1 - ORDERS.index(first)]


def to_votes(judgements: Iterable[Judgement], run_a: str, run_b: str) -> list[Vote]:
    """One vote per sample and order, answering the questions asked, in the human report's form."""
    answers: dict[tuple[str, str], dict] = defaultdict(dict)
    for j in judgements:
        answers[j.key, j.first][j.question] = j.answer
    return [Vote(i, RATERS[first], run_a, run_b, key, run_a if first == "a" else run_b, given, "")
            for i, ((key, first), given) in enumerate(answers.items())]


# --- two runs ----------------------------------------------------------------------------------


def _runs(run_dirs: Sequence[str]) -> tuple[list[Run], list[dict]]:
    if len(run_dirs) != 2 or run_dirs[0] == run_dirs[1]:
        raise ValueError(f"eve-bench judge compares two different run folders, got {list(run_dirs)}")
    summaries = [load_summary(d) for d in run_dirs]
    for key in ("suite", "suite_info", "frame_policy"):
        if summaries[0].get(key) != summaries[1].get(key):
            raise ValueError(f"{run_dirs[0]} and {run_dirs[1]} differ in {key.replace('_', ' ')}; "
                             "the judge compares edits of the same input videos")
    runs = [Run(d, s["model"], ",".join(f"{k}={v}" for k, v in s.get("model_args", {}).items()))
            for d, s in zip(run_dirs, summaries)]
    return runs, summaries


def run_pairs(run_dirs: Sequence[str], summary: dict) -> tuple[list[str], Iterator[Pair]]:
    """The keys both runs scored, in suite order, and their pairs (videos read as they are needed).
    Edits are read from the frames each run scored (its `output` folder), the input rebuilt from the
    suite under the runs' frame policy."""
    samples = suite_samples(summary)
    if not samples:
        raise ValueError(f"cannot rebuild the {summary['suite']} samples of {run_dirs[0]} here (its data is not on "
                         "this machine, or the suite was made with other arguments); the judge needs the input videos")
    outputs = [{r.key: _frames_dir(d, r.output) for r in load_records(d) if r.status == "ok" and r.output}
               for d in run_dirs]
    keys = [k for k in samples if k in outputs[0] and k in outputs[1]]
    if not keys:
        raise ValueError(f"{run_dirs[0]} and {run_dirs[1]} have no scored sample in common")
    policy = FramePolicy(**(summary.get("frame_policy") or {}))

    def pairs() -> Iterator[Pair]:
        for key in keys:
            source = policy.apply(samples[key].load_source())
            a, b = (read_video(out[key], fps=source.fps) for out in outputs)
            yield Pair(key, samples[key], source, a, b)

    return keys, pairs()


def _frames_dir(run_dir: str, output: str) -> Path:
    """A record's frames: `run` writes them inside the run folder (a relative path), `eval` names
    the submission's folder as it was given."""
    inside = Path(run_dir) / output
    return inside if inside.is_dir() else Path(output)


def _chunks(items: Iterator, n: int) -> Iterator[list]:
    chunk = []
    for x in items:
        chunk.append(x)
        if len(chunk) == n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def judge_runs(cfg: JudgeConfig, judge: PairJudge) -> tuple[PairReport, list[Judgement]]:
    runs, summaries = _runs(cfg.runs)
    keys, pairs = run_pairs(cfg.runs, summaries[0])
    bar = progress_bar(len(keys), "judge", cfg.progress)
    judgements = []
    for chunk in _chunks(pairs, SAMPLES_PER_CHUNK):
        judgements += judge.judge_pairs(chunk)
        bar.update(len(chunk))
    bar.close()
    votes = to_votes(judgements, runs[0].path, runs[1].path)
    return PairReport(runs[0], runs[1], len(votes), preference(votes),
                      tuple(agreement(votes, q.id) for q in QUESTIONS)), judgements


def render_markdown(report: PairReport, judge: PairJudge, model: str) -> str:
    s = judge.judge.settings
    lines = ["# VLM-judged preference", "",
             f"Judged by `{md_cell(model)}` (weights `{judge.judge.weights}`, by content), prompts "
             f"{judge.prompts.id}, {s.frames} frames per video at most {s.max_pixels} pixels each, as {s.input}, "
             f"{s.precision}. For each sample both runs scored, the judge saw the input video, the two edits, the "
             "instruction and the output caption, and answered the human study's three questions (EVE's protocol, "
             "paper section 5.4) with the most probable of: the first is better, the second is, a tie. Each question "
             "was asked with A shown first and with B shown first.", "",
             "Each cell: % of judgements preferring A (ties split, 50 = parity; two judgements per sample, one per "
             "order) with its 95% bootstrap interval over samples; Avg. is the mean of the three questions. The last "
             "columns count judgements for A, ties and for B. VLM-judged: not a human rating.", ""]
    lines += md_table(TABLE_HEADER, table_rows([report]))
    lines += ["", "## Agreement between the two orders", "",
              "Each order is one rater: % of samples on which the answer (in terms of A and B) is the same whichever "
              "run is shown first, and Krippendorff's alpha (nominal; 1 = no position effect, 0 = chance).", ""]
    lines += agreement_table([report]) + ["", runs_line([report.a, report.b]), ""]
    return "\n".join(lines)


def write_judge(cfg: JudgeConfig, judge: PairJudge) -> tuple[str, list[Path]]:
    """judge.md, judge.csv, judge.json (the human report's table) and judgements.csv (each answer's
    probabilities) in `cfg.out`."""
    report, judgements = judge_runs(cfg, judge)
    text = render_markdown(report, judge, cfg.model)
    meta = {"judge": judge.id, "model": cfg.model, "prompts": judge.prompts.id, "settings": asdict(judge.judge.settings)}
    written = write_tables(cfg.out, "judge", text, [report], meta)
    written.append(cfg.out / "judgements.csv")
    atomic_write_text(written[-1], csv_table(
        ["sample", "shown first", "question", "p first", "p second", "p tie", "answer"],
        [[j.key, j.first.upper(), j.question, *(f"{p:.6f}" for p in j.probabilities), j.answer.upper() if j.answer != "tie"
          else "tie"] for j in judgements]))
    return text, written


# --- graded outputs ----------------------------------------------------------------------------


def graded_checks(judge: PairJudge, n_videos: int, seed: int = 0) -> list[ValidityCheck]:
    """Each pair of graded outputs whose order on a question is known (gt_preference.KNOWN_ORDER,
    KNOWN_TIES), judged on every sample of `n_videos` synth videos, that question only, both orders."""
    from eve_bench.reports.validity import graded_outputs
    from eve_bench.synth.suite import load_synth

    graded = list(graded_outputs(load_synth(n_videos=n_videos), seed))
    by_name = {q.name: q for q in QUESTIONS}
    checks = []
    for expect_tie, known in ((False, KNOWN_ORDER), (True, KNOWN_TIES)):
        for name, pairs in known.items():
            for better, worse in pairs:
                shown = [Pair(g.sample.key, g.sample, g.source, Video(g.outputs[better], fps=g.source.fps),
                              Video(g.outputs[worse], fps=g.source.fps)) for g in graded]
                votes = to_votes(judge.judge_pairs(shown, [by_name[name]]), better, worse)
                checks.append(ValidityCheck(name, better, worse, question_result(votes, by_name[name]), expect_tie))
    return checks


def graded_markdown(checks: list[ValidityCheck], judge: PairJudge, command: str) -> str:
    lines = ["# The VLM judge on graded outputs", "",
             f"Generated by `{md_cell(command)}` (judge {judge.id}). Each row shows the judge two outputs of graded, "
             "known quality (eve_bench.reports.validity) of every synth sample, asks the row's question in both "
             "orders, and counts judgements for the better output, ties and for the worse. The ground-truth judge "
             "must win every judgement (criteria-validity.md); a VLM is read by its share: *beyond noise* when the "
             "interval of % preferring the better output is above 50, and for a known tie the share of ties.", ""]
    lines += md_table(["question", "better", "worse", "samples", "% preferring better", "better / tie / worse",
                       "beyond noise"],
                      [[c.question, c.better, f"{c.worse} (a tie)" if c.expect_tie else c.worse,
                        c.result.share.n if c.result.share else 0,
                        "–" if c.result.share is None else
                        f"{c.result.share.estimate:.1f} [{c.result.share.low:.1f}, {c.result.share.high:.1f}]",
                        f"{c.result.wins} / {c.result.ties} / {c.result.losses}",
                        f"{100 * c.result.ties / max(1, c.result.n):.0f}% ties" if c.expect_tie
                        else ("yes" if c.result.share and c.result.share.low > 50 else "no")]
                       for c in checks], escape=False)
    return "\n".join(lines) + "\n"


def write_graded(judge: PairJudge, out: Path, n_videos: int, seed: int, command: str) -> list[Path]:
    """judge-validity.md and .json in `out`."""
    checks = graded_checks(judge, n_videos, seed)
    written = [out / "judge-validity.md", out / "judge-validity.json"]
    atomic_write_text(written[0], graded_markdown(checks, judge, command))
    atomic_write_text(written[1], json.dumps({"command": command, "judge": judge.id,
                                              "checks": [asdict(c) for c in checks]}, indent=2) + "\n")
    return written
