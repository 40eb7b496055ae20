"""Frames per second the synthetic suite and training streams render at 64 x 64, on one core.

- suite: every source and ground-truth video of the default `synth` suite (40 x 7 samples, 16
  frames), from an empty cache, counting each rendered frame once (a source serves seven samples);
- image_caption / edit_triplet / clip: items drawn from each training stream for a few seconds,
  counted as rendered frames (1, 2 and 8 per item) and reported as items/s too.

Run:  OMP_NUM_THREADS=1 python benchmarks/synth_render_throughput.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from eve_bench.synth.streams import ClipStream, EditTripletStream, ImageCaptionStream
from eve_bench.synth.suite import load_synth

RESULTS = Path(__file__).resolve().parent / "results" / "synth_render_throughput.json"


def suite_throughput() -> dict:
    suite = load_synth()
    start = time.perf_counter()
    frames = 0
    for sample in suite.samples:  # video-major order: the cached source is reused by its 7 edits
        if sample.task == suite.tasks[0]:
            frames += sample.load_source().num_frames
        frames += sample.load_ground_truth().num_frames
    seconds = time.perf_counter() - start
    return {"frames_per_s": frames / seconds, "frames": frames, "seconds": seconds}


def stream_throughput(dataset, frames_per_item: int, seconds: float) -> dict:
    items = iter(dataset)
    next(items)  # the first draw pays for imports and warm-up
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        next(items)
        n += 1
    elapsed = time.perf_counter() - start
    return {"frames_per_s": n * frames_per_item / elapsed, "items_per_s": n / elapsed, "items": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time spent on each stream")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    results = {
        "suite (source + ground truth, 16 frames)": suite_throughput(),
        "ImageCaptionStream": stream_throughput(ImageCaptionStream(), 1, args.seconds),
        "EditTripletStream": stream_throughput(EditTripletStream(), 2, args.seconds),
        "ClipStream (8 frames)": stream_throughput(ClipStream(), 8, args.seconds),
    }
    for name, r in results.items():
        extra = f"  ({r['items_per_s']:.0f} items/s)" if "items_per_s" in r else ""
        print(f"{name:45s} {r['frames_per_s']:8.0f} frames/s{extra}")
    record = {
        "size": 64,
        "results": results,
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "python": platform.python_version(),
                    "numpy": np.__version__, "load_average_1min": os.getloadavg()[0]},
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "note": "the CPU is shared; a load average above 1 per core means other work ran alongside",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
