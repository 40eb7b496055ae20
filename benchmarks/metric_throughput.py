"""Scoring throughput of CLIP-T, CLIP-F and PickScore on models of the real shapes.

Random-init models with the exact configurations of CLIP ViT-L/14 (openai/clip-vit-large-patch14)
and PickScore's ViT-H/14 (laion/CLIP-ViT-H-14), built here and saved to a temporary folder
(nothing is downloaded; the weights are random, so the scores mean nothing, the work is the real
one). Clips: the first real TGVE clips in ../shared/data/tgve where present, generated ones
otherwise. Modes, timed in interleaved rounds (every mode once per round) and reported as medians,
since the CPU is shared:

- official: the official TGVE script's procedure, float32: one pass per metric (CLIP-T, CLIP-F,
  PickScore), each video on its own, its frames PIL-resized to 480 and through the processor;
- floor: a bare batched pass of the two encoders over every frame (preprocessing included), float32;
- cold_fp32 / cold_bf16: eve-bench's three metrics from an empty embedding cache (CLIP-T and CLIP-F
  share their frame embeddings), at --precision fp32 and bf16;
- warm: eve-bench re-scoring with every embedding cached, in this process (new metric objects,
  no weights loaded) and as a whole `python -m eve_bench eval` command (start-up included).

Run:  OMP_NUM_THREADS=1 python benchmarks/metric_throughput.py   (about 2 x 32 frames: long on a CPU)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED_TGVE = ROOT.parent / "shared" / "data" / "tgve"

from eve_bench.encoders.cache import EmbeddingCache  # noqa: E402
from eve_bench.encoders.clip_bpe import BOS_ID, EOS_ID, VOCAB_SIZE, save_clip_processor  # noqa: E402
from eve_bench.metrics import with_family_args  # noqa: E402
from eve_bench.metrics.base import MetricInput, MetricOptions  # noqa: E402
from eve_bench.metrics.clip import ClipFrame, ClipText, PickScore  # noqa: E402
from eve_bench.sample import Sample  # noqa: E402
from eve_bench.video import Video, write_frames_dir  # noqa: E402

# The published configurations (config.json of each hub repo), less what CLIPConfig defaults to.
_TEXT = {"vocab_size": VOCAB_SIZE, "max_position_embeddings": 77, "bos_token_id": BOS_ID, "eos_token_id": EOS_ID,
         "pad_token_id": 1}
CLIP_L14 = {
    "text_config": {**_TEXT, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                    "num_attention_heads": 12, "hidden_act": "quick_gelu"},
    "vision_config": {"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24,
                      "num_attention_heads": 16, "image_size": 224, "patch_size": 14, "hidden_act": "quick_gelu"},
    "projection_dim": 768,
}
PICKSCORE_H14 = {
    "text_config": {**_TEXT, "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24,
                    "num_attention_heads": 16, "hidden_act": "gelu"},
    "vision_config": {"hidden_size": 1280, "intermediate_size": 5120, "num_hidden_layers": 32,
                      "num_attention_heads": 16, "image_size": 224, "patch_size": 14, "hidden_act": "gelu"},
    "projection_dim": 1024,
}


def build_models(root: Path) -> dict[str, Path]:
    """CLIP ViT-L/14 with its processor in one folder; PickScore's model and processor apart, as on
    the hub."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    dirs = {"clip": root / "clip-vit-large-patch14", "pick": root / "pickscore-vit-h-14",
            "pick_processor": root / "clip-vit-h-14-processor"}
    for name, config in (("clip", CLIP_L14), ("pick", PICKSCORE_H14)):
        torch.manual_seed(0)
        model = CLIPModel(CLIPConfig(**config)).eval()
        model.save_pretrained(dirs[name])
        del model
    save_clip_processor(dirs["clip"], 224)
    save_clip_processor(dirs["pick_processor"], 224)
    return dirs


def clips(n: int, frames: int) -> tuple[list[Sample], str]:
    """n samples (identity edits: edited = source) with real TGVE clips where present."""
    if (SHARED_TGVE / "configs").is_dir():
        from eve_bench.suites import load_suite

        suite = load_suite("tgve", str(SHARED_TGVE)).select_tasks(["style"])
        samples = [s for s in suite.samples if s.source_path and Path(s.source_path).exists()][:n]
        if len(samples) == n:
            out = []
            for s in samples:
                video = s.load_source()
                video = Video(video.frames[:frames], fps=video.fps)
                out.append(dataclasses.replace(s, load_source=lambda v=video: v))
            return out, "TGVE: " + ", ".join(s.video_id for s in samples)
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        base = rng.integers(0, 256, (1, 480, 480, 3), dtype=np.uint8)
        shift = np.stack([np.roll(base[0], 4 * t, axis=1) for t in range(frames)])
        video = Video(shift)
        out.append(Sample(video_id=f"gen{i}", group="bench", task="style", instruction=None,
                          source_caption="a video", target_caption=f"video number {i} in watercolor style",
                          load_source=lambda v=video: v))
    return out, "generated"


def official(encoders: dict, items: list[MetricInput]) -> list[list[float]]:
    """The official script's procedure: a pass per metric, one video at a time, float32."""
    import torch
    from PIL import Image

    def frames(item):
        return [Image.fromarray(f).resize((480, 480), Image.BICUBIC) for f in item.edited.frames]

    def text_alignment(enc, item) -> float:
        pixels = enc.image_processor(images=frames(item), return_tensors="pt")["pixel_values"]
        tokens = enc.tokenizer([item.sample.target_caption], padding=True, truncation=True, max_length=77,
                               return_tensors="pt")
        image = torch.nn.functional.normalize(_pooled(enc.model.get_image_features(pixel_values=pixels)), dim=-1)
        text = torch.nn.functional.normalize(_pooled(enc.model.get_text_features(**tokens)), dim=-1)
        return (enc.model.logit_scale.exp() * (image @ text.T)).mean().item()

    def frame_consistency(enc, item) -> float:
        pixels = enc.image_processor(images=frames(item), return_tensors="pt")["pixel_values"]
        e = torch.nn.functional.normalize(_pooled(enc.model.get_image_features(pixel_values=pixels)), dim=-1)
        n = len(e)
        return (((e @ e.T).sum() - n) / (n * (n - 1))).item()

    with torch.no_grad():
        return [[text_alignment(encoders["clip"], it) for it in items],
                [frame_consistency(encoders["clip"], it) for it in items],
                [text_alignment(encoders["pick"], it) for it in items]]


def floor(encoders: dict, items: list[MetricInput], batch_size: int) -> None:
    """Every frame through both image towers, and the prompts through both text towers, batched."""
    for enc in encoders.values():
        enc._embed_frames([f for it in items for f in it.edited.frames])
        enc._embed_texts([it.sample.target_caption for it in items])


def _pooled(out):
    return getattr(out, "pooler_output", out)


def eve_bench_metrics(dirs: dict, cache: EmbeddingCache, precision: str, batch_size: int) -> list:
    family = {"clip.model": str(dirs["clip"]), "pickscore.model": str(dirs["pick"]),
              "pickscore.processor": str(dirs["pick_processor"])}
    options = MetricOptions(metric_args=with_family_args({}, family), batch_size=batch_size, embedding_cache=cache,
                            precision=precision)
    metrics = [ClipText(options), ClipFrame(options), PickScore(options)]
    for m in metrics:
        m.prepare()
    return metrics


def score(metrics: list, items: list[MetricInput]) -> list[list[float]]:
    return [m.compute(items) for m in metrics]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=2)
    parser.add_argument("--frames", type=int, default=32, help="frames per clip (TGVE clips have 32)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "metric_throughput.json"))
    args = parser.parse_args()

    import torch

    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="eve-bench-throughput-"))
    try:
        t0 = time.perf_counter()
        dirs = build_models(tmp / "models")
        print(f"built the models in {time.perf_counter() - t0:.0f} s", flush=True)
        samples, source = clips(args.videos, args.frames)
        items = [MetricInput(s, s.load_source(), s.load_source()) for s in samples]
        n = sum(it.edited.num_frames for it in items)

        cold_cache = EmbeddingCache(tmp / "cold")
        fp32 = eve_bench_metrics(dirs, cold_cache, "fp32", args.batch_size)
        bf16 = eve_bench_metrics(dirs, cold_cache, "bf16", args.batch_size)
        encoders = {"clip": fp32[0].encoder, "pick": fp32[2].encoder}
        # One copy of the weights for both precisions (autocast leaves them float32): two copies
        # of CLIP-L and ViT-H do not fit beside the machine's other work.
        bf16[0].encoder._loaded, bf16[2].encoder._loaded = encoders["clip"]._parts(), encoders["pick"]._parts()
        warm_cache = EmbeddingCache(tmp / "warm")
        score(eve_bench_metrics(dirs, warm_cache, "fp32", args.batch_size), items)  # fills the warm cache
        for m in eve_bench_metrics(dirs, warm_cache, "fp32", args.batch_size):
            m.encoder._loaded = None  # what a new process starts with
        cli = warm_cli_command(tmp, dirs, samples, args) if source != "generated" else None
        if cli:
            run_cli(cli, tmp)  # fills the command's cache

        def cold(metrics):
            shutil.rmtree(cold_cache.root, ignore_errors=True)  # an empty cache for every round
            return score(metrics, items)

        def warm():
            metrics = eve_bench_metrics(dirs, warm_cache, "fp32", args.batch_size)
            values = score(metrics, items)
            assert all(m.encoder._loaded is None for m in metrics), "warm re-scoring loaded weights"
            return values

        modes = {
            "official": lambda: official(encoders, items),
            "floor": lambda: floor(encoders, items, args.batch_size),
            "cold_fp32": lambda: cold(fp32),
            "cold_bf16": lambda: cold(bf16),
            "warm": warm,
        }
        if cli:
            modes["warm_cli"] = lambda: run_cli(cli, tmp)
        times: dict[str, list[float]] = {k: [] for k in modes}
        values: dict = {}
        for r in range(args.rounds):
            for name, fn in modes.items():
                start = time.perf_counter()
                values[name] = fn()
                times[name].append(time.perf_counter() - start)
                print(f"round {r + 1}: {name} {times[name][-1]:.1f} s", flush=True)
        load_after = os.getloadavg()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    names = ["clip_text", "clip_frame", "pick_score"]
    diff = lambda a, b: {m: float(np.max(np.abs(np.subtract(x, y)))) for m, x, y in zip(names, a, b)}  # noqa: E731
    result = {
        "models": "random-init CLIP ViT-L/14 and PickScore ViT-H/14 (exact hub configurations)",
        "clips": source, "videos": args.videos, "frames": n, "rounds": args.rounds, "batch_size": args.batch_size,
        "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(), "machine": platform.platform(),
        "loadavg_before": load_before, "loadavg_after": load_after,
        "seconds_median": med, "seconds_all": times,
        "frames_per_s": {k: n / v for k, v in med.items()},
        "ratios": {
            "cold_fp32_vs_official": med["official"] / med["cold_fp32"],
            "cold_bf16_vs_official": med["official"] / med["cold_bf16"],
            "cold_fp32_vs_floor": med["floor"] / med["cold_fp32"],
            "warm_vs_official": med["official"] / med["warm"],
            **({"warm_cli_vs_official": med["official"] / med["warm_cli"]} if "warm_cli" in med else {}),
        },
        "max_abs_diff": {"cold_fp32_vs_official": diff(values["cold_fp32"], values["official"]),
                         "cold_bf16_vs_fp32": diff(values["cold_bf16"], values["cold_fp32"]),
                         "warm_vs_cold_fp32": diff(values["warm"], values["cold_fp32"])},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"{n} frames ({source}); medians of {args.rounds} interleaved rounds; load average "
          f"{load_before[0]:.1f} -> {load_after[0]:.1f} on {os.cpu_count()} cores")
    for k, v in med.items():
        print(f"  {k:10s} {v:8.1f} s  {n / v:7.2f} frames/s")
    for k, v in result["ratios"].items():
        print(f"  {k:24s} {v:6.2f}x")
    print(f"  bf16 - fp32, max |diff|: {result['max_abs_diff']['cold_bf16_vs_fp32']}")
    print(f"wrote {args.out}")


def warm_cli_command(tmp: Path, dirs: dict, samples: list[Sample], args) -> list[str]:
    """`python -m eve_bench eval` of the clips as a submission (identity edits)."""
    sub = tmp / "submission"
    for s in samples:
        write_frames_dir(s.load_source(), sub / s.group / s.video_id / s.edit_id)
    # --limit keeps the first samples of the task: the ones written above.
    return [sys.executable, "-m", "eve_bench", "eval", "--submission", str(sub), "--suite", "tgve",
            "--data", str(SHARED_TGVE), "--skip-missing", "--tasks", "style", "--limit", str(len(samples)),
            "--max-frames", str(args.frames),
            "--metrics", "clip_text,clip_frame,pick_score", "--clip-model", str(dirs["clip"]),
            "--pickscore-model", str(dirs["pick"]), "--pickscore-processor", str(dirs["pick_processor"]),
            "--out", str(tmp / "eval"), "--overwrite", "--quiet"]


def run_cli(command: list[str], tmp: Path) -> None:
    env = dict(os.environ, EVE_BENCH_CACHE=str(tmp / "cli-cache"),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}: {result.stderr[-2000:]}")


if __name__ == "__main__":
    main()
