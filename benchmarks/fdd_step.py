"""One FDD iteration on the synth preset, whole and in parts, side by side.

Parts (each timed alone on the same batch, the way the iteration runs them):
- prepare: conditioning and text for one item of the teacher bank (its first-frame edit is stored);
- rollout: the student's k DDIM steps forward + backward of a loss on x'_0;
- sds teachers: the edit teacher per frame and the video teacher per clip (no grad);
- discriminator updates: `d_steps` updates of both heads on `d_batch` replayed pairs;
- generator loss: L_G-adv forward + backward to x'_0;
- bank item: what making one item of the teacher bank costs (first-frame edit and both teachers'
  samples), once per item for every run that shares the bank; the online alternative paid it (at
  the judged frames only) every iteration.
The whole iteration (`reference.train_fdd.iteration`, optimizer steps included) is timed in its
SDS-only and adversarial phases; the ratio whole / sum of parts says what the parts miss
(optimizer steps, autograd bookkeeping, the SDS losses' backward through the rollout).

Peak memory: the process's peak resident set on a CPU, `torch.cuda.max_memory_allocated` on a GPU.
Writes benchmarks/results/fdd_step.json. Run (alone on the machine, for honest numbers):

    OMP_NUM_THREADS=1 python benchmarks/fdd_step.py [--weights reference/weights/synth] [--repeats 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reference import fdd  # noqa: E402
from reference.train_fdd import FDDTrainConfig, discriminator_updates, iteration, setup  # noqa: E402


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return min(times)


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def peak_memory_mb() -> float:
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def main() -> None:
    from accelerate import Accelerator

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=str(ROOT / "reference/weights/synth"))
    parser.add_argument("--repeats", type=int, default=3, help="best of N")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/fdd_step.json"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp())
    shutil.copytree(args.weights, work / "model", ignore=shutil.ignore_patterns("logs", "align*"))
    cfg = FDDTrainConfig(weights=str(work / "model"), output_dir=str(work / "run"), batch_size=1, first_frame_steps=10,
                         sds_only_steps=1, d_warmup=1, bank_root=str(work / "bank"), bank_items=8)
    session = setup(cfg, Accelerator(cpu=not torch.cuda.is_available()))
    model, bank = session.model, session.bank
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    item = bank.get("train", 0).as_dict()
    batch = fdd.prepare_batch(model, fdd.stack_items([item]), cfg, session.guidance, gen())
    with torch.no_grad():
        x0_fixed, _ = fdd.rollout(model, session.student, batch, cfg, session.guidance, gen())
    for i in range(cfg.replay_size):  # a full replay buffer of the bank's items
        session.replay.push([i % cfg.bank_items], x0_fixed, 0)
    for i in range(cfg.bank_items):
        bank.get("train", i)

    def rollout():
        x0, _ = fdd.rollout(model, session.student, batch, cfg, session.guidance, gen())
        x0.square().mean().backward()

    def generator_loss():
        x0 = x0_fixed.clone().requires_grad_(True)
        g_e, g_v = fdd.adversarial_generator_losses(session.features, session.disc, batch, x0, cfg, gen())
        (g_e + g_v).backward()

    def bank_item():
        bank.make("train", cfg.bank_items)

    parts = {
        "prepare": _best(lambda: fdd.prepare_batch(model, fdd.stack_items([item]), cfg, session.guidance, gen()),
                         args.repeats),
        "rollout_forward_backward": _best(rollout, args.repeats),
        "sds_teachers": _best(lambda: fdd.sds_losses(model, batch, x0_fixed, cfg, session.guidance, gen()), args.repeats),
        "discriminator_updates": _best(lambda: discriminator_updates(cfg, session, 1), args.repeats),
        "generator_loss_forward_backward": _best(generator_loss, args.repeats),
    }
    once = {"bank_item": _best(bank_item, args.repeats)}
    session.opt_g.zero_grad(set_to_none=True)
    indices = [[0]]
    sds_only = dataclasses.replace(cfg, adversarial=False)
    steps = {  # iteration 1: past the warm-up, and no gradient measurement (every grad_log_every-th)
        "sds_phase": _best(lambda: iteration(sds_only, session, indices, 1), args.repeats),
        "adversarial_phase": _best(lambda: iteration(cfg, session, indices, 1), args.repeats),
    }
    sums = {
        "sds_phase": parts["prepare"] + parts["rollout_forward_backward"] + parts["sds_teachers"],
        "adversarial_phase": sum(parts.values()),
    }
    result = {
        "preset": model.config.preset,
        "device": str(session.accelerator.device),
        "clips_per_iteration": cfg.batch_size,
        "frames_per_clip": model.config.num_frames,
        "k": cfg.k,
        "d_steps": cfg.d_steps,
        "d_batch": cfg.d_batch,
        "teacher_sample_steps": cfg.teacher_sample_steps,
        "first_frame_steps": cfg.first_frame_steps,
        "torch_threads": torch.get_num_threads(),
        "repeats_best_of": args.repeats,
        "machine": platform.platform(),
        "load_average_1min_at_end": round(__import__("os").getloadavg()[0], 2),  # other work on the machine
        "parts_s": {k: round(v, 4) for k, v in parts.items()},
        "once_per_bank_item_s": {k: round(v, 4) for k, v in once.items()},
        "iteration_s": {k: round(v, 4) for k, v in steps.items()},
        "sum_of_parts_s": {k: round(v, 4) for k, v in sums.items()},
        "ratio_iteration_vs_parts": {k: round(steps[k] / sums[k], 3) for k in steps},
        "peak_memory_mb": round(peak_memory_mb(), 1),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
