"""Seconds per sample of the VLM judge: measured for the tests' tiny Qwen2.5-VL, estimated for
Qwen2.5-VL-3B-Instruct on this machine.

tiny: the random-init Qwen2.5-VL of tests/tiny_models.py (2 text and 2 vision layers, 32 wide),
with a processor at Qwen2.5-VL-3B's own pixel limits, scores vlm_text, vlm_structure and
vlm_quality (three prompts per sample) and judges one pair (six prompts: three questions, two
orders) on TGVE-sized clips (real TGVE clips where present, 480x480), at the metrics' default
settings (8 frames, 224 x 224 pixels, --batch-size 32). Timed cold (no cached answer; medians of
`--rounds`) and warm (every answer cached). Its forward pass costs almost nothing: these seconds
are the harness's own cost (sampling, resizing, the processor), the floor under any model.

3b_estimate: Qwen2.5-VL-3B-Instruct's exact shapes (config.json of the hub repo: 36 text layers of
2048 with 11008 MLPs, 16 heads, 2 KV heads, vocabulary 151936; 32 vision blocks of 1280, 28 with
windowed and 4 with full attention), cut to 2 text layers and 4 vision blocks (3 windowed, 1 full)
with random weights (nothing downloaded), run on the very inputs the judge builds for one rating
prompt and one comparison prompt. Hooks time each layer; per prompt,

    3B prompt = rest + 36 x text layer + 28 x windowed block + 4 x full block

with each layer's median over `--rounds` and `rest` the pass's time outside those layers (patch
embedding, merger, rotary positions, the last token's logits); per sample 3 rating prompts (the
metrics) or 6 comparison prompts (the judge, per pair). It is an ESTIMATE: layers of a kind are
assumed to cost the same, and the test tokenizer spells text byte by byte, so the text part of a
prompt (about half its tokens here, about a fifth with Qwen's tokenizer) is counted about 4x: an
upper bound, exact for the video tokens. The weights' memory is counted exactly, from the full
model built on the meta device.

Run:  OMP_NUM_THREADS=1 PYTHONPATH=.:tests python benchmarks/vlm_judge.py   (a few minutes on a CPU)
      PYTHONPATH=.:tests python benchmarks/vlm_judge.py --device cuda --out benchmarks/results/vlm_judge_cuda.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from eve_bench.encoders.cache import EmbeddingCache
from eve_bench.encoders.vlm import VlmJudge, VlmSettings
from eve_bench.encoders.vlm_prompts import PromptSet
from eve_bench.human.judge import Pair, PairJudge
from eve_bench.metrics import MetricInput, MetricOptions, build_metrics
from eve_bench.questions import TEXT
from eve_bench.sample import Sample
from eve_bench.video import Video
from tiny_models import save_tiny_qwen2_5_vl

ROOT = Path(__file__).resolve().parents[1]
SHARED_TGVE = ROOT.parent / "shared" / "data" / "tgve"
VLM = ("vlm_text", "vlm_structure", "vlm_quality")
# Qwen/Qwen2.5-VL-3B-Instruct's preprocessor_config.json and config.json (vision: the hub file sets
# hidden_size, out_hidden_size, patch size and tokens_per_second; the rest are the class defaults).
QWEN_3B_PIXELS = {"min_pixels": 3136, "max_pixels": 12845056}
QWEN_3B_TEXT = {"vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 11008, "num_hidden_layers": 36,
                "num_attention_heads": 16, "num_key_value_heads": 2, "max_position_embeddings": 128000,
                "rms_norm_eps": 1e-6, "tie_word_embeddings": True,
                "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]}}
QWEN_3B_VISION = {"hidden_size": 1280, "out_hidden_size": 2048, "tokens_per_second": 2, "depth": 32,
                  "intermediate_size": 3420, "num_heads": 16, "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31]}


def clips(n: int) -> tuple[list[MetricInput], str]:
    """n identity edits of TGVE clips (32 frames, 480x480), or of generated clips of that size."""
    if (SHARED_TGVE / "configs").is_dir():
        from eve_bench.suites import load_suite

        suite = load_suite("tgve", str(SHARED_TGVE)).select_tasks(["style"])
        samples = [s for s in suite.samples if s.source_path and Path(s.source_path).exists()][:n]
        if len(samples) == n:
            items = [MetricInput(s, v, v) for s in samples for v in [s.load_source()]]
            return items, "TGVE: " + ", ".join(s.video_id for s in samples)
    rng = np.random.default_rng(0)
    items = []
    for i in range(n):
        video = Video(rng.integers(0, 256, (32, 480, 480, 3), dtype=np.uint8))
        sample = Sample(f"gen{i}", "bench", "style", None, "a video", f"video {i} in watercolor style",
                        load_source=lambda v=video: v)
        items.append(MetricInput(sample, video, video))
    return items, "generated"


def median_seconds(work, rounds: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def tiny(folder: Path, items: list[MetricInput], device: str, rounds: int, cache_dir: Path) -> dict:
    def metrics(cache: EmbeddingCache):
        options = MetricOptions(device=device, metric_args={n: {"model": str(folder)} for n in VLM},
                                embedding_cache=cache)
        return build_metrics(list(VLM), options)

    def score(cache: EmbeddingCache) -> None:
        for m in metrics(cache):
            m.compute(items)

    pairs = [Pair(it.sample.key, it.sample, it.source, it.edited, Video(255 - it.edited.frames, fps=it.edited.fps))
             for it in items]
    judge = PairJudge(VlmJudge(folder, VlmSettings(), device=device, cache=EmbeddingCache(enabled=False)),
                      PromptSet.load())
    score(EmbeddingCache(enabled=False))  # loads the model once: the rounds time scoring alone
    cold, cold_all = median_seconds(lambda: score(EmbeddingCache(enabled=False)), rounds)
    score(EmbeddingCache(cache_dir))
    warm, warm_all = median_seconds(lambda: score(EmbeddingCache(cache_dir)), rounds)
    pair, pair_all = median_seconds(lambda: judge.judge_pairs(pairs), rounds)
    n = len(items)
    return {"metrics_cold_s_per_sample": cold / n, "metrics_warm_s_per_sample": warm / n,
            "judge_cold_s_per_pair": pair / n, "seconds_all": {"cold": cold_all, "warm": warm_all, "judge": pair_all}}


def estimate_3b(folder: Path, item: MetricInput, device: str, rounds: int) -> dict:
    import torch
    from transformers import AutoTokenizer, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    tokenizer = AutoTokenizer.from_pretrained(folder)
    # The cut model reads the ids the tiny tokenizer gives Qwen's special tokens.
    special = {f"{name}_token_id": tokenizer.convert_tokens_to_ids(f"<|{token}|>") for name, token in
               (("image", "image_pad"), ("video", "video_pad"), ("vision_start", "vision_start"),
                ("vision_end", "vision_end"))}
    with torch.device("meta"):
        full = Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig(text_config=QWEN_3B_TEXT,
                                                                   vision_config=QWEN_3B_VISION, **special))
    params = sum(p.numel() for p in full.parameters())
    layer_params = {"text": sum(p.numel() for p in full.model.language_model.layers.parameters()),
                    "vision": sum(p.numel() for p in full.model.visual.parameters())}
    del full

    judge = VlmJudge(folder, VlmSettings(), device=device, cache=EmbeddingCache(enabled=False))
    prompts = PromptSet.load()
    noisy = Video(255 - item.edited.frames, fps=item.edited.fps)
    inputs = {"rating": judge.encode([prompts.rating(TEXT, item.sample.instruction, item.sample.target_caption,
                                                     item.source, item.edited)]),
              "comparison": judge.encode([prompts.comparison(TEXT, item.sample.instruction, item.sample.target_caption,
                                                             item.source, item.edited, noisy)])}
    torch.manual_seed(0)
    # 2 text layers; 4 vision blocks, the last with full attention (blocks 7, 15, 23, 31 of the 32).
    cut = Qwen2_5_VLConfig(text_config={**QWEN_3B_TEXT, "num_hidden_layers": 2},
                           vision_config={**QWEN_3B_VISION, "depth": 4, "fullatt_block_indexes": [3]}, **special)
    model = Qwen2_5_VLForConditionalGeneration(cut).eval().to(device)
    parts = {"text": list(model.model.language_model.layers), "window": list(model.model.visual.blocks[:3]),
             "full": [model.model.visual.blocks[3]]}
    spent: dict[str, list[float]] = {}

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def timed(kind: str, module) -> None:
        def start(*_):
            sync()
            module._bench_start = time.perf_counter()

        def stop(*_):
            sync()
            spent.setdefault(kind, []).append(time.perf_counter() - module._bench_start)

        module.register_forward_pre_hook(start)
        module.register_forward_hook(stop)

    for kind, modules in parts.items():
        for module in modules:
            timed(kind, module)
    out = {"parameters": params, "layer_parameters": layer_params, "weights_gb": {"fp32": params * 4 / 1e9, "bf16": params * 2 / 1e9}}
    for name, x in inputs.items():
        per_round = []
        for r in range(rounds + 1):  # the first is a warm-up
            spent.clear()
            sync()
            start = time.perf_counter()
            with torch.inference_mode():
                model(**x, logits_to_keep=1)
            sync()
            total = time.perf_counter() - start
            mean = {kind: statistics.mean(times) for kind, times in spent.items()}
            rest = total - sum(sum(times) for times in spent.values())
            if r:
                per_round.append({**mean, "rest": rest})
        layer = {kind: statistics.median(p[kind] for p in per_round) for kind in per_round[0]}
        prompt = layer["rest"] + 36 * layer["text"] + 28 * layer["window"] + 4 * layer["full"]
        out[name] = {"tokens": int(x["input_ids"].shape[1]),
                     "video_tokens": int((x["input_ids"] == special["video_token_id"]).sum()),
                     "vision_patches": int(x["pixel_values_videos"].shape[0]),
                     "seconds": {"text_layer": layer["text"], "window_block": layer["window"],
                                 "full_block": layer["full"], "rest": layer["rest"]},
                     "estimated_prompt_s": prompt,
                     # multiply-adds of the weights, twice: the floor of any device's work (attention left out)
                     "tflop": 2 * (layer_params["text"] * int(x["input_ids"].shape[1])
                                   + layer_params["vision"] * int(x["pixel_values_videos"].shape[0])) / 1e12}
    out["estimated_metrics_s_per_sample"] = 3 * out["rating"]["estimated_prompt_s"]
    out["estimated_judge_s_per_pair"] = 6 * out["comparison"]["estimated_prompt_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--videos", type=int, default=2, help="clips for the tiny model's timing")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-estimate", action="store_true", help="time the tiny model only")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "vlm_judge.json"))
    args = parser.parse_args()
    import torch

    items, source = clips(args.videos)
    result = {"clips": source, "videos": args.videos, "frames_per_clip": items[0].edited.num_frames,
              "settings": VlmSettings().__dict__, "rounds": args.rounds, "device": args.device,
              "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
              "cpu_capability": torch.backends.cpu.get_cpu_capability(), "machine": platform.platform(),
              "loadavg_before": os.getloadavg()}
    if args.device.startswith("cuda"):
        result["gpu"] = torch.cuda.get_device_name()
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_tiny_qwen2_5_vl(Path(tmp) / "tiny", **QWEN_3B_PIXELS)
        result["tiny"] = tiny(folder, items, args.device, args.rounds, Path(tmp) / "cache")
        if not args.skip_estimate:
            result["3b_estimate"] = estimate_3b(folder, items[0], args.device, args.rounds)
    result["loadavg_after"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
