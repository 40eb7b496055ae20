"""CPU seconds per sample of each diffusers baseline on tiny random weights (tests/diffusers_tiny.py).

This measures the adapter's overhead (resizing, windows, the pipeline's own loop) on a TGVE-shaped
sample, 6 frames of 32 x 32 at 32 px with 2 denoising steps; it says nothing about the real
weights' cost, which needs a GPU. Each baseline is loaded once, then timed over `--repeats` edits
after one warm-up edit; process CPU time per edit is reported beside wall time.

Run:  OMP_NUM_THREADS=1 PYTHONPATH=.:tests python benchmarks/diffusers_baselines_tiny.py
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import diffusers_tiny
from eve_bench.models import EditRequest, load_model
from fixtures import moving_square_video

RESULTS = Path(__file__).resolve().parent / "results" / "diffusers_baselines_tiny.json"
FAST = {"num_inference_steps": 2, "resolution": 32}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    request = EditRequest(video=moving_square_video(0, frames=6, size=32), instruction="make it red",
                          source_caption="a square", target_caption="a red square", task="style", seed=0)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        w = Path(tmp)
        diffusers_tiny.save_instruct_pix2pix(w / "ip2p")
        diffusers_tiny.save_sd15_and_motion_adapter(w)
        diffusers_tiny.save_wan_v2v(w / "wan")
        diffusers_tiny.save_lucy_edit(w / "lucy")
        baselines = {  # the settings the tests use
            "instruct_pix2pix": {"path": w / "ip2p"},
            "animatediff_sdedit": {"path": w / "sd15", "motion_adapter": w / "motion_adapter", "window": 4, "overlap": 1},
            "wan_sdedit": {"path": w / "wan", "max_sequence_length": 16},
            "lucy_edit": {"path": w / "lucy", "max_sequence_length": 16, "window": 5, "overlap": 2},
        }
        for name, extra in baselines.items():
            model = load_model(name, {**FAST, **{k: str(v) if isinstance(v, Path) else v for k, v in extra.items()}})
            model.edit(request)
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(args.repeats):
                model.edit(request)
            results[name] = {"cpu_s_per_sample": round((time.process_time() - cpu) / args.repeats, 3),
                             "wall_s_per_sample": round((time.perf_counter() - wall) / args.repeats, 3)}
            print(name, results[name])
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"sample": "6 frames, 32 x 32, 2 steps, tiny random weights", "results": results,
                                   "machine": platform.platform(), "processor": platform.processor()}, indent=2) + "\n")


if __name__ == "__main__":
    main()
