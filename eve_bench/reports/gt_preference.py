"""Pairwise preference judged by the synth suite's ground truth, in the format of EVE's human tables.

EVE's raters saw two edits of one video and answered three questions: which matches the caption
(Text), which preserves the input's structure (Structure), which is better (Quality). Here each
question is answered per sample by one ground-truth or weight-free metric (`CRITERIA`): the output
closer to the right answer wins, a difference within the criterion's tolerance is a tie. A table
cell is the % of samples preferring A over B with ties split (50 = parity, as in the paper), with
a bootstrap interval over samples; ties are also counted apart. Avg. is the mean of the three.

`criteria_validity` checks each criterion on the metric-validity report's graded outputs (ground
truth, noise, flicker, shuffled frames, partial and wrong edits): it must prefer the better output
of every pair whose order is known by construction. docs/paper_tables.md explains the choices.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Mapping

import numpy as np

from eve_bench.questions import QUALITY, STRUCTURE, TEXT
from eve_bench.reports.uncertainty import Interval, bootstrap_interval, sign_test
from eve_bench.tables import md_table


@dataclass(frozen=True)
class Criterion:
    question: str  # the paper's column
    metric: str
    higher_is_better: bool
    tolerance: float  # |A - B| at most this is a tie
    why: str


CRITERIA = (
    Criterion(TEXT.name, "gt_psnr_in", True, 0.01,
              "edit accuracy: PSNR against the ground-truth edit inside its mask, where the caption says what should be"),
    Criterion(STRUCTURE.name, "gt_psnr_out", True, 0.01,
              "preservation: PSNR against the ground truth outside the edit mask, which equals the input there; "
              "undefined for whole-frame edits (style), which this question leaves out"),
    Criterion(QUALITY.name, "warp_error", False, 0.01,
              "temporal consistency and fidelity: warping error along the input's optical flow; noise, flicker and "
              "shuffled frames all raise it"),
)

# Pairs of graded outputs (eve_bench.reports.validity.VARIANTS) whose order on each question is known by
# construction: (better, worse). Identity and the ground truth are equal outside the mask, so
# Structure must call them a tie.
KNOWN_ORDER = {
    TEXT.name: [("ground_truth", "partial_75"), ("partial_75", "partial_50"), ("partial_50", "partial_25"),
             ("partial_25", "identity"), ("ground_truth", "noise_8"), ("noise_8", "noise_24"), ("noise_24", "noise_48"),
             ("ground_truth", "wrong_edit")],
    STRUCTURE.name: [("ground_truth", "noise_8"), ("noise_8", "noise_24"), ("noise_24", "noise_48"),
                  ("ground_truth", "flicker_30"), ("ground_truth", "shuffled"), ("ground_truth", "wrong_edit")],
    QUALITY.name: [("ground_truth", "noise_8"), ("noise_8", "noise_24"), ("noise_24", "noise_48"),
                ("ground_truth", "flicker_10"), ("flicker_10", "flicker_30"), ("ground_truth", "shuffled")],
}
KNOWN_TIES = {STRUCTURE.name: [("ground_truth", "identity")]}


@dataclass(frozen=True)
class QuestionResult:
    question: str
    wins: int  # samples where A is closer to the right answer
    ties: int
    losses: int
    share: Interval | None  # % of samples preferring A, ties split; None when no sample has both values
    sign_test_p: float

    @property
    def n(self) -> int:
        return self.wins + self.ties + self.losses


@dataclass(frozen=True)
class Preference:
    """A against B: one result per question and their mean (None unless all three are defined)."""

    questions: tuple[QuestionResult, ...]
    avg: Interval | None
    n_shared: int  # samples both runs scored

    def by_question(self) -> dict[str, QuestionResult]:
        return {q.question: q for q in self.questions}

    def mirrored(self) -> "Preference":
        """B against A: wins and losses swapped, every share p becomes 100 - p."""
        return Preference(tuple(replace(q, wins=q.losses, losses=q.wins, share=_mirror(q.share)) for q in self.questions),
                          _mirror(self.avg), self.n_shared)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Preference":
        def interval(x):
            return None if x is None else Interval(**x)

        return cls(tuple(QuestionResult(**{**q, "share": interval(q["share"])}) for q in d["questions"]),
                   interval(d["avg"]), d["n_shared"])


def _mirror(share: Interval | None) -> Interval | None:
    return None if share is None else Interval(100 - share.estimate, 100 - share.high, 100 - share.low, share.n)


def outcome(a: float | None, b: float | None, criterion: Criterion) -> float | None:
    """1 when A is better, 0 when B is, 0.5 for a tie; None when either value is undefined."""
    if a is None or b is None or not (np.isfinite(a) and np.isfinite(b)):
        return None
    if abs(a - b) <= criterion.tolerance:
        return 0.5
    return 1.0 if (a > b) == criterion.higher_is_better else 0.0


def judge(a: Mapping[str, Mapping[str, float | None]], b: Mapping[str, Mapping[str, float | None]]) -> Preference:
    """A against B on the samples both scored: `a` and `b` map a sample key to its metric values."""
    keys = sorted(a.keys() & b.keys())
    # One row per sample, one column per question: 1 / 0.5 / 0, NaN where the question is undefined.
    scores = np.array([[np.nan if (o := outcome(a[k].get(c.metric), b[k].get(c.metric), c)) is None else o
                        for c in CRITERIA] for k in keys]).reshape(len(keys), len(CRITERIA))
    results = []
    for j, c in enumerate(CRITERIA):
        col = scores[:, j][~np.isnan(scores[:, j])]
        wins, ties = int((col == 1).sum()), int((col == 0.5).sum())
        share = bootstrap_interval(100 * col)
        results.append(QuestionResult(c.question, wins, ties, len(col) - wins - ties, share, sign_test(wins, len(col) - wins - ties)))
    defined = all(r.share is not None for r in results)
    # Avg. resamples whole samples, so its interval carries the questions' correlation.
    avg = bootstrap_interval(100 * scores, lambda x: np.nanmean(x, axis=-2).mean(axis=-1)) if defined else None
    return Preference(tuple(results), avg, len(keys))


def run_outputs(records) -> dict[str, dict[str, float | None]]:
    """A run's scored samples as `judge` takes them."""
    return {r.key: r.metrics for r in records if r.status == "ok"}


@dataclass(frozen=True)
class ValidityCheck:
    question: str
    better: str
    worse: str
    result: QuestionResult
    expect_tie: bool

    @property
    def passed(self) -> bool:
        if self.result.share is None:
            return False
        if self.expect_tie:
            return self.result.ties == self.result.n
        return self.result.share.estimate > 50 and self.result.losses == 0


def criteria_validity(rows: list[dict]) -> list[ValidityCheck]:
    """Each known pair of graded outputs judged by its question's criterion. `rows` are
    `eve_bench.reports.validity.score_variants` rows (key, variant and each metric's value)."""
    outputs: dict[str, dict[str, dict]] = {}
    for r in rows:
        outputs.setdefault(r["variant"], {})[r["key"]] = r
    checks = []
    for expect_tie, pairs in ((False, KNOWN_ORDER), (True, KNOWN_TIES)):
        for question, known in pairs.items():
            for better, worse in known:
                result = judge(outputs[better], outputs[worse]).by_question()[question]
                checks.append(ValidityCheck(question, better, worse, result, expect_tie))
    return checks


def validity_markdown(checks: list[ValidityCheck], command: str) -> str:
    lines = ["# Ground-truth preference criteria on graded outputs", "",
             f"Generated by `{command}`. Each row judges two outputs of graded, known quality "
             "(eve_bench.reports.validity) on every synth sample with one question's criterion; the better "
             "output must win on every sample where the question is defined (a known tie must tie).", ""]
    metric = {c.question: c.metric for c in CRITERIA}
    lines += md_table(["question", "metric", "better", "worse", "n", "% preferring better", "wins / ties / losses",
                       "as expected"],
                      [[c.question, metric[c.question], c.better, f"{c.worse} (a tie)" if c.expect_tie else c.worse,
                        c.result.n, "–" if c.result.share is None else f"{c.result.share.estimate:.1f}",
                        f"{c.result.wins} / {c.result.ties} / {c.result.losses}", "yes" if c.passed else "NO"]
                       for c in checks], escape=False)
    return "\n".join(lines) + "\n"
