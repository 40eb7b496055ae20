"""Ship a trained run as a compact checkpoint, with the logs its TRAINING.md is computed from.

    python -m reference.ship --run runs/synth_v4 --out reference/weights/synth

`--run` is a `reference/train_synth.sh` ROOT or a `reference/continue_adapters_gpu.sh` OUT
(`model/`: the EVE checkpoint, `train/<stage>/`: the training state or the logs carried over).
The checkpoint is written in float16 (the baselines load it back in float32) to a temporary
sibling and swapped in by renaming only when complete, so an interrupted ship leaves the previous
checkpoint (at worst under `<out>.previous`), never a half-written one; hand-written files
already in `--out` (TRAINING.md) are carried over. `logs/<stage>/{loss.jsonl,train_config.json,
run.json}` are copied beside it (each log cut at the step its run's note records, should the run
have gone on training), and the log summary table (`summarize`) and the shipped VAE's
reconstruction PSNR (`vae_psnr`) are printed in markdown for TRAINING.md.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

from eve_bench.tables import md_table
from reference.run_folder import RUN_RECORD, run_record, truncate_log

LOG_FILES = ("loss.jsonl", "train_config.json", RUN_RECORD)
STAGE_ORDER = ("backbone_vae", "backbone_t2i", "backbone_vae_decoder", "edit_adapter", "video_adapter")


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


def markdown_table(
    summaries: list[StageSummary], vae_db: float | None = None, styled_vae_db: float | None = None
) -> str:
    lines = md_table(["stage", "steps", "wall time", "early loss", "late loss"],
                     [[s.stage, f"{s.steps:,}", f"{s.minutes:.1f} min", f"{s.early_loss:.3f}", f"{s.late_loss:.3f}"]
                      for s in summaries], escape=False)
    if vae_db is not None:
        lines.append(f"\nVAE reconstruction of {VAE_CHECK_FRAMES} held-out frames: {vae_db:.1f} dB PSNR.")
    if styled_vae_db is not None:
        lines.append(f"The same number of held-out frames, all in the style task's looks: {styled_vae_db:.1f} dB PSNR.")
    return "\n".join(lines)


VAE_CHECK_FRAMES = 16


def vae_psnr(model, frames: int = VAE_CHECK_FRAMES, seed: int = 123, style_share: float = 0.0) -> float:
    """PSNR (dB, 0-255 scale) of the checkpoint's VAE round trip on synthetic frames of the held-out
    split (`style_share` of them in the style task's looks). The VAE's training loss cannot stand
    in for it: that loss includes the KL term."""
    import torch

    from reference.data import batches, make_stream, uint8_to_tensor

    bb = model.backbone
    images = next(batches(make_stream("image", seed=seed, size=model.config.resolution, split="heldout", style_share=style_share), frames))["image"]
    x = uint8_to_tensor(images).to(bb.device, bb.dtype)
    with torch.no_grad():
        rec = bb.decode_latents(bb.encode_images(x)).clamp(-1, 1)
    mse = ((rec.float() - x.float()) ** 2).mean().item()
    return 10 * math.log10(4 / mse)  # [-1, 1] pixels: the range is 2, so peak^2 = 4


def ship(run: str | Path, out: str | Path) -> list[StageSummary]:
    import torch

    from reference.checkpoint import SAVED_PARTS, EVEModel

    run, out = Path(run), Path(out)
    model = EVEModel.from_pretrained(run / "model", torch_dtype=torch.float16)
    tmp = out.with_name(out.name + ".shipping")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    summaries = []
    logs = (run / "train").glob("*/loss.jsonl")
    order = {name: i for i, name in enumerate(STAGE_ORDER)}
    notes = model.config.notes
    for log in sorted(logs, key=lambda p: (order.get(p.parent.name, len(order)), p.parent.name)):
        dest = tmp / "logs" / log.parent.name
        dest.mkdir(parents=True, exist_ok=True)
        for name in LOG_FILES:
            if (log.parent / name).is_file():
                shutil.copy2(log.parent / name, dest / name)
        # a run that went on training after its last export has logged past the shipped weights
        note = note_for(notes, log.parent)
        if "steps" in note:
            truncate_log(dest / "loss.jsonl", note["steps"])
        summaries.append(summarize(dest / "loss.jsonl"))
    if out.is_dir():  # keep what a person wrote (TRAINING.md), then swap whole directories
        for extra in out.iterdir():
            if extra.name not in (*SAVED_PARTS, "logs"):
                (shutil.copytree if extra.is_dir() else shutil.copy2)(extra, tmp / extra.name)
        previous = out.with_name(out.name + ".previous")
        shutil.rmtree(previous, ignore_errors=True)
        out.rename(previous)
        tmp.rename(out)
        shutil.rmtree(previous)
    else:
        tmp.rename(out)
    return summaries


def note_for(notes: dict, log_dir: Path) -> dict:
    """The note of the run that wrote `log_dir`: along the lineage (`continued_from`) of the part
    the folder is named for (`edit_adapter_gpu4` -> edit_adapter), the newest with the id of the
    folder's run record, else with a run folder of the folder's name (logs keep their run's folder
    name when shipped and when carried into a continuation). A note that names no run (written
    before notes did) is matched by the folder's name alone. No match: {}."""
    name = log_dir.name
    direct = notes.get(name.removeprefix("backbone_"))
    if direct is not None and "run" not in direct:
        return direct
    from reference.checkpoint import ADAPTERS

    part = next((a.name for a in ADAPTERS if name == a.name or name.startswith(a.name + "_")), None)
    note = direct or notes.get(part)
    run_id = run_record(log_dir).get("id")
    while note:
        if run_id and "run_id" in note:  # both know their run: only the id decides
            if note["run_id"] == run_id:
                return note
        elif Path(note.get("run", "")).name == name or ("run" not in note and name == part):
            return note
        note = note.get("continued_from")
    return {}


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="train_synth.sh ROOT or continue_adapters_gpu.sh OUT (holds model/ and train/)")
    parser.add_argument("--out", default="reference/weights/synth", help="where the shipped checkpoint goes")
    args = parser.parse_args()
    from reference.checkpoint import EVEModel

    summaries = ship(args.run, args.out)
    shipped = EVEModel.from_pretrained(args.out)  # measured as users load it: float16 weights in float32
    print(markdown_table(summaries, vae_psnr(shipped), vae_psnr(shipped, style_share=1.0)))


if __name__ == "__main__":
    main()
