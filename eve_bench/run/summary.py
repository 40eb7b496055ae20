"""`summary.json` of a run or an eval, built from its records (results.py aggregates them)."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone

from eve_bench.metrics import Metric
from eve_bench.run.config import RunConfig
from eve_bench.run.results import SCHEMA_VERSION, SampleRecord, aggregate, environment
from eve_bench.suites import Suite


def build_summary(cfg: RunConfig, suite: Suite, records: list[SampleRecord], metrics: list[Metric], n_missing: int,
                  started: float) -> dict:
    names = [m.name for m in metrics]
    agg = aggregate(records, names, suite.tasks, {m.name: m.compute_state for m in metrics if m.set_level})
    failures = [{"key": r.key, "error": r.error} for r in records if r.status == "failed"]
    metric_failures = [{"key": r.key, "errors": r.metric_errors} for r in records if r.metric_errors]
    sel = cfg.selection
    return {
        "schema_version": SCHEMA_VERSION,
        "model": cfg.model,
        "model_args": cfg.model_args,
        "suite": suite.name,
        "suite_version": suite.version,
        "suite_info": suite.info,
        "suite_args": sel.suite_args,
        "data": sel.data,
        "tasks": list(suite.tasks),
        "limit": sel.limit,
        "seed": cfg.seed,
        "frame_policy": sel.frame_policy.to_dict(),
        "metrics": {"overall": agg["overall"], "per_task": agg["per_task"]},
        "metric_counts": agg["counts"],
        "metric_info": {m.name: {"direction": m.direction(), "id": m.cache_id} for m in metrics},
        "n_samples": len(records),
        "n_ok": sum(r.status == "ok" for r in records),
        "n_failed": len(failures),
        "n_cached": sum(r.cached for r in records),
        "n_missing": n_missing,
        "failures": failures,
        "metric_failures": metric_failures,
        **environment(cfg.device),
        "started_at": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": round(time.time() - started, 3),
    }


def progress_bar(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="sample", disable=not enabled, file=sys.stderr, dynamic_ncols=True)
