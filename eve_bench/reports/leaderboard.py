"""Leaderboards from finished runs: a markdown table, a CSV, a bar chart per metric and an HTML page
(eve_bench.reports.leaderboard_html: the same tables, sortable, and a gallery of the runs' outputs).

Each run folder contributes one row (its overall means); per-task tables follow. The identity
model is the lower bound a method must beat, so its row is marked as the reference.

Every text cell comes from a summary a run wrote from its command line (model spec, model args,
paths) and is escaped (`md_cell`), so no `|`, HTML or newline can break the table or inject markup.
Rows run under different settings (frame policy, seed, --limit, tasks, metric configuration, a run
that stopped early) are flagged: their numbers are not comparable as they stand.

Every mean carries a 95% bootstrap interval over its samples (from samples.jsonl), and every run
is compared with the first, sample by sample, on the samples both scored (eve_bench.reports.uncertainty),
so a difference can be told from noise. `reported` adds the published numbers of TGVE or TGVE+
beside the runs, in the papers' columns (eve_bench.reports.reported).
"""

from __future__ import annotations

import json
from pathlib import Path

from eve_bench.atomic import atomic_write_text
from eve_bench.figures import new_figure, save_png
from eve_bench.reports.leaderboard_html import gallery, render_html
from eve_bench.reports.reported import other_preferences, sources
from eve_bench.reports.rows import arrow, collect, fmt_ci, interval, metric_names, partial_note, reported_table, row_label
from eve_bench.reports.uncertainty import paired_comparison
from eve_bench.tables import csv_table, md_cell, md_table

def render_markdown(rows: list[dict], title: str | None = None, reported: str | None = None) -> str:
    names = metric_names(rows)
    suite = rows[0]["suite"] if rows else "?"
    lines = [f"# {md_cell(title or f'eve-bench leaderboard: {suite}')}", ""]
    lines.append("Overall means over scored samples (↑ higher is better, ↓ lower is better), each with its "
                 "95% bootstrap interval over samples [low, high]; (n=K) where the metric is undefined on some of "
                 "a run's scored samples and the mean covers K of them. "
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
    header = ["model", "args", "n", "failed", "missing"] + extra + [n + arrow(rows, n) for n in names]
    body = []
    for r in rows:
        label = f"{r['model']} (reference)" if r["reference"] else r["model"]
        cells = [label, r["model_args"] or "", r["n_samples"], r["n_failed"], r["n_missing"]] + [r["group"] for _ in extra]
        body.append([md_cell(c) for c in cells] + [fmt_ci(r["overall"].get(n), interval(r, n)) + partial_note(r, n) for n in names])
    lines += [""] + md_table([md_cell(h) for h in header], body, escape=False)
    tasks = [t for t in dict.fromkeys(t for r in rows for t in r["per_task"])]
    for name in names:
        lines += ["", f"## {md_cell(name + arrow(rows, name))} per task", ""]
        lines += md_table([md_cell(h) for h in ["model", *tasks]],
                          [[md_cell(row_label(r, rows))] + [fmt_ci(r["per_task"].get(t, {}).get(name), interval(r, name, t))
                                                            for t in tasks] for r in rows], escape=False)
    lines += paired_lines(rows)
    if reported:
        lines += reported_lines(rows, reported)
    lines += ["", "Runs: " + ", ".join(md_cell(r["run"]) for r in rows), ""]
    return "\n".join(lines)


def paired_lines(rows: list[dict]) -> list[str]:
    """Markdown: each run against the first on the samples both scored, per metric with a better
    direction (a diagnostic metric has no winner)."""
    base = rows[0] if rows else None
    body = []
    for r in rows[1:]:
        for name in metric_names(rows):
            direction = r["directions"].get(name) or base["directions"].get(name)
            if direction not in ("higher", "lower"):
                continue
            cmp = paired_comparison(r["values"].get(name, {}), base["values"].get(name, {}), direction == "higher")
            if cmp is None:
                continue
            d = cmp.difference
            verdict = {"A better": f"{r['model']} better", "B better": f"{base['model']} better"}.get(cmp.verdict, cmp.verdict)
            body.append([md_cell(r["model"]), md_cell(r["run"]), md_cell(name + arrow(rows, name)), cmp.n,
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


def reported_lines(rows: list[dict], benchmark: str) -> list[str]:
    header, body = reported_table(rows, benchmark)
    lines = ["", f"## Beside the published numbers ({md_cell(benchmark)})", "",
             "The papers' automatic metrics, quoted exactly as printed (eve_bench/reports/reported/results.yaml), and the runs "
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
    names = metric_names(rows)
    header = (["model", "model_args", "suite", "reference", "settings", "n_samples", "n_failed", "n_missing"] + names
              + [f"{n} {end}" for n in names for end in ("ci_low", "ci_high")] + [f"{n} n" for n in names])
    body = []
    for r in rows:
        cis = [interval(r, n) for n in names]
        body.append([r["model"], r["model_args"], r["suite"], r["reference"], r["group"], r["n_samples"], r["n_failed"],
                     r["n_missing"]]
                    + ["" if r["overall"].get(n) is None else r["overall"][n] for n in names]
                    + [("" if ci is None else getattr(ci, end)) for ci in cis for end in ("low", "high")]
                    + [r["counts"].get(n, "") for n in names])
    return csv_table(header, body)


def render_plot(rows: list[dict], path: Path) -> None:
    names = [n for n in metric_names(rows) if any(r["overall"].get(n) is not None for r in rows)]
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
        ax.set_title(name + arrow(rows, name), fontsize=10)
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
    rows = collect(run_dirs)
    if reported:
        reported_table(rows, reported)  # refuse a wrong benchmark before writing anything
    out = Path(out)
    md, csv, png, page = written = [out / "leaderboard.md", out / "leaderboard.csv", out / "leaderboard.png", out / "leaderboard.html"]
    # Everything is read (runs, previews) before anything is written: bad input loses nothing.
    with gallery(rows, out, gallery_per_task, gallery_size) as entries:
        texts = {md: render_markdown(rows, title, reported), csv: render_csv(rows), page: render_html(rows, entries, title, reported)}
        for path, text in texts.items():
            atomic_write_text(path, text)
        render_plot(rows, png)
    return [p for p in written if p.exists()]
