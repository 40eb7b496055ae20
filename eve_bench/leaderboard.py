"""Leaderboards from finished runs: a markdown table, a CSV and a bar chart per metric.

Each run folder contributes one row (its overall means); per-task tables follow. The identity
model is the lower bound a method must beat, so its row is marked as the reference.
"""

from __future__ import annotations

import csv
import io
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
            }
        )
    suites = {r["suite"] for r in rows}
    if len(suites) > 1:
        raise ValueError(f"runs come from different suites ({', '.join(sorted(suites))}); make one leaderboard per suite")
    return rows


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
    lines = [f"# {title or f'eve-bench leaderboard: {suite}'}", ""]
    lines.append("Overall means over scored samples (↑ higher is better, ↓ lower is better). "
                 "`identity` returns its input: the lower bound every method must beat.")
    lines += ["", "| model | args | n | failed | missing | " + " | ".join(n + _arrow(rows, n) for n in names) + " |"]
    lines.append("|" + "---|" * (5 + len(names)))
    for r in rows:
        label = f"{r['model']} (reference)" if r["reference"] else r["model"]
        cells = [label, r["model_args"] or "", str(r["n_samples"]), str(r["n_failed"]), str(r["n_missing"])]
        lines.append("| " + " | ".join(cells + [_fmt(r["overall"].get(n)) for n in names]) + " |")
    tasks = [t for t in dict.fromkeys(t for r in rows for t in r["per_task"])]
    for name in names:
        lines += ["", f"## {name}{_arrow(rows, name)} per task", ""]
        lines.append("| model | " + " | ".join(tasks) + " |")
        lines.append("|" + "---|" * (1 + len(tasks)))
        for r in rows:
            lines.append("| " + r["model"] + " | " + " | ".join(_fmt(r["per_task"].get(t, {}).get(name)) for t in tasks) + " |")
    lines += ["", "Runs: " + ", ".join(f"`{r['run']}`" for r in rows), ""]
    return "\n".join(lines)


def render_csv(rows: list[dict]) -> str:
    names = _metric_names(rows)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["model", "model_args", "suite", "reference", "n_samples", "n_failed", "n_missing"] + names)
    for r in rows:
        writer.writerow([r["model"], r["model_args"], r["suite"], r["reference"], r["n_samples"], r["n_failed"], r["n_missing"]]
                        + ["" if r["overall"].get(n) is None else r["overall"][n] for n in names])
    return buf.getvalue()


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
        ax.barh([r["model"] for r in rows], values, color=colors)
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
