"""How far a run's results move with the torch thread count (docs/results.md, Determinism).

Runs the same reference model twice from scratch, under OMP_NUM_THREADS=1 and =2:

  eve-bench run --model reference.baselines:plug_and_play --model-args weights=reference/weights/synth,steps=4 \
    --suite synth --limit 1

and compares the two run folders: each metric's largest per-sample difference and the difference of
its overall mean, and the output frames (how many frames and pixel values differ, by how many of
the 256 levels at most). It then scores the first run's frames again with `eve-bench eval` under 2
threads, which tells the metrics' share (same frames) from the model's. Results go to
benchmarks/results/thread_determinism.json.

Run:  python benchmarks/thread_determinism.py [--out DIR]   (about 2 minutes on 2 CPU cores)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from eve_bench.run.results import load_records, load_summary
from eve_bench.video import read_video

RESULTS = Path(__file__).resolve().parent / "results" / "thread_determinism.json"
RUN = ["run", "--model", "reference.baselines:plug_and_play", "--model-args", "weights=reference/weights/synth,steps=4",
       "--suite", "synth", "--limit", "1", "--quiet"]
THREADS = (1, 2)


def run_at(threads: int, args: list[str], out: Path) -> None:
    """`eve-bench ARGS --out OUT` from scratch: a resumed run, or one sharing an embedding cache,
    would serve values the other thread count computed."""
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), HF_HUB_OFFLINE="1", EVE_BENCH_CACHE=str(out / "cache"))
    subprocess.run([sys.executable, "-m", "eve_bench", *args, "--out", str(out)], env=env, check=True,
                   cwd=Path(__file__).resolve().parents[1])


def metric_differences(a: Path, b: Path) -> dict:
    sa, sb = load_summary(a), load_summary(b)
    ra, rb = ({r.key: r for r in load_records(d)} for d in (a, b))
    out = {}
    for name, mean in sa["metrics"]["overall"].items():
        diffs = [abs(ra[k].metrics[name] - rb[k].metrics[name]) for k in ra if ra[k].metrics.get(name) is not None]
        out[name] = {"mean_1": mean, "mean_2": sb["metrics"]["overall"][name],
                     "mean_abs_diff": abs(mean - sb["metrics"]["overall"][name]), "max_sample_abs_diff": max(diffs)}
    return out


def frame_differences(a: Path, b: Path) -> dict:
    ra = {r.key: r for r in load_records(a)}
    frames = values = frames_differing = values_differing = max_levels = 0
    for r in ra.values():
        fa, fb = (read_video(d / r.output).frames.astype(np.int16) for d in (a, b))
        diff = np.abs(fa - fb)
        frames += len(fa)
        values += diff.size
        frames_differing += int((diff.reshape(len(fa), -1).max(axis=1) > 0).sum())
        values_differing += int((diff > 0).sum())
        max_levels = max(max_levels, int(diff.max()))
    return {"n": frames, "differing": frames_differing, "values_differing_fraction": values_differing / values,
            "max_level_difference": max_levels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="folder for the two runs (default: a temporary one)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="thread-determinism-"))
    folders = [out / f"threads-{n}" for n in THREADS]
    for n, folder in zip(THREADS, folders):
        run_at(n, RUN, folder)
    # The first run's frames scored under 2 threads: the metrics' own share of the difference.
    rescored = out / "rescored-2"
    run_at(2, ["eval", "--submission", str(folders[0] / "submission"), "--suite", "synth", "--limit", "1", "--quiet"], rescored)
    result = {"command": "eve-bench " + " ".join(RUN), "threads": [load_summary(f)["torch_threads"] for f in folders],
              "run_metrics": metric_differences(*folders), "run_frames": frame_differences(*folders),
              "same_frames_metrics": metric_differences(folders[0], rescored), "platform": platform.platform()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
