"""Leaderboards from finished runs: a markdown table, a CSV, a bar chart per metric and an HTML page
(eve_bench.leaderboard_html: the same tables, sortable, and a gallery of the runs' outputs).

Each run folder contributes one row (its overall means); per-task tables follow. The identity
model is the lower bound a method must beat, so its row is marked as the reference.

Every text cell comes from a summary a run wrote from its command line (model spec, model args,
paths) and is escaped (`md_cell`), so no `|`, HTML or newline can break the table or inject markup.
Rows run under different settings (frame policy, seed, --limit, tasks, metric configuration, a run
that stopped early) are flagged: their numbers are not comparable as they stand.

Every mean carries a 95% bootstrap interval over its samples (from samples.jsonl), and every run
is compared with the first, sample by sample, on the samples both scored (eve_bench.uncertainty),
so a difference can be told from noise. `reported` adds the published numbers of TGVE or TGVE+
beside the runs, in the papers' columns (eve_bench.reported).
"""

from __future__ import annotations

import json
from pathlib import Path

from eve_bench.figures import new_figure, save_png
from eve_bench.reported import BENCHMARKS, PAPER_METRICS, PREFERENCE_COLUMNS, merged, other_preferences, sources
from eve_bench.results import finite_values, load_records, load_summary
from eve_bench.tables import csv_table, md_cell, md_table
from eve_bench.uncertainty import Interval, bootstrap_interval, paired_comparison
from eve_bench.video import atomic_write_text

REFERENCE_MODELS = {"identity"}
PAPER_PREFERENCE_HEADER = {"Text": "Text", "Structure": "Struct.", "Quality": "Quality", "Avg": "Avg."}  # as printed


def collect(run_dirs: list[str | Path]) -> list[dict]:
    rows = []
    for run_dir in run_dirs:
        s = load_summary(run_dir)
        records = load_records(run_dir)
        rows.append(
            {
                "run": str(run_dir),
                "model": s["model"],
                "model_args": ",".join(f"{k}={v}" for k, v in s.get("model_args", {}).items()),
                "suite": s["suite"],
                "n_samples": s["n_samples"],
                "n_failed": s["n_failed"],
                "n_missing": s["n_missing"],
                "overall": s["metrics"]["overall"],
                "per_task": s["metrics"]["per_task"],
                "directions": {k: v["direction"] for k, v in s.get("metric_info", {}).items()},
                "reference": s["model"] in REFERENCE_MODELS,
                # metric -> sample key -> value: what each mean was taken over
                "values": {name: finite_values(records, name) for name in s["metrics"]["overall"]},
                "task_of": {r.key: r.task for r in records},
                "metric_ids": {k: v.get("id") for k, v in s.get("metric_info", {}).items()},
                "version": s.get("versions", {}).get("eve_bench"),
                "settings": {
                    "suite_version": s.get("suite_version"),
                    "tasks": s.get("tasks"),
                    "limit": s.get("limit"),
                    "seed": s.get("seed"),
                    "frame_policy": s.get("frame_policy"),
                    "metric_ids": {k: v.get("id") for k, v in s.get("metric_info", {}).items()},
                    "stopped_early": bool(s.get("stopped")),
                },
            }
        )
    suites = {r["suite"] for r in rows}
    if len(suites) > 1:
        raise ValueError(f"runs come from different suites ({', '.join(sorted(suites))}); make one leaderboard per suite")
    _group_settings(rows)
    return rows


def _group_settings(rows: list[dict]) -> None:
    """Give rows run under the same settings the same letter (`group`: A, B, ...); `differs` lists
    the settings that vary between rows (empty when all rows are comparable)."""
    # Metrics only some runs computed do not make the others' numbers incomparable; a metric all
    # runs computed under different configurations (other weights, preprocessing) does.
    shared = set.intersection(*(set(r["settings"]["metric_ids"]) for r in rows)) if rows else set()
    for r in rows:
        r["settings"]["metric_ids"] = {k: v for k, v in r["settings"]["metric_ids"].items() if k in shared}
    seen: dict[str, str] = {}
    for r in rows:
        r["group"] = seen.setdefault(json.dumps(r["settings"], sort_keys=True), chr(ord("A") + len(seen) % 26))
    differs = [k for k in (rows[0]["settings"] if rows else {}) if len({json.dumps(r["settings"][k], sort_keys=True) for r in rows}) > 1]
    for r in rows:
        r["differs"] = differs


def _metric_names(rows: list[dict]) -> list[str]:
    names: list[str] = []
    for r in rows:
        names += [n for n in r["overall"] if n not in names]
    return names


def interval(r: dict, name: str, task: str | None = None) -> Interval | None:
    """The bootstrap interval of a row's mean of `name` (over one task's samples, or all)."""
    values = r["values"].get(name, {})
    return bootstrap_interval([v for k, v in values.items() if task is None or r["task_of"].get(k) == task])


def fmt_ci(mean, ci: Interval | None, digits: str = ".4g") -> str:
    """A mean with its 95% interval: `12.3 [11.8, 12.9]`; the mean alone where there are no samples
    to resample (a run folder without samples.jsonl)."""
    if mean is None:
        return "–"
    text = f"{mean:{digits}}"
    return text if ci is None else f"{text} [{ci.low:{digits}}, {ci.high:{digits}}]"


def _arrow(rows: list[dict], name: str) -> str:
    direction = next((r["directions"].get(name) for r in rows if r["directions"].get(name)), "-")
    return {"higher": " ↑", "lower": " ↓"}.get(direction, "")


def render_markdown(rows: list[dict], title: str | None = None, reported: str | None = None) -> str:
    names = _metric_names(rows)
    suite = rows[0]["suite"] if rows else "?"
    lines = [f"# {md_cell(title or f'eve-bench leaderboard: {suite}')}", ""]
    lines.append("Overall means over scored samples (↑ higher is better, ↓ lower is better), each with its "
                 "95% bootstrap interval over samples [low, high]. "
                 "`identity` returns its input: the lower bound every method must beat.")
    differs = rows[0]["differs"] if rows else []
    if differs:
        lines += ["", f"**Not comparable as they stand**: these runs differ in {', '.join(differs)}. "
                      "Rows with different letters in the `settings` column ran under different settings:", ""]
        for group in dict.fromkeys(r["group"] for r in rows):
            settings = next(r["settings"] for r in rows if r["group"] == group)
            described = "; ".join(f"{k} = {json.dumps(settings[k], sort_keys=True)}" for k in differs)
            lines.append(f"- {group}: {md_cell(described)}")
    extra = ["settings"] if differs else []
    header = ["model", "args", "n", "failed", "missing"] + extra + [n + _arrow(rows, n) for n in names]
    body = []
    for r in rows:
        label = f"{r['model']} (reference)" if r["reference"] else r["model"]
        cells = [label, r["model_args"] or "", r["n_samples"], r["n_failed"], r["n_missing"]] + [r["group"] for _ in extra]
        body.append([md_cell(c) for c in cells] + [fmt_ci(r["overall"].get(n), interval(r, n)) for n in names])
    lines += [""] + md_table([md_cell(h) for h in header], body, escape=False)
    tasks = [t for t in dict.fromkeys(t for r in rows for t in r["per_task"])]
    for name in names:
        lines += ["", f"## {md_cell(name + _arrow(rows, name))} per task", ""]
        lines += md_table([md_cell(h) for h in ["model", *tasks]],
                          [[md_cell(row_label(r, rows))] + [fmt_ci(r["per_task"].get(t, {}).get(name), interval(r, name, t))
                                                            for t in tasks] for r in rows], escape=False)
    lines += paired_lines(rows)
    if reported:
        lines += reported_lines(rows, reported)
    lines += ["", "Runs: " + ", ".join(md_cell(r["run"]) for r in rows), ""]
    return "\n".join(lines)


def row_label(row: dict, rows: list[dict]) -> str:
    """The model's name, with its args where another row runs the same model (the ablations of
    one student), so that a table without an args column credits each row to its configuration."""
    shared = sum(r["model"] == row["model"] for r in rows) > 1
    return row["model"] + (f" ({row['model_args']})" if shared and row["model_args"] else "")


def paired_lines(rows: list[dict]) -> list[str]:
    """Markdown: each run against the first on the samples both scored, per metric with a better
    direction (a diagnostic metric has no winner)."""
    base = rows[0] if rows else None
    body = []
    for r in rows[1:]:
        for name in _metric_names(rows):
            direction = r["directions"].get(name) or base["directions"].get(name)
            if direction not in ("higher", "lower"):
                continue
            cmp = paired_comparison(r["values"].get(name, {}), base["values"].get(name, {}), direction == "higher")
            if cmp is None:
                continue
            d = cmp.difference
            verdict = {"A better": f"{r['model']} better", "B better": f"{base['model']} better"}.get(cmp.verdict, cmp.verdict)
            body.append([md_cell(r["model"]), md_cell(r["run"]), md_cell(name + _arrow(rows, name)), cmp.n,
                         fmt_ci(d.estimate, d, "+.4g"), f"{cmp.wins} / {cmp.ties} / {cmp.losses}", f"{cmp.sign_test_p:.2g}",
                         md_cell(verdict)])
    if not body:
        return []
    return ["", f"## Paired comparisons with {md_cell(base['model'])} ({md_cell(base['run'])})", "",
            "Each run against the first, sample by sample on the samples both scored: the mean difference (run minus "
            "first run) with its 95% paired bootstrap interval, the samples where the run is better / equal / worse, "
            "and the two-sided sign test on wins against losses. A difference whose interval excludes 0 is called "
            "real; otherwise it is within noise. (One test per metric and run: with many, expect about one in twenty "
            "null differences to look real.)", ""] + md_table(
        ["model", "run", "metric", "n paired", "difference [95% CI]", "wins / ties / losses", "sign test p", "verdict"],
        body, escape=False)


def _paper_cell(r: dict, column) -> str:
    mean = r["overall"].get(column.metric)
    if mean is None:
        return "–"
    ci = interval(r, column.metric)
    scaled = None if ci is None else Interval(ci.estimate * column.scale, ci.low * column.scale, ci.high * column.scale, ci.n)
    return fmt_ci(mean * column.scale, scaled, f".{column.decimals}f")


def measured_provenance(r: dict) -> str:
    """Where a measured row's numbers come from: eve-bench version, samples, the weights behind the
    paper's metrics (the metric id's weights part)."""
    weights = sorted({i.split("|")[1] for c in PAPER_METRICS if "|" in (i := r["metric_ids"].get(c.metric) or "")})
    return (f"measured: eve-bench {r['version'] or '?'}, {r['n_samples']} samples of {r['suite']}"
            + (f", weights {'; '.join(weights)}" if weights else ""))


def reported_table(rows: list[dict], benchmark: str) -> tuple[list[str], list[list]]:
    """The paper's Table 1 columns for `benchmark`: quoted rows (merged across papers that agree)
    then the measured runs. Returns the header and rows of display strings."""
    if benchmark not in BENCHMARKS:
        raise ValueError(f"no reported numbers for {benchmark!r}; known: {', '.join(BENCHMARKS)}")
    other = {r["suite"] for r in rows} - {benchmark}
    if other:
        raise ValueError(f"the reported numbers are for {benchmark}; these runs are on {', '.join(sorted(other))}")
    header = ["method", "source"] + [c.name + " ↑" for c in PAPER_METRICS] + [PAPER_PREFERENCE_HEADER[q] for q in PREFERENCE_COLUMNS]
    body = []
    for q in merged(benchmark):
        prefs = q.preference.values if q.preference else {}
        source = "quoted: " + "; ".join(q.citations) + "".join(f" NOTE: {n}" for n in q.notes)
        body.append([q.method, source] + [q.metrics.get(c.name, "–") for c in PAPER_METRICS]
                    + [prefs.get(p, "–") for p in PREFERENCE_COLUMNS])
    for r in rows:
        label = r["model"] + (f" ({r['model_args']})" if r["model_args"] else "")
        body.append([label, measured_provenance(r)] + [_paper_cell(r, c) for c in PAPER_METRICS] + ["–"] * len(PREFERENCE_COLUMNS))
    return header, body


def reported_lines(rows: list[dict], benchmark: str) -> list[str]:
    header, body = reported_table(rows, benchmark)
    lines = ["", f"## Beside the published numbers ({md_cell(benchmark)})", "",
             "The papers' automatic metrics, quoted exactly as printed (eve_bench/reported/results.yaml), and the runs "
             "above on the same scale (eve-bench's pick_score, clip_frame, viclip_dir, viclip_out are the papers' "
             "PickScore, CLIPFrame, ViCLIP_dir, ViCLIP_out, unscaled). Text / Struct. / Quality / Avg. are EVE's human "
             "ratings: % of raters preferring EVE over the row's method. A measured row over fewer samples, or with "
             "other weights, than the paper used is not the same measurement.", ""] + md_table(header, body)
    for p in other_preferences(benchmark):
        lines.append(f"\nAlso published: {md_cell(p.preference.preferred)} is preferred over {md_cell(p.method)} by "
                     f"{md_cell(p.preference.values.get('Avg', '?'))}% of raters overall ({md_cell(p.citation)}). {md_cell(p.note)}")
    lines += ["", "Sources:", ""] + [f"- {md_cell(s.short)}: {md_cell(s.cite)}; {md_cell(s.version)} {md_cell(s.url)}" for s in sources()]
    return lines


def render_csv(rows: list[dict]) -> str:
    names = _metric_names(rows)
    header = (["model", "model_args", "suite", "reference", "settings", "n_samples", "n_failed", "n_missing"] + names
              + [f"{n} {end}" for n in names for end in ("ci_low", "ci_high")])
    body = []
    for r in rows:
        cis = [interval(r, n) for n in names]
        body.append([r["model"], r["model_args"], r["suite"], r["reference"], r["group"], r["n_samples"], r["n_failed"],
                     r["n_missing"]]
                    + ["" if r["overall"].get(n) is None else r["overall"][n] for n in names]
                    + [("" if ci is None else getattr(ci, end)) for ci in cis for end in ("low", "high")])
    return csv_table(header, body)


def render_plot(rows: list[dict], path: Path) -> None:
    names = [n for n in _metric_names(rows) if any(r["overall"].get(n) is not None for r in rows)]
    if not names:
        return
    cols = min(3, len(names))
    nrows = -(-len(names) // cols)
    fig = new_figure(figsize=(4.2 * cols, 0.5 + 0.45 * len(rows) * nrows + 0.6 * nrows))
    axes = fig.subplots(nrows, cols, squeeze=False)
    for ax, name in zip(axes.flat, names):
        values = [r["overall"].get(name) or 0.0 for r in rows]
        colors = ["#999999" if r["reference"] else "#3b6ea8" for r in rows]
        cis = [interval(r, name) for r in rows]
        # the 95% interval as an error bar (none where a run has no per-sample values)
        err = [[max(0.0, v - ci.low) if ci else 0.0 for v, ci in zip(values, cis)],
               [max(0.0, ci.high - v) if ci else 0.0 for v, ci in zip(values, cis)]]
        # matplotlib reads $...$ as math; a model name is plain text.
        ax.barh([r["model"].replace("$", r"\$") for r in rows], values, color=colors, xerr=err, ecolor="#333333", capsize=2)
        ax.set_title(name + _arrow(rows, name), fontsize=10)
        ax.invert_yaxis()
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    save_png(fig, path, dpi=110)


def write_leaderboard(run_dirs: list[str | Path], out: str | Path, title: str | None = None,
                      reported: str | None = None, gallery_per_task: int = 2, gallery_size: int | None = 128) -> list[Path]:
    """leaderboard.md, .csv, .png and .html (with a gallery of `gallery_per_task` samples per task,
    videos at most `gallery_size` pixels on a side, in leaderboard_media/) in `out`."""
    from eve_bench.leaderboard_html import build_gallery, render_html  # it builds on this module

    rows = collect(run_dirs)
    if reported:
        reported_table(rows, reported)  # refuse a wrong benchmark before writing anything
    out = Path(out)
    written = [out / "leaderboard.md", out / "leaderboard.csv", out / "leaderboard.png", out / "leaderboard.html"]
    atomic_write_text(written[0], render_markdown(rows, title, reported))
    atomic_write_text(written[1], render_csv(rows))
    render_plot(rows, written[2])
    atomic_write_text(written[3], render_html(rows, build_gallery(rows, out, gallery_per_task, gallery_size), title, reported))
    return [p for p in written if p.exists()]
