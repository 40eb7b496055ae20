"""`eve-bench human report`: the votes as EVE's human-evaluation table, with uncertainty and agreement.

One row per pair of runs (A = the earlier on the `serve` command line, B = the later): per question,
the % of judgements preferring A with ties split (50 = parity, as the paper prints it; its rows are
"% preferring EVE"), and Avg., their mean, in the format and with the result types of the
ground-truth-judged preferences (eve_bench.reports.gt_preference, paper_tables.preference_cells). Counts of
A / tie / B judgements are given apart, so ties are never hidden in the split.

The 95% interval resamples samples, each with all the judgements on it (a cluster bootstrap): the
raters who judged one sample share its difficulty, so resampling single judgements would make the
interval too narrow. The estimate is still the plain share of judgements.

Agreement, where several raters judged the same item (pair and sample): the share of pairs of
raters on an item who gave the same answer, and Krippendorff's alpha (nominal), which corrects it
for chance and allows any number of raters per item.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from eve_bench.atomic import atomic_write_text
from eve_bench.human.store import check_votes_file, study_runs
from eve_bench.human.study import Run
from eve_bench.questions import PREFERENCE_HEADERS, QUESTION_IDS, QUESTIONS
from eve_bench.reports.gt_preference import Preference, QuestionResult
from eve_bench.reports.paper_tables import preference_cells
from eve_bench.reports.uncertainty import bootstrap_interval, sign_test
from eve_bench.tables import csv_table, md_cell, md_table

SCORE = {"a": 1.0, "tie": 0.5, "b": 0.0}
VOTE_COLUMNS = ("assignment", "rater", "run_a", "run_b", "sample", "left_run", *QUESTION_IDS, "created")


@dataclass(frozen=True)
class Vote:
    assignment: int
    rater: str
    run_a: str
    run_b: str
    sample: str
    left_run: str
    answers: dict  # question -> "a" | "b" | "tie"
    created: str


@dataclass(frozen=True)
class Agreement:
    question: str
    items: int  # items judged by two raters or more
    rater_pairs: int
    percent: float | None  # % of rater pairs on an item who agree
    alpha: float | None  # Krippendorff's alpha, nominal; None when every answer is the same


@dataclass(frozen=True)
class PairReport:
    a: Run
    b: Run
    votes: int
    preference: Preference
    agreement: tuple[Agreement, ...]


def load_votes(db: Path) -> tuple[list[Run], bool, list[Vote]]:
    if not Path(db).is_file():
        raise FileNotFoundError(f"{db}: no votes database")
    check_votes_file(db)  # before sqlite, which would make an empty or foreign file a database
    conn = sqlite3.connect(f"{Path(db).resolve().as_uri()}?mode=ro", uri=True)  # a report never writes the votes
    try:
        runs, ties = study_runs(conn)
        rows = conn.execute(f"SELECT {', '.join(VOTE_COLUMNS)} FROM votes ORDER BY assignment").fetchall()
    except (ValueError, sqlite3.DatabaseError) as e:
        raise ValueError(f"{db}: {e}") from None
    finally:
        conn.close()
    return runs, ties, [Vote(r[0], r[1], r[2], r[3], r[4], r[5], dict(zip(QUESTION_IDS, r[6:9])), r[9]) for r in rows]


def _sums(votes: list[Vote], questions) -> np.ndarray:
    """Per sample (sorted) and question: the sum of the judgements' scores (A 1, tie 0.5, B 0) and
    their number, in columns 2j and 2j + 1."""
    row = {s: i for i, s in enumerate(sorted({v.sample for v in votes}))}
    data = np.zeros((len(row), 2 * len(questions)))
    for v in votes:
        for j, q in enumerate(questions):
            data[row[v.sample], 2 * j] += SCORE[v.answers[q.id]]
            data[row[v.sample], 2 * j + 1] += 1
    return data


def _share(j: int):
    """The % preferring A on question j of `_sums` columns, for the bootstrap."""
    return lambda x: 100 * x[..., 2 * j].sum(axis=-1) / x[..., 2 * j + 1].sum(axis=-1)


def _result(votes: list[Vote], data: np.ndarray, j: int, question) -> QuestionResult:
    counts = Counter(v.answers[question.id] for v in votes)
    return QuestionResult(question.name, counts["a"], counts["tie"], counts["b"], bootstrap_interval(data, _share(j)),
                          sign_test(counts["a"], counts["b"]))


def preference(votes: list[Vote]) -> Preference:
    """A against B over these votes: per question wins / ties / losses and the share preferring A,
    with a bootstrap interval over samples."""
    data = _sums(votes, QUESTIONS)
    results = [_result(votes, data, j, q) for j, q in enumerate(QUESTIONS)]
    avg = bootstrap_interval(data, lambda x: np.mean([_share(j)(x) for j in range(len(QUESTIONS))], axis=0))
    return Preference(tuple(results), avg, len(data))


def question_result(votes: list[Vote], question) -> QuestionResult:
    """One question alone over votes that answer it (those of a check that asks only it)."""
    return _result(votes, _sums(votes, (question,)), 0, question)


def agreement(votes: list[Vote], question: str) -> Agreement:
    by_item: dict[tuple, list[str]] = {}
    for v in votes:
        by_item.setdefault((v.run_a, v.run_b, v.sample), []).append(v.answers[question])
    units = [answers for answers in by_item.values() if len(answers) >= 2]
    pairs = [(x, y) for answers in units for x, y in itertools.combinations(answers, 2)]
    percent = 100 * sum(x == y for x, y in pairs) / len(pairs) if pairs else None
    # Krippendorff's alpha (nominal): the coincidence matrix counts every ordered pair of answers
    # within a unit, weighted 1 / (m - 1) for a unit with m answers.
    coincidence: Counter = Counter()
    for answers in units:
        for i, j in itertools.permutations(range(len(answers)), 2):
            coincidence[answers[i], answers[j]] += 1 / (len(answers) - 1)
    totals: Counter = Counter()
    for (c, _), w in coincidence.items():
        totals[c] += w
    n = sum(totals.values())
    disagree = sum(w for (c, k), w in coincidence.items() if c != k)
    expected = sum(totals[c] * totals[k] for c in totals for k in totals if c != k)
    alpha = 1 - (n - 1) * disagree / expected if expected else None
    return Agreement(question, len(units), len(pairs), percent, alpha)


def build_report(db: Path) -> tuple[list[Run], bool, list[Vote], list[PairReport]]:
    runs, ties, votes = load_votes(db)
    by_path = {r.path: r for r in runs}
    reports = []
    for a, b in itertools.combinations(runs, 2):
        pair_votes = [v for v in votes if (v.run_a, v.run_b) == (a.path, b.path)]
        if pair_votes:
            reports.append(PairReport(by_path[a.path], by_path[b.path], len(pair_votes), preference(pair_votes),
                                      tuple(agreement(pair_votes, q) for q in QUESTION_IDS)))
    return runs, ties, votes, reports


def _fmt(x: float | None, digits: str) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:{digits}}"


TABLE_HEADER = ["A", "B", "votes", "samples"] + [f"{h} (% A)" for h in PREFERENCE_HEADERS] + \
               [f"{q.name} A / tie / B" for q in QUESTIONS]


def table_rows(reports: list[PairReport]) -> list[list[str]]:
    return [[p.a.label, p.b.label, str(p.votes), str(p.preference.n_shared)] + preference_cells(p.preference)
            + [f"{q.wins} / {q.ties} / {q.losses}" for q in p.preference.questions] for p in reports]


def render_markdown(db: Path, runs: list[Run], ties: bool, votes: list[Vote], reports: list[PairReport]) -> str:
    raters = sorted({v.rater for v in votes})
    lines = ["# Human evaluation", "",
             f"{len(votes)} judgements by {len(raters)} rater(s) ({md_cell(', '.join(raters))}) in `{md_cell(db)}`; "
             f"ties {'allowed' if ties else 'not allowed'}. Raters saw the input video, the output caption and the "
             "instruction, and the two edits side by side in random order without the models' names (EVE's protocol, "
             "paper section 5.4).", "",
             "Each cell: % of judgements preferring A (ties split, 50 = parity) with its 95% bootstrap interval over "
             "samples; Avg. is the mean of the three questions. The last columns count judgements for A, ties and for B.", ""]
    lines += md_table(TABLE_HEADER, table_rows(reports))
    lines += ["", "## Agreement between raters", "",
              "On items (a pair and a sample) judged by two raters or more: % of pairs of raters giving the same answer, "
              "and Krippendorff's alpha (nominal; 1 = perfect, 0 = chance).", ""]
    lines += agreement_table(reports) + ["", runs_line(runs), ""]
    return "\n".join(lines)


def agreement_table(reports: list[PairReport]) -> list[str]:
    return md_table(["A", "B", "question", "items", "rater pairs", "agreement %", "alpha"],
                    [[md_cell(p.a.label), md_cell(p.b.label), q.name, g.items, g.rater_pairs, _fmt(g.percent, ".1f"),
                      _fmt(g.alpha, ".2f")] for p in reports for g, q in zip(p.agreement, QUESTIONS)], escape=False)


def runs_line(runs: list[Run]) -> str:
    return "Runs: " + ", ".join(f"{md_cell(r.label)} = `{md_cell(r.path)}`" for r in runs)


def pairs_json(reports: list[PairReport]) -> list[dict]:
    """The table's content for programs: each pair's runs, counts, preference (with intervals) and agreement."""
    return [{"a": {**asdict(p.a), "label": p.a.label}, "b": {**asdict(p.b), "label": p.b.label}, "votes": p.votes,
             "preference": p.preference.to_dict(), "agreement": [asdict(g) for g in p.agreement]} for p in reports]


def write_tables(out: Path, stem: str, markdown: str, reports: list[PairReport], meta: dict) -> list[Path]:
    """STEM.md (`markdown`), STEM.csv (the preference table) and STEM.json (`meta` and every pair) in `out`."""
    written = [out / f"{stem}.md", out / f"{stem}.csv", out / f"{stem}.json"]
    atomic_write_text(written[0], markdown)
    atomic_write_text(written[1], csv_table(TABLE_HEADER, table_rows(reports)))
    atomic_write_text(written[2], json.dumps({**meta, "pairs": pairs_json(reports)}, indent=2) + "\n")
    return written


def write_report(db: Path, out: Path | None) -> tuple[str, list[Path]]:
    """The report's markdown, and (with `out`) human_eval.md, .csv (the table), .json (the table with its
    counts and agreement) and votes.csv (every vote)."""
    runs, ties, votes, reports = build_report(db)
    text = render_markdown(db, runs, ties, votes, reports)
    if out is None:
        return text, []
    written = write_tables(out, "human_eval", text, reports,
                           {"db": str(db), "ties": ties, "raters": sorted({v.rater for v in votes})})
    written.append(out / "votes.csv")
    atomic_write_text(written[-1], csv_table(VOTE_COLUMNS, [[v.assignment, v.rater, v.run_a, v.run_b, v.sample, v.left_run,
                                                        *(v.answers[q] for q in QUESTION_IDS), v.created] for v in votes]))
    return text, written
