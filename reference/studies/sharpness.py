"""Does the adversarial half do what its discriminators ask? The cue they see is low-level: an
SDS-trained student is blurrier than its teachers (docs/fdd.md, "What the discriminators see").
This measures that cue on finished synth runs, against the ground truth: each output frame's
high-frequency energy (the variance of the Laplacian of its luma), as a share of the ground
truth's, per run and paired sample by sample between the first run and each other.

    python -m reference.studies.sharpness runs/leaderboards/synth-reference/{eve,eve_no_disc,per_frame_edit} \
        --out docs/fdd_sharpness

Every run must be on the synth suite (its samples carry the ground truth) with the same draw.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import cv2
import numpy as np

from eve_bench.reports.gallery import suite_samples
from eve_bench.run.folder import RunFolder
from eve_bench.video import read_video


def high_frequency(frames: np.ndarray) -> float:
    """Mean over frames of the variance of the Laplacian of the luma: (T, H, W, 3) uint8."""
    luma = frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return float(np.mean([cv2.Laplacian(f, cv2.CV_32F).var() for f in luma]))


def run_samples(runs: list[Path]) -> dict:
    """key -> Sample of the synth draw every run was made on, rebuilt from their summaries as the
    reports rebuild it (a run's sample keys name the same videos in every draw, so pairing against
    another draw's truth would go unseen)."""
    summaries = []
    for run in runs:
        summary = run / "summary.json"
        if not summary.is_file():
            raise SystemExit(f"sharpness: {run} has no summary.json (not a finished run)")
        summaries.append(json.loads(summary.read_text()))
    if any(s.get("suite") != "synth" for s in summaries):
        raise SystemExit("sharpness: every run must be on the synth suite (its samples carry the ground truth)")
    if len({json.dumps(s.get("suite_info"), sort_keys=True) for s in summaries}) != 1:
        raise SystemExit("sharpness: the runs are on different synth draws")
    samples = suite_samples(summaries[0])
    if not samples:
        raise SystemExit(f"sharpness: cannot rebuild the synth draw of {runs[0]} (a run made before summaries "
                         "recorded suite_args: run its eve-bench command again, it resumes and rewrites them)")
    return samples


def measure(runs: list[Path]) -> dict:
    samples = run_samples(runs)
    ratios = {r.name: {} for r in runs}  # run -> sample key -> log(output energy / ground truth's)
    for sample in samples.values():
        folders = [RunFolder(r).frames(sample) for r in runs]
        if not all(f.is_dir() for f in folders):
            continue
        truth = high_frequency(sample.load_ground_truth().frames)
        for run, folder in zip(runs, folders):
            ratios[run.name][sample.key] = math.log(high_frequency(read_video(folder).frames) / truth)
    shared = sorted(set.intersection(*(set(v) for v in ratios.values())))
    if not shared:
        raise SystemExit("sharpness: the runs share no finished sample")
    base = runs[0].name
    rows = []
    for run in runs:
        logs = [ratios[run.name][k] for k in shared]
        rows.append({
            "run": run.name,
            "energy_vs_truth": round(math.exp(float(np.mean(logs))), 3),  # geometric mean of the ratios
            "blurrier_than_truth": round(float(np.mean([v < 0 for v in logs])), 3),
            f"sharper_than_{base}": None if run.name == base else round(
                float(np.mean([ratios[run.name][k] > ratios[base][k] for k in shared])), 3),
        })
    return {"samples": len(shared), "rows": rows}


def to_markdown(result: dict, runs: list[Path]) -> str:
    base = runs[0].name
    lines = [f"{result['samples']} synth samples; high-frequency energy (variance of the Laplacian of the luma, "
             "mean over frames) as a share of the ground truth's (geometric mean over samples).", "",
             f"| run | energy / ground truth | blurrier than the ground truth | sharper than {base} |",
             "|---|---|---|---|"]
    for row in result["rows"]:
        paired = row[f"sharper_than_{base}"]
        lines.append(f"| {row['run']} | {row['energy_vs_truth']:.3f} | {100 * row['blurrier_than_truth']:.1f} % | "
                     f"{'–' if paired is None else f'{100 * paired:.1f} %'} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="finished synth run folders; the first is compared with each other")
    p.add_argument("--out", type=Path, help="also write OUT.md and OUT.json")
    args = p.parse_args(argv)
    result = measure(args.runs)
    text = to_markdown(result, args.runs)
    print(text, end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".md").write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
