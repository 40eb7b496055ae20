"""Runs as rows: what every report reads from finished run folders.

`collect` turns run folders into rows (a summary's means, each sample's values, the settings the
run was made under, grouped so that incomparable rows are told apart); the rest formats what a
report prints of a row: a mean with its bootstrap interval, a metric's direction, a row's label,
and the paper's Table 1 columns beside published numbers (eve_bench.reports.reported). The markdown
(leaderboard.py), the HTML page (leaderboard_html.py) and the paper tables (paper_tables.py) all
build on this module, and it on none of them.
"""

from __future__ import annotations

import json
from pathlib import Path

from eve_bench.questions import PREFERENCE_COLUMNS, PREFERENCE_HEADERS
from eve_bench.reports.reported import BENCHMARKS, PAPER_METRICS, merged
from eve_bench.reports.uncertainty import Interval, bootstrap_interval
from eve_bench.run.results import finite_values, load_records, load_summary

REFERENCE_MODELS = {"identity"}


def collect(run_dirs: list[str | Path]) -> list[dict]:
    rows = []
    for run_dir in run_dirs:
        s = load_summary(run_dir)
        records = load_records(run_dir)
        values = {name: finite_values(records, name) for name in s["metrics"]["overall"]}
        _check_consistent(run_dir, s, records, values)
        rows.append(
            {
                "run": str(run_dir),
                "model": s["model"],
                "model_args": ",".join(f"{k}={v}" for k, v in s.get("model_args", {}).items()),
                "suite": s["suite"],
                "n_samples": s["n_samples"],
                "n_ok": s.get("n_ok", s["n_samples"] - s["n_failed"]),
                "n_failed": s["n_failed"],
                "n_missing": s["n_missing"],
                "overall": s["metrics"]["overall"],
                "per_task": s["metrics"]["per_task"],
                "counts": s.get("metric_counts", {}),
                "directions": {k: v.get("direction") for k, v in s.get("metric_info", {}).items()},
                "reference": s["model"] in REFERENCE_MODELS,
                # metric -> sample key -> value: what each mean was taken over
                "values": values,
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


def _check_consistent(run_dir, summary: dict, records: list, values: dict[str, dict]) -> None:
    """ValueError unless samples.jsonl holds the values summary.json averaged (as many of each
    per-sample metric): files of two runs mixed would print a mean beside another run's interval."""
    for name, found in values.items():
        counted = summary.get("metric_counts", {}).get(name)
        if records and counted is not None and any(name in r.metrics for r in records) and len(found) != counted:
            raise ValueError(f"{Path(run_dir) / 'samples.jsonl'} holds {len(found)} values of {name} where summary.json "
                             f"averaged {counted}: the two files come from different runs (re-run to rewrite both)")


def partial_note(r: dict, name: str) -> str:
    """' (n=K)' where a run's mean of `name` covers only K of its scored samples (the metric is
    undefined, null or NaN, on the others), so such a mean never passes for one over all of them."""
    n = r["counts"].get(name)
    return f" (n={n})" if isinstance(n, int) and n < r["n_ok"] else ""


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


def metric_names(rows: list[dict]) -> list[str]:
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


def arrow(rows: list[dict], name: str) -> str:
    direction = next((r["directions"].get(name) for r in rows if r["directions"].get(name)), "-")
    return {"higher": " ↑", "lower": " ↓"}.get(direction, "")


def row_label(row: dict, rows: list[dict]) -> str:
    """The model's name, with its args where another row runs the same model (the ablations of
    one student), so that a table without an args column credits each row to its configuration."""
    shared = sum(r["model"] == row["model"] for r in rows) > 1
    return row["model"] + (f" ({row['model_args']})" if shared and row["model_args"] else "")


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
    header = ["method", "source"] + [c.name + " ↑" for c in PAPER_METRICS] + list(PREFERENCE_HEADERS)
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
