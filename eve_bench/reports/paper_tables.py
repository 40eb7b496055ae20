"""EVE's Tables 1 and 2 in the paper's layout, from published numbers and eve-bench runs.

- `table1-tgve.md`, `table1-tgve-plus.md`: the published rows (eve_bench/reports/reported) and any runs
  measured on that benchmark, in Table 1's columns.
- `table1-synth.md`: synth runs with the paper's four automatic metrics, the ground-truth
  metrics, and the ground-truth-judged preference (eve_bench.reports.gt_preference) of the EVE student
  against each other run, in the format of the paper's human columns.
- `table2-synth.md`: the ground-truth-judged preference of full EVE against each ablation run,
  with intervals, the paper's human numbers beside them, and whether the paper's ordering holds.

Given tables of `eve-bench judge` (`vlm_judged`, judge.json), both synth tables add VLM-judged
columns: the same questions asked of a vision-language model, labelled as such, never as human.

Each table has a CSV of its cells and the preference tables a plot. Run folders that do not exist
(a student not trained yet) become a line saying so, not an error: `leaderboards/paper_tables.sh`
lists every run the tables can use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from eve_bench.atomic import atomic_write_text
from eve_bench.figures import new_figure, save_png
from eve_bench.questions import PREFERENCE_COLUMNS, PREFERENCE_HEADERS, QUESTION_NAMES
from eve_bench.reports.gt_preference import CRITERIA, Preference, criteria_validity, judge, run_outputs, validity_markdown
from eve_bench.reports.leaderboard import reported_lines
from eve_bench.reports.reported import PAPER_METRICS, ablations
from eve_bench.reports.rows import collect, fmt_ci, interval, reported_table
from eve_bench.reports.uncertainty import Interval
from eve_bench.run.results import load_records
from eve_bench.tables import csv_table, md_cell, md_table

GT_METRICS = ("gt_psnr_in", "gt_psnr_out", "gt_ssim_in", "gt_ssim_out")
PREFERENCE_HEADER = list(PREFERENCE_HEADERS)


@dataclass(frozen=True)
class PaperTablesConfig:
    out: Path
    eve: Path | None = None  # the EVE student's synth run: Table 1 synth's first row, Table 2's full EVE
    synth: list[Path] = field(default_factory=list)  # the other synth runs of Table 1 (baselines)
    ablations: dict[str, Path] = field(default_factory=dict)  # Table 2 row (reported method id) -> synth run
    tgve: list[Path] = field(default_factory=list)
    tgve_plus: list[Path] = field(default_factory=list)
    validity_videos: int = 0  # > 0: also check the preference criteria on this many synth videos
    vlm_judged: list[Path] = field(default_factory=list)  # judge.json files of `eve-bench judge`
    seeds: list["SeedPair"] = field(default_factory=list)  # Table 2 rows again, one per training seed


@dataclass(frozen=True)
class SeedPair:
    """Full EVE and one ablation trained with the same training seed: a Table 2 row for that seed."""

    method: str  # a Table 2 row (reported method id)
    seed: str
    eve: Path
    ablation: Path


def _is_run(path: Path | None) -> bool:
    return path is not None and (Path(path) / "summary.json").exists()


def _missing_line(paths) -> list[str]:
    missing = [str(p) for p in paths if p is not None and not _is_run(p)]
    return ["", "Not run (no summary.json), left out: " + ", ".join(md_cell(p) for p in missing)] if missing else []


def _pct(share: Interval | None) -> str:
    return "–" if share is None else fmt_ci(share.estimate, share, ".1f")


def load_judged(paths: list[Path]) -> dict[tuple[str, str], Preference]:
    """(run A, run B) as resolved paths -> the VLM-judged preference of `eve-bench judge` tables
    (judge.json), each pair also under (B, A), mirrored."""
    judged = {}
    for path in paths:
        table = json.loads(Path(path).read_text())
        if "judge" not in table:  # a human report's table has the same form: never label it VLM-judged
            raise ValueError(f"--vlm-judged {path}: not a judge.json of eve-bench judge")
        for pair in table["pairs"]:
            a, b = (str(Path(pair[side]["path"]).resolve()) for side in ("a", "b"))
            pref = Preference.from_dict(pair["preference"])
            judged[a, b], judged[b, a] = pref, pref.mirrored()
    return judged


def _vlm_cells(judged: dict, eve: Path | None, run) -> list[str]:
    """The VLM-judged preference of EVE against `run`, where tables were given."""
    if not judged:
        return []
    key = (str(Path(eve).resolve()), str(Path(run).resolve())) if eve is not None and run is not None else None
    return preference_cells(judged.get(key))


VLM_SENTENCE = ("Columns marked VLM are VLM-judged, not human: `eve-bench judge` asked a vision-language model the human "
                "study's three questions in both orders (docs/metrics-vlm.md); % of judgements preferring the first "
                "run, ties split, with intervals over samples.")


def preference_cells(pref: Preference | None) -> list[str]:
    if pref is None:
        return ["–"] * len(PREFERENCE_HEADER)
    return [_pct(q.share) for q in pref.questions] + [_pct(pref.avg)]


def _comparable_note(rows: list[dict]) -> list[str]:
    differs = rows[0]["differs"] if rows else []
    return ["", f"**Not comparable as they stand**: these runs differ in {', '.join(differs)} (see `eve-bench leaderboard`)."] if differs else []


# --- Table 1 on TGVE / TGVE+ -----------------------------------------------------------------------


def table1_reported(benchmark: str, runs: list[Path]) -> tuple[str, list[str], list[list[str]]]:
    rows = collect([p for p in runs if _is_run(p)])
    header, body = reported_table(rows, benchmark)
    lines = [f"# Table 1 ({md_cell(benchmark)}): published numbers and measured runs"]
    lines += reported_lines(rows, benchmark)[1:] + _comparable_note(rows) + _missing_line(runs)
    return "\n".join(lines) + "\n", header, body


# --- Table 1 on synth ------------------------------------------------------------------------------


def _label(r: dict) -> str:
    return Path(r["run"]).name


def table1_synth(eve: Path | None, others: list[Path], judged: dict | None = None) -> tuple[str, list[str], list[list[str]], list]:
    present = [p for p in ([eve] if eve else []) + others if _is_run(p)]
    rows = collect(present)
    has_eve = _is_run(eve)
    eve_outputs = run_outputs(load_records(eve)) if has_eve else None
    header = (["method", "model", "n"] + [c.name + " ↑" for c in PAPER_METRICS] + [m + " ↑" for m in GT_METRICS]
              + PREFERENCE_HEADER + (["VLM " + h for h in PREFERENCE_HEADER] if judged else []))
    body, plotted = [], []
    for i, r in enumerate(rows):
        pref = None
        if has_eve and i > 0:
            pref = judge(eve_outputs, run_outputs(load_records(r["run"])))
            plotted.append((_label(r), pref, None))
        body.append([_label(r), r["model"], str(r["n_samples"])]
                    + [fmt_ci(r["overall"].get(c.metric), interval(r, c.metric), f".{c.decimals}f") for c in PAPER_METRICS]
                    + [fmt_ci(r["overall"].get(m), interval(r, m), ".3g") for m in GT_METRICS]
                    + preference_cells(pref) + _vlm_cells(judged, eve, r["run"] if i > 0 else None))
    lines = ["# Table 1 (synth): measured runs with ground truth", "",
             "The paper's automatic metrics and the ground-truth metrics (means with 95% bootstrap intervals over samples), "
             "and, where the paper has human ratings, the ground-truth-judged preference: % of samples on which the first "
             "run (the EVE student) is closer to the ground truth than the row's run, ties split, with its interval. "
             + _criteria_sentence() + (" " + VLM_SENTENCE if judged else ""), ""]
    lines += md_table(header, body) + _comparable_note(rows)
    if not has_eve:
        lines += ["", f"No EVE student run ({md_cell(eve)}): no preference column is filled."]
    lines += _missing_line([eve] + others)
    return "\n".join(lines) + "\n", header, body, plotted


def _criteria_sentence() -> str:
    return "Questions: " + "; ".join(f"{c.question} by `{c.metric}` ({'higher' if c.higher_is_better else 'lower'} is better)"
                                     for c in CRITERIA) + " (docs/paper_tables.md)."


# --- Table 2 on synth ------------------------------------------------------------------------------


def seeds_section(pairs: list[SeedPair]) -> list[str]:
    """Table 2's rows again per training seed (each student and ablation of one seed judged on the
    same samples), and per row the mean Avg. over seeds with its range: what one seed's row is worth."""
    known = {r.method: r for r in ablations()}
    unknown = sorted({p.method for p in pairs} - set(known))
    if unknown:
        raise ValueError(f"unknown Table 2 row(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    header = ["method", "training seed", "n"] + PREFERENCE_HEADER
    body, avgs, missing = [], {}, []
    for pair in pairs:
        name = known[pair.method].name_in_source
        if not (_is_run(pair.eve) and _is_run(pair.ablation)):
            missing.append(f"{name}, seed {pair.seed}")
            continue
        pref = judge(run_outputs(load_records(pair.eve)), run_outputs(load_records(pair.ablation)))
        body.append([name, pair.seed, str(pref.n_shared)] + preference_cells(pref))
        if pref.avg is not None:
            avgs.setdefault(name, []).append(pref.avg.estimate)
    lines = ["", "## Across training seeds", "",
             "Full EVE against the ablation, each trained with the same seed (a student and its ablation share "
             "their seed's data order and noise), judged as above.", ""]
    lines += md_table(header, body)
    for name, values in avgs.items():
        if len(values) > 1:
            lines += ["", f"{name}: Avg. {sum(values) / len(values):.1f} over {len(values)} seeds "
                          f"(range {min(values):.1f}-{max(values):.1f})."]
    if missing:
        lines += ["", "Not run, left out: " + "; ".join(md_cell(m) for m in missing) + "."]
    return lines


def table2_synth(eve: Path | None, runs: dict[str, Path], judged: dict | None = None,
                 seeds: list[SeedPair] = ()) -> tuple[str, list[str], list[list[str]], list]:
    has_eve = _is_run(eve)
    eve_outputs = run_outputs(load_records(eve)) if has_eve else None
    header = (["method", "run", "n"] + PREFERENCE_HEADER + ["paper " + h for h in PREFERENCE_HEADER]
              + (["VLM " + h for h in PREFERENCE_HEADER] if judged else []))
    body, measured, plotted, skipped = [], [], [], []
    for row in ablations():
        paper = [row.preference.values[c] for c in PREFERENCE_COLUMNS]
        run = runs.get(row.method)
        pref = None
        if has_eve and _is_run(run):
            pref = judge(eve_outputs, run_outputs(load_records(run)))
            measured.append((row, pref))
            plotted.append((row.name_in_source, pref, {q: float(row.preference.values[q]) for q in PREFERENCE_COLUMNS}))
        elif not _is_run(run):
            skipped.append(f"{row.name_in_source} ({run if run else 'no run given'})")
        body.append([row.name_in_source, str(run) if run else "–", str(pref.n_shared) if pref else "–"]
                    + preference_cells(pref) + paper + _vlm_cells(judged, eve, run))
    lines = ["# Table 2 (synth): ablations, judged by the ground truth", "",
             "% of samples on which full EVE is closer to the ground truth than the ablation (ties split), with 95% "
             "bootstrap intervals over samples, beside the paper's human ratings (% of raters preferring full EVE; "
             f"{md_cell(ablations()[0].note)}). " + _criteria_sentence() + (" " + VLM_SENTENCE if judged else ""), ""]
    lines += md_table(header, body)
    if not has_eve:
        lines += ["", f"No EVE student run ({md_cell(eve)}): no ablation can be compared."]
    if skipped:
        lines += ["", "Not run, left out: " + "; ".join(md_cell(s) for s in skipped) + "."]
    lines += ["", ordering_line(measured)]
    if seeds:
        lines += seeds_section(list(seeds))
    return "\n".join(lines) + "\n", header, body, plotted


def ordering_line(measured: list) -> str:
    """Whether the paper's reading of Table 2 holds on the measured rows: full EVE preferred over
    every ablation (Avg. interval above 50), and the ablations in the paper's order of Avg."""
    paper_order = [r.name_in_source for r in ablations()]
    statement = "Paper's ordering (Avg.: " + " > ".join(paper_order) + ", every one above 50)"
    if not measured:
        return statement + ": cannot be checked, no ablation was measured."
    above = [r.name_in_source for r, p in measured if p.avg is not None and p.avg.low > 50]
    ranked = sorted(measured, key=lambda m: -(m[1].avg.estimate if m[1].avg else float("-inf")))
    swaps = []
    for i, (ra, pa) in enumerate(measured):  # measured is in the paper's order
        for rb, pb in measured[i + 1:]:
            if pa.avg and pb.avg and pa.avg.estimate < pb.avg.estimate:
                overlap = pa.avg.high >= pb.avg.low
                swaps.append(f"{rb.name_in_source} above {ra.name_in_source}" + (" (intervals overlap)" if overlap else ""))
    below = [r.name_in_source for r, p in measured if p.avg is not None and p.avg.high < 50]
    holds = not swaps and len(above) == len(measured)
    parts = [f"{len(above)} of {len(measured)} measured ablations lose to full EVE beyond noise"]
    if below:
        parts.append(f"{', '.join(below)} {'beats' if len(below) == 1 else 'beat'} full EVE beyond noise")
    parts += ["order " + ("as in the paper" if not swaps else "differs: " + "; ".join(swaps)),
              "measured order: " + " > ".join(r.name_in_source for r, _ in ranked)]
    # The names come from the reported-results file, not from users, and ">" must stay readable.
    return f"{statement}: **{'holds' if holds else 'does not hold'}** on the {len(measured)} measured row(s): " + "; ".join(parts) + "."


# --- plot ------------------------------------------------------------------------------------------


def render_preference_plot(entries: list, path: Path, title: str) -> bool:
    """One panel per question and Avg.: measured % preferring the first run with its interval (bars),
    the paper's human % where given (black x). False when there is nothing to plot."""
    if not entries:
        return False
    fig = new_figure(figsize=(13, 0.9 + 0.45 * len(entries)))
    axes = fig.subplots(1, len(PREFERENCE_COLUMNS), sharey=True)
    labels = [e[0].replace("$", r"\$") for e in entries]  # matplotlib reads $...$ as math
    for ax, column in zip(axes, PREFERENCE_COLUMNS):
        shares = [(e[1].by_question()[column].share if column in QUESTION_NAMES else e[1].avg) for e in entries]
        values = [s.estimate if s else 0.0 for s in shares]
        err = [[v - s.low if s else 0 for v, s in zip(values, shares)], [s.high - v if s else 0 for v, s in zip(values, shares)]]
        ax.barh(labels, values, xerr=err, color="#3b6ea8", ecolor="#333333", capsize=2)
        paper = [(i, e[2][column]) for i, e in enumerate(entries) if e[2]]
        if paper:
            ax.plot([p for _, p in paper], [i for i, _ in paper], "kx", label="paper (human)")
        ax.axvline(50, color="#999999", lw=0.8)
        ax.set_xlim(0, 100)
        ax.set_title(column, fontsize=10)
        ax.tick_params(labelsize=8)
    axes[0].invert_yaxis()
    if any(e[2] for e in entries):
        axes[-1].legend(fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_png(fig, path, dpi=110)
    return True


# --- all of it -------------------------------------------------------------------------------------


def write_paper_tables(cfg: PaperTablesConfig) -> list[Path]:
    known = {r.method for r in ablations()}
    unknown = set(cfg.ablations) - known
    if unknown:
        raise ValueError(f"unknown Table 2 row(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    out = Path(cfg.out)
    written = []

    def emit(name: str, markdown: str, header: list[str], body: list[list[str]]) -> None:
        for path, text in ((out / f"{name}.md", markdown), (out / f"{name}.csv", csv_table(header, body))):
            atomic_write_text(path, text)
            written.append(path)

    for benchmark, runs in (("tgve", cfg.tgve), ("tgve-plus", cfg.tgve_plus)):
        emit(f"table1-{benchmark}", *table1_reported(benchmark, runs))
    judged = load_judged(cfg.vlm_judged)
    md, header, body, plotted = table1_synth(cfg.eve, cfg.synth, judged)
    emit("table1-synth", md, header, body)
    if render_preference_plot(plotted, out / "table1-synth.png", "EVE student against each run: % of synth samples preferring EVE (ground truth)"):
        written.append(out / "table1-synth.png")
    md, header, body, plotted = table2_synth(cfg.eve, cfg.ablations, judged, cfg.seeds)
    emit("table2-synth", md, header, body)
    if render_preference_plot(plotted, out / "table2-synth.png", "Full EVE against each ablation: synth (ground truth) vs paper (human)"):
        written.append(out / "table2-synth.png")
    if cfg.validity_videos > 0:
        from eve_bench.reports.validity import score_variants

        rows, _ = score_variants(n_videos=cfg.validity_videos, metric_names=sorted({c.metric for c in CRITERIA}))
        command = f"eve-bench paper-tables --validity-videos {cfg.validity_videos}"
        atomic_write_text(out / "criteria-validity.md", validity_markdown(criteria_validity(rows), command))
        written.append(out / "criteria-validity.md")
    return written
