"""How few DDIM steps does the EVE student need, and at which guidance? The student on a grid of
step counts x text / image guidance scales (the checkpoint's own, plus each --guidance pair)
against plug-and-play (the same adapters without alignment) at its own default, on the synth
suite: ground-truth metrics, warp error and seconds per sample, as a markdown table and a plot.

    python -m reference.studies.steps_study --weights reference/weights/synth --steps 2 3 4 5 10 20 \
        --guidance 3:1.5 7.5:1.5 --first-frame-steps 10 --suite-args seed=1 --limit 6 --runs runs/steps \
        --out docs/eve_steps

Every point is an ordinary `eve-bench run` (resumable: a re-run scores only what is missing), so
its folder can be put in a leaderboard too. The student was trained on 3-step rollouts whose first
frame is the edit adapter's 10-step edit; `--first-frame-steps` gives the student's first-frame
edit its own step count (default: the student's steps).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

METRICS = ("gt_psnr_in", "gt_psnr_out", "warp_error", "clip_dir")


def run(model: str, model_args: str, out: Path, suite_args: str, limit: int) -> dict:
    cmd = [sys.executable, "-m", "eve_bench.cli", "run", "--model", model, "--model-args", model_args,
           "--suite", "synth", "--limit", str(limit), "--out", str(out), "--quiet"]
    if suite_args:
        cmd += ["--suite-args", suite_args]
    subprocess.run(cmd, check=True)
    summary = json.loads((out / "summary.json").read_text())
    records = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines() if line.strip()]
    seconds = [r["timings"]["edit_s"] for r in records if r.get("timings", {}).get("edit_s") is not None]
    return {"metrics": {k: summary["metrics"]["overall"].get(k) for k in METRICS},
            "seconds_per_sample": sum(seconds) / len(seconds) if seconds else None, "n": len(records)}


def guidance_pair(text: str) -> tuple[float, float]:
    try:
        g, i = (float(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected GUIDANCE:IMAGE_GUIDANCE such as 7.5:1.5, got {text!r}") from None
    return g, i


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default="reference/weights/synth")
    p.add_argument("--steps", type=int, nargs="+", default=[1, 2, 3, 5, 10, 20])
    p.add_argument("--guidance", type=guidance_pair, nargs="*", default=[], metavar="G:I",
                   help="text:image guidance scales to try at every step count, beside the checkpoint's own")
    p.add_argument("--guidance-steps", type=int, nargs="*", default=None,
                   help="the step counts at which the --guidance pairs run (default: every --steps)")
    p.add_argument("--first-frame-steps", type=int, default=None,
                   help="DDIM steps of the student's first-frame edit (default: as many as its steps)")
    p.add_argument("--baseline-steps", type=int, default=20, help="plug-and-play's steps (its default)")
    p.add_argument("--suite-args", default="seed=1", help="the tuning draw by default, not the reported one")
    p.add_argument("--limit", type=int, default=6, help="samples per task")
    p.add_argument("--runs", default="runs/steps")
    p.add_argument("--out", default="docs/eve_steps", help="writes OUT.md, OUT.json and OUT.png")
    args = p.parse_args()

    runs = Path(args.runs)
    rows = {"plug_and_play": {"steps": args.baseline_steps, **run(
        "plug_and_play", f"weights={args.weights},steps={args.baseline_steps}", runs / "plug_and_play",
        args.suite_args, args.limit)}}
    first = f",first_frame_steps={args.first_frame_steps}" if args.first_frame_steps else ""
    for pair in [None, *args.guidance]:
        for n in args.steps if pair is None or args.guidance_steps is None else args.guidance_steps:
            model_args, name, folder, extra = f"weights={args.weights},steps={n}{first}", f"eve@{n}", f"eve_{n}", {}
            if pair is not None:
                g, i = pair
                model_args += f",guidance_scale={g},image_guidance_scale={i}"
                name, folder = f"{name},g={g:g},i={i:g}", f"{folder}_g{g:g}_i{i:g}"
                extra = {"guidance_scale": g, "image_guidance_scale": i}
            rows[name] = {"steps": n, **extra, **run("reference.eve", model_args, runs / folder, args.suite_args,
                                                    args.limit)}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"suite_args": args.suite_args, "limit": args.limit,
                                                    "first_frame_steps": args.first_frame_steps,
                                                    "rows": rows}, indent=2) + "\n")
    lines = [f"Synth suite ({args.suite_args or 'seed=0'}, {args.limit} samples per task), "
             f"`python -m reference.studies.steps_study --steps {' '.join(map(str, args.steps))}"
             + (" --guidance" + "".join(f" {g:g}:{i:g}" for g, i in args.guidance) if args.guidance else "")
             + (" --guidance-steps " + " ".join(map(str, args.guidance_steps)) if args.guidance_steps else "")
             + (f" --first-frame-steps {args.first_frame_steps}" if args.first_frame_steps else "")
             + f" --suite-args {args.suite_args} --limit {args.limit}`.", "",
             "| model | DDIM steps | guidance : image guidance | " + " | ".join(METRICS) + " | s / sample |",
             "|---|---|---|" + "---|" * (len(METRICS) + 1)]
    for name, r in rows.items():
        cells = [f"{r['metrics'][m]:.3f}" if r["metrics"][m] is not None else "–" for m in METRICS]
        secs = f"{r['seconds_per_sample']:.2f}" if r["seconds_per_sample"] is not None else "–"
        guidance = f"{r['guidance_scale']:g} : {r['image_guidance_scale']:g}" if "guidance_scale" in r else "checkpoint's"
        lines.append(f"| {name.split('@')[0]} | {r['steps']} | {guidance} | " + " | ".join(cells) + f" | {secs} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    _plot(rows, out.with_suffix(".png"))
    print("\n".join(lines))


def _plot(rows: dict, path: Path) -> None:
    from eve_bench.figures import new_figure, save_png

    fig = new_figure(figsize=(3.2 * len(METRICS), 3.0))
    lines: dict[str, list[dict]] = {}
    for name, r in rows.items():
        if name.startswith("eve@"):
            label = f"g {r['guidance_scale']:g} : {r['image_guidance_scale']:g}" if "guidance_scale" in r else "checkpoint's"
            lines.setdefault(label, []).append(r)
    base = rows["plug_and_play"]
    for i, metric in enumerate(METRICS):
        ax = fig.add_subplot(1, len(METRICS), i + 1)
        for label, pts in lines.items():
            ax.plot([r["steps"] for r in pts], [r["metrics"][metric] for r in pts], "o-", label=f"EVE, {label}")
        ax.axhline(base["metrics"][metric], color="grey", linestyle="--", label=f"plug-and-play @{base['steps']}")
        ax.set_xscale("log")
        steps = sorted({r["steps"] for pts in lines.values() for r in pts})
        ax.set_xticks(steps, [str(n) for n in steps])
        ax.set_xlabel("DDIM steps")
        ax.set_title(metric + (" ↓" if metric == "warp_error" else " ↑"), fontsize=10)
        if i == 0:
            ax.legend(fontsize=6)
    fig.tight_layout()
    save_png(fig, path, dpi=110)


if __name__ == "__main__":
    main()
