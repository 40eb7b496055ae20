"""Ship a trained run as a compact checkpoint, with the logs its TRAINING.md is computed from.

    python -m reference.ship --run runs/synth_v4 --out reference/weights/synth

`--run` is a `reference/train_synth.sh` ROOT (`model/`: the EVE checkpoint, `train/<stage>/`: the
training state). The checkpoint is written in float16 (the baselines load it back in float32)
to a temporary sibling and swapped in by renaming only when complete, so an interrupted ship
leaves the previous checkpoint (at worst under `<out>.previous`), never a half-written one;
hand-written files already in `--out` (TRAINING.md) are carried over.
`logs/<stage>/{loss.jsonl,train_config.json}` are copied beside it, and the log summary table
(`summarize`) is printed in markdown for TRAINING.md.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

LOG_FILES = ("loss.jsonl", "train_config.json")
STAGE_ORDER = ("backbone_vae", "backbone_t2i", "backbone_vae_decoder", "edit_adapter", "video_adapter")
_PARTS = ("backbone", "edit_adapter", "video_adapter", "eve_config.json")  # written by save_pretrained


@dataclass
class StageSummary:
    stage: str
    steps: int
    minutes: float  # training wall time, summed over resumed segments
    early_loss: float  # mean of the logged losses at steps 25-100
    late_loss: float  # mean of the last ten logged losses


def summarize(log_path: str | Path) -> StageSummary:
    rows = [json.loads(line) for line in Path(log_path).read_text().splitlines() if line.strip()]
    if not rows:
        raise ValueError(f"{log_path} has no logged step")
    early = [r["loss"] for r in rows if 25 <= r["step"] <= 100] or [rows[0]["loss"]]
    late = [r["loss"] for r in rows[-10:]]
    # `seconds` restarts from 0 when a run resumes: add up each segment's last value (a resume drops
    # the lines after its checkpoint, so time spent on steps a kill threw away is not counted)
    seconds = sum(a["seconds"] for a, b in zip(rows, rows[1:]) if b["seconds"] < a["seconds"]) + rows[-1]["seconds"]
    return StageSummary(
        stage=Path(log_path).parent.name,
        steps=rows[-1]["step"],
        minutes=seconds / 60,
        early_loss=sum(early) / len(early),
        late_loss=sum(late) / len(late),
    )


def markdown_table(summaries: list[StageSummary]) -> str:
    lines = ["| stage | steps | wall time | early loss | late loss |", "|---|---|---|---|---|"]
    for s in summaries:
        lines.append(f"| {s.stage} | {s.steps:,} | {s.minutes:.1f} min | {s.early_loss:.3f} | {s.late_loss:.3f} |")
    vae = next((s for s in summaries if s.stage == "backbone_vae"), None)
    if vae is not None:  # MSE on [-1, 1] pixels -> PSNR on 0-255 (the range is 2, so peak^2 = 4)
        lines.append(f"\nVAE reconstruction from its late loss: about {10 * math.log10(4 / vae.late_loss):.1f} dB PSNR.")
    return "\n".join(lines)


def ship(run: str | Path, out: str | Path) -> list[StageSummary]:
    import torch

    from reference.checkpoint import EVEModel

    run, out = Path(run), Path(out)
    model = EVEModel.from_pretrained(run / "model", torch_dtype=torch.float16)
    tmp = out.with_name(out.name + ".shipping")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    summaries = []
    logs = (run / "train").glob("*/loss.jsonl")
    order = {name: i for i, name in enumerate(STAGE_ORDER)}
    for log in sorted(logs, key=lambda p: (order.get(p.parent.name, len(order)), p.parent.name)):
        dest = tmp / "logs" / log.parent.name
        dest.mkdir(parents=True, exist_ok=True)
        for name in LOG_FILES:
            if (log.parent / name).is_file():
                shutil.copy2(log.parent / name, dest / name)
        summaries.append(summarize(log))
    if out.is_dir():  # keep what a person wrote (TRAINING.md), then swap whole directories
        for extra in out.iterdir():
            if extra.name not in (*_PARTS, "logs"):
                (shutil.copytree if extra.is_dir() else shutil.copy2)(extra, tmp / extra.name)
        previous = out.with_name(out.name + ".previous")
        shutil.rmtree(previous, ignore_errors=True)
        out.rename(previous)
        tmp.rename(out)
        shutil.rmtree(previous)
    else:
        tmp.rename(out)
    return summaries


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="train_synth.sh ROOT (holds model/ and train/)")
    parser.add_argument("--out", default="reference/weights/synth", help="where the shipped checkpoint goes")
    args = parser.parse_args()
    print(markdown_table(ship(args.run, args.out)))


if __name__ == "__main__":
    main()
