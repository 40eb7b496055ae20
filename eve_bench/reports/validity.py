"""Metric validity: how well each automatic metric tracks the ground truth on the synth suite.

For every synth sample we build outputs of graded, known quality (the source itself, the ground
truth, the ground truth with noise, flicker or shuffled frames, partial edits, and the edit of
another task) and score them with every metric. A metric is trustworthy for edit accuracy when its
ranking of these outputs agrees with the ground-truth metrics (`gt_*_in`), and for preservation
when it agrees with `gt_*_out`. We report Spearman's rho two ways: within each sample (does it
rank outputs of the same edit correctly?), averaged over samples, and pooled over all outputs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from eve_bench.atomic import atomic_write_text
from eve_bench.figures import new_figure, save_png
from eve_bench.metrics import FAMILIES, METRICS, MetricInput, MetricOptions
from eve_bench.sample import Sample
from eve_bench.tables import md_table
from eve_bench.video import Video

REFERENCES = ("gt_psnr_in", "gt_ssim_in", "gt_psnr_out", "gt_ssim_out")


@dataclass(frozen=True)
class Variant:
    name: str
    make: Callable[[np.ndarray, np.ndarray, np.ndarray, np.random.Generator], np.ndarray]
    # (source, ground truth, another task's ground truth, rng) -> frames


def _noise(sigma: float):
    def make(src, gt, other, rng):
        return np.clip(gt + rng.normal(0, sigma, gt.shape), 0, 255).astype(np.uint8)
    return make


def _flicker(amplitude: float):
    def make(src, gt, other, rng):
        offsets = rng.uniform(-amplitude, amplitude, size=(gt.shape[0], 1, 1, 1))
        return np.clip(gt + offsets, 0, 255).astype(np.uint8)
    return make


def _blend(alpha: float):
    def make(src, gt, other, rng):
        return np.round(alpha * gt.astype(np.float64) + (1 - alpha) * src).astype(np.uint8)
    return make


def _shuffle(src, gt, other, rng):
    order = rng.permutation(gt.shape[0])
    while gt.shape[0] > 1 and np.all(order == np.arange(gt.shape[0])):
        order = rng.permutation(gt.shape[0])
    return gt[order]


VARIANTS = (
    Variant("ground_truth", lambda src, gt, other, rng: gt),
    Variant("noise_8", _noise(8)),
    Variant("noise_24", _noise(24)),
    Variant("noise_48", _noise(48)),
    Variant("flicker_10", _flicker(10)),
    Variant("flicker_30", _flicker(30)),
    Variant("shuffled", _shuffle),
    Variant("partial_75", _blend(0.75)),
    Variant("partial_50", _blend(0.5)),
    Variant("partial_25", _blend(0.25)),
    Variant("identity", lambda src, gt, other, rng: src),
    Variant("wrong_edit", lambda src, gt, other, rng: other),
)


@dataclass(frozen=True)
class Graded:
    """One synth sample with its outputs of graded, known quality."""

    sample: Sample
    source: Video
    ground_truth: Video
    mask: np.ndarray
    outputs: dict[str, np.ndarray]  # variant name -> frames, in VARIANTS order


def graded_outputs(suite, seed: int = 0) -> Iterator[Graded]:
    """Every sample of a synth suite with each VARIANTS output; `seed` draws the degradations."""
    by_video: dict[str, dict] = {}
    for s in suite.samples:
        by_video.setdefault(s.video_id, {})[s.task] = s
    rng = np.random.default_rng(seed)
    for sample in suite.samples:
        source, gt, mask = sample.load_source(), sample.load_ground_truth(), sample.load_mask()
        tasks = list(by_video[sample.video_id])
        other = by_video[sample.video_id][tasks[(tasks.index(sample.task) + 1) % len(tasks)]].load_ground_truth()
        yield Graded(sample, source, gt, mask,
                     {v.name: v.make(source.frames, gt.frames, other.frames, rng) for v in VARIANTS})


def score_variants(
    n_videos: int = 8, seed: int = 0, options: MetricOptions | None = None, metric_names: list[str] | None = None
) -> tuple[list[dict], dict]:
    """One row per (sample, variant) with each metric's value (default: every registered metric
    whose weights load, and the opt-in ones whose weights are given), and the metrics skipped."""
    from eve_bench.run.scoring import prepare_metrics
    from eve_bench.synth.suite import load_synth

    options = options or MetricOptions()
    suite = load_synth(n_videos=n_videos)
    unasked = {} if metric_names else {
        n: f"not run unless asked: its weights cost seconds per output; give them with --metric-args {n}.model=DIR"
        for n in METRICS.names() if METRICS.get(n).opt_in and not options.metric_args.get(n, {}).get("model")}
    # Set-level metrics have no value per output to rank (on one sample, gt_psnr_in_set is gt_psnr_in).
    names = sorted({n for n in metric_names or METRICS.names() if not METRICS.get(n).set_level and n not in unasked}
                   | set(REFERENCES))
    metrics, skipped = prepare_metrics(names, suite, options, strict=False)
    rows = []
    for graded in graded_outputs(suite, seed):
        for variant, frames in graded.outputs.items():
            item = MetricInput(graded.sample, Video(frames, fps=graded.source.fps), graded.source, graded.ground_truth,
                               graded.mask)
            row = {"key": graded.sample.key, "task": graded.sample.task, "variant": variant}
            for metric in metrics:
                row[metric.name] = float(metric.compute([item])[0])
            rows.append(row)
    return rows, {**skipped, **unasked}


def correlations(rows: list[dict]) -> dict:
    """metric -> reference -> {"within": mean per-sample rho, "pooled": rho over all rows}."""
    from scipy.stats import spearmanr

    metric_names = [k for k in rows[0] if k not in ("key", "task", "variant") and k not in REFERENCES]
    keys = sorted({r["key"] for r in rows})
    out: dict = {}
    for m in metric_names:
        out[m] = {}
        for ref in REFERENCES:
            per_sample = []
            for key in keys:
                pts = [(r[m], r[ref]) for r in rows if r["key"] == key and _finite(r[m]) and _finite(r[ref])]
                if len(pts) >= 3 and len({p[0] for p in pts}) > 1 and len({p[1] for p in pts}) > 1:
                    per_sample.append(spearmanr(*zip(*pts)).statistic)
            pooled = [(r[m], r[ref]) for r in rows if _finite(r[m]) and _finite(r[ref])]
            out[m][ref] = {
                "within": float(np.mean(per_sample)) if per_sample else None,
                "pooled": float(spearmanr(*zip(*pooled)).statistic) if len(pooled) >= 3 else None,
                "n_samples": len(per_sample),
            }
    return out


def _finite(x) -> bool:
    return isinstance(x, float) and math.isfinite(x)


def _direction_sign(metric: str) -> int:
    higher = METRICS.get(metric).higher_is_better
    return 1 if higher in (True, None) else -1


VLM_READING = (
    "**Reading the VLM-judged rows** (`vlm_text`, `vlm_structure`, `vlm_quality`: EVE's three human questions asked "
    "of a vision-language model, docs/metrics-vlm.md; measured when `eve-bench validity --vlm-model DIR` names its "
    "weights). Compare each with the metrics that answer the same question: `vlm_text` with `clip_text`, `clip_dir` "
    "and `viclip_dir` on the `gt_*_in` columns (edit accuracy), `vlm_structure` with `edge_ssim` and `source_mae` on "
    "the `gt_*_out` columns (preservation). `vlm_quality` has no ground-truth column of its own: read its mean per "
    "output kind below, which should fall from `ground_truth` through `noise_*`, `flicker_*` and `shuffled`, as "
    "`warp_error` rises. A judge is worth its cost where its *within* rho is above its CLIP counterpart's with no "
    "wrong sign elsewhere. Its values are expectations over the answers 1 to 5, so outputs of one sample can tie, "
    "which lowers rho: a rho near 0 with means that still move the right way is a judge too coarse for these small "
    "synthetic videos, not one that disagrees."
)


def render_markdown(corr: dict, rows: list[dict], skipped: dict, command: str) -> str:
    n_samples = len({r["key"] for r in rows})
    lines = [
        "# Metric validity on the synth suite",
        "",
        f"Generated by `{command}` ({n_samples} samples x {len(VARIANTS)} outputs of graded quality: "
        + ", ".join(v.name for v in VARIANTS) + ").",
        "",
        "Spearman's rho between each automatic metric and the ground-truth metrics, signed so that "
        "**positive means the metric agrees** (metrics where lower is better are negated). "
        "*within*: rho over the outputs of one sample, averaged over samples (does the metric rank "
        "edits of the same video correctly?); *pooled*: rho over all outputs. `gt_*_in` measures edit "
        "accuracy inside the ground-truth edit mask, `gt_*_out` preservation outside it (undefined "
        "for whole-frame edits such as style, which are left out of those columns).",
        "",
    ]
    lines += md_table(["metric"] + [f"{r} {kind}" for r in REFERENCES for kind in ("within", "pooled")],
                      [[m] + ["–" if refs[ref][kind] is None else f"{_direction_sign(m) * refs[ref][kind]:+.2f}"
                              for ref in REFERENCES for kind in ("within", "pooled")] for m, refs in corr.items()],
                      escape=False)
    if skipped:
        lines += ["", "Not measured here (weights missing, or not asked for, on the machine that generated this file):", ""]
        lines += [f"- `{m}`: {reason.split(' (')[0]}" for m, reason in skipped.items()]
    if set(FAMILIES["vlm"]) & (set(corr) | set(skipped)):
        lines += ["", VLM_READING]
    lines += ["", "Mean metric value per output kind:", ""]
    lines += md_table(["output", *corr], [[v.name] + [f"{np.nanmean([r[m] for r in rows if r['variant'] == v.name]):.4g}"
                                                      for m in corr] for v in VARIANTS], escape=False)
    return "\n".join(lines + [""] + headroom_table(rows, list(corr) + list(REFERENCES))) + "\n"


def headroom_table(rows: list[dict], metrics: list[str]) -> list[str]:
    """Markdown lines: per task, what the unedited source and the exact ground truth score on each
    metric. The room between them is all a model can gain on that task."""
    if not {"identity", "ground_truth"} <= {r["variant"] for r in rows}:
        return []
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    body = []
    for m in metrics:
        cells = [m]
        for task in tasks:
            lo, hi = ([r[m] for r in rows if r["task"] == task and r["variant"] == v and _finite(r[m])]
                      for v in ("identity", "ground_truth"))
            # undefined where the metric's region is empty (gt_*_out of a whole-frame style edit)
            cells.append(f"{np.mean(lo):.4g} -> {np.mean(hi):.4g}" if lo and hi else "–")
        body.append(cells)
    return (["Per task: identity (the source) -> ground truth, the floor and ceiling of each metric:", ""]
            + md_table(["metric", *tasks], body, escape=False))


def render_heatmap(corr: dict, path: Path) -> None:
    metrics = list(corr)
    grid = np.array([[(_direction_sign(m) * (corr[m][r]["within"] if corr[m][r]["within"] is not None else np.nan))
                      for r in REFERENCES] for m in metrics])
    fig = new_figure(figsize=(1.6 * len(REFERENCES) + 2.5, 0.45 * len(metrics) + 1.5))
    ax = fig.subplots()
    im = ax.imshow(grid, cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(len(REFERENCES)), REFERENCES, rotation=20)
    ax.set_yticks(range(len(metrics)), metrics)
    for i in range(len(metrics)):
        for j in range(len(REFERENCES)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:+.2f}", ha="center", va="center", fontsize=8)
    ax.set_title("Agreement with ground truth (within-sample Spearman, signed)", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    save_png(fig, path, dpi=110)


def write_report(out: str | Path, n_videos: int = 8, seed: int = 0, options: MetricOptions | None = None, command: str = "") -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, skipped = score_variants(n_videos, seed, options)
    corr = correlations(rows)
    command = command or f"eve-bench validity --out {out} --n-videos {n_videos} --seed {seed}"
    paths = [out / "metric_validity.md", out / "metric_validity.json", out / "metric_validity.png"]
    atomic_write_text(paths[0], render_markdown(corr, rows, skipped, command))
    atomic_write_text(paths[1], json.dumps({"command": command, "correlations": corr, "skipped": skipped,
                                            "variants": [v.name for v in VARIANTS]}, indent=2) + "\n")
    render_heatmap(corr, paths[2])
    return paths
