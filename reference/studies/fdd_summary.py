"""The log summary of FDD runs that TRAINING.md quotes, in two tables per set of runs:

- losses: per run and phase (sds, warmup: D trains while the student does not see it yet,
  adversarial), each loss term averaged over the phase's first and last `window` iterations;
- discriminators and gradients: D on the held-out probe pairs (paired AUC, hinge margin,
  sigmoid(D) on real and on fake; accuracy at the threshold 0 as a secondary figure) at the
  phase's first and last probe, and each loss term's gradient norm on the student with the
  adversarial term's share of the SDS term's, averaged like the losses.

    python -m reference.studies.fdd_summary runs/fdd/align runs/fdd/align_no_sds ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

LOSSES = ("gap_e", "gap_v", "sds_e", "sds_v", "g_e", "g_v", "d_e", "d_v", "grad_norm")
PROBE = ("probe_auc_e", "probe_auc_v", "probe_margin_e", "probe_margin_v", "probe_p_real_e", "probe_p_fake_e",
         "probe_p_real_v", "probe_p_fake_v", "probe_acc0_e", "probe_acc0_v")
GRADIENTS = ("gnorm_sds", "gnorm_adv", "adv_share")
PHASES = ("sds", "warmup", "adversarial")


def read_log(run: str | Path) -> list[dict]:
    path = Path(run) / "loss.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wall_minutes(rows: list[dict]) -> float:
    """`seconds` restarts when a run resumes: add up each segment's last value."""
    return (sum(a["seconds"] for a, b in zip(rows, rows[1:]) if b["seconds"] < a["seconds"]) + rows[-1]["seconds"]) / 60


def _mean(rows: list[dict], term: str) -> str:
    values = [r[term] for r in rows if r.get(term) is not None]
    return f"{sum(values) / len(values):.3f}" if values else "–"


def _table(header: list[str]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]


def summary_table(runs: list[str | Path], window: int = 50) -> str:
    losses = _table(["run", "phase", "iterations", *LOSSES])
    disc = _table(["run", "phase", "at", *(t.removeprefix("probe_") for t in PROBE), *GRADIENTS])
    for run in runs:
        name, rows = Path(run).name, read_log(run)
        for phase in PHASES:
            part = [r for r in rows if r["phase"] == phase]
            if not part:
                continue
            probes = [r for r in part if "probe_auc_e" in r]
            for label, chunk, probe in (("first", part[:window], probes[:1]), ("last", part[-window:], probes[-1:])):
                span = f"{chunk[0]['step']}-{chunk[-1]['step']}"
                losses.append(f"| {name} | {phase}, {label} {len(chunk)} | {span} | "
                              + " | ".join(_mean(chunk, t) for t in LOSSES) + " |")
                at = f"probe at {probe[0]['step']}; gradients {span}" if probe else f"gradients {span}"
                cells = [_mean(probe, t) for t in PROBE] + [_mean(chunk, t) for t in GRADIENTS]
                if any(c != "–" for c in cells):
                    disc.append(f"| {name} | {phase}, {label} | {at} | " + " | ".join(cells) + " |")
        losses.append(f"| {name} | all | {rows[-1]['step']} in {wall_minutes(rows):.0f} min | "
                      + " | ".join("" for _ in LOSSES) + " |")
    return "\n".join(losses) + "\n\n" + "\n".join(disc)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="FDD output dirs (holding loss.jsonl)")
    p.add_argument("--window", type=int, default=50)
    args = p.parse_args()
    print(summary_table(args.runs, args.window))


if __name__ == "__main__":
    main()
