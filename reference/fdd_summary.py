"""The log summary of FDD runs that TRAINING.md quotes: per run and phase, the iterations, the wall
time, and each loss term and discriminator accuracy averaged over the phase's first and last
`window` iterations.

    python -m reference.fdd_summary runs/fdd/align runs/fdd/align_no_sds ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

TERMS = ("gap_e", "gap_v", "sds_e", "sds_v", "g_e", "g_v", "d_e", "d_v", "acc_e", "acc_v", "grad_norm")


def read_log(run: str | Path) -> list[dict]:
    path = Path(run) / "loss.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wall_minutes(rows: list[dict]) -> float:
    """`seconds` restarts when a run resumes: add up each segment's last value."""
    return (sum(a["seconds"] for a, b in zip(rows, rows[1:]) if b["seconds"] < a["seconds"]) + rows[-1]["seconds"]) / 60


def summary_table(runs: list[str | Path], window: int = 50) -> str:
    lines = ["| run | phase | iterations | " + " | ".join(TERMS) + " |", "|---|---|---|" + "---|" * len(TERMS)]
    for run in runs:
        rows = read_log(run)
        for phase in ("sds", "adversarial"):
            part = [r for r in rows if r["phase"] == phase]
            if not part:
                continue
            for label, chunk in (("first", part[:window]), ("last", part[-window:])):
                cells = []
                for term in TERMS:
                    values = [r[term] for r in chunk if r.get(term) is not None]
                    cells.append(f"{sum(values) / len(values):.3f}" if values else "–")
                span = f"{chunk[0]['step']}-{chunk[-1]['step']}"
                lines.append(f"| {Path(run).name} | {phase}, {label} {len(chunk)} | {span} | " + " | ".join(cells) + " |")
        lines.append(f"| {Path(run).name} | all | {rows[-1]['step']} in {wall_minutes(rows):.0f} min | "
                     + " | ".join("" for _ in TERMS) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="FDD output dirs (holding loss.jsonl)")
    p.add_argument("--window", type=int, default=50)
    args = p.parse_args()
    print(summary_table(args.runs, args.window))


if __name__ == "__main__":
    main()
