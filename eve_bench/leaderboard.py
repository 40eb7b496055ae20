"""Leaderboards from finished runs: a markdown table, a CSV and a bar chart per metric.

Each run folder contributes one row (its overall means); per-task tables follow. The identity
model is the lower bound a method must beat, so its row is marked as the reference.

Every text cell comes from a summary a run wrote from its command line (model spec, model args,
paths) and is escaped (`md_cell`), so no `|`, HTML or newline can break the table or inject markup.
Rows run under different settings (frame policy, seed, --limit, tasks, metric configuration, a run
that stopped early) are flagged: their numbers are not comparable as they stand.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path

from eve_bench.figures import new_figure, save_png
from eve_bench.results import load_summary
from eve_bench.video import atomic_write_text

REFERENCE_MODELS = {"identity"}


def collect(run_dirs: list[str | Path]) -> list[dict]:
    rows = []
    for run_dir in run_dirs:
        s = load_summary(run_dir)
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


def md_cell(value) -> str:
    """Text safe inside a markdown table cell: one line, no HTML, no table or link syntax."""
    text = " ".join(str(value).split())  # newlines and tabs would end the row or start a heading
    text = html.escape(text, quote=False)  # <img onerror=...> stays text
    # Table, code, emphasis, link and image syntax; "_" inside words (model_args) is left alone,
    # as markdown does not read it there.
    return re.sub(r"([\\`*\[\]|!~])", r"\\\1", text)


def _metric_names(rows: list[dict]) -> list[str]:
    names: list[str] = []
    for r in rows:
        names += [n for n in r["overall"] if n not in names]
    return names


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.4g}"


def _arrow(rows: list[dict], name: str) -> str:
    direction = next((r["directions"].get(name) for r in rows if r["directions"].get(name)), "-")
    return {"higher": " ↑", "lower": " ↓"}.get(direction, "")


def render_markdown(rows: list[dict], title: str | None = None) -> str:
    names = _metric_names(rows)
    suite = rows[0]["suite"] if rows else "?"
    lines = [f"# {md_cell(title or f'eve-bench leaderboard: {suite}')}", ""]
    lines.append("Overall means over scored samples (↑ higher is better, ↓ lower is better). "
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
    lines += ["", "| " + " | ".join(md_cell(h) for h in header) + " |"]
    lines.append("|" + "---|" * len(header))
    for r in rows:
        label = f"{r['model']} (reference)" if r["reference"] else r["model"]
        cells = [label, r["model_args"] or "", r["n_samples"], r["n_failed"], r["n_missing"]] + [r["group"] for _ in extra]
        lines.append("| " + " | ".join([md_cell(c) for c in cells] + [_fmt(r["overall"].get(n)) for n in names]) + " |")
    tasks = [t for t in dict.fromkeys(t for r in rows for t in r["per_task"])]
    for name in names:
        lines += ["", f"## {md_cell(name + _arrow(rows, name))} per task", ""]
        lines.append("| model | " + " | ".join(md_cell(t) for t in tasks) + " |")
        lines.append("|" + "---|" * (1 + len(tasks)))
        for r in rows:
            lines.append("| " + md_cell(r["model"]) + " | " + " | ".join(_fmt(r["per_task"].get(t, {}).get(name)) for t in tasks) + " |")
    lines += ["", "Runs: " + ", ".join(md_cell(r["run"]) for r in rows), ""]
    return "\n".join(lines)


def render_csv(rows: list[dict]) -> str:
    names = _metric_names(rows)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["model", "model_args", "suite", "reference", "settings", "n_samples", "n_failed", "n_missing"] + names)
    for r in rows:
        writer.writerow([_csv_text(r["model"]), _csv_text(r["model_args"]), _csv_text(r["suite"]), r["reference"], r["group"],
                         r["n_samples"], r["n_failed"], r["n_missing"]]
                        + ["" if r["overall"].get(n) is None else r["overall"][n] for n in names])
    return buf.getvalue()


def _csv_text(value) -> str:
    # Spreadsheets run a cell starting with = + - @ as a formula; a leading ' keeps it text.
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


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
        # matplotlib reads $...$ as math; a model name is plain text.
        ax.barh([r["model"].replace("$", r"\$") for r in rows], values, color=colors)
        ax.set_title(name + _arrow(rows, name), fontsize=10)
        ax.invert_yaxis()
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    save_png(fig, path, dpi=110)


def write_leaderboard(run_dirs: list[str | Path], out: str | Path, title: str | None = None) -> list[Path]:
    rows = collect(run_dirs)
    out = Path(out)
    written = [out / "leaderboard.md", out / "leaderboard.csv", out / "leaderboard.png"]
    atomic_write_text(written[0], render_markdown(rows, title))
    atomic_write_text(written[1], render_csv(rows))
    render_plot(rows, written[2])
    return [p for p in written if p.exists()]
