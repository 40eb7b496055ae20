"""What a perfect edit scores once it has passed through a checkpoint's own VAE.

Every output of the reference models is decoded by the backbone's VAE at the model resolution, so
the ground truth, encoded and decoded the same way, is about the best any of them can score (a
model that found a better latent than the encoder's could do a little better); the source done the
same way is the identity edit under the same loss. Comparing a model with these two says
whether a gap to the bar lies in the VAE (the ceiling itself is low) or in the model (the ceiling
is high and the model falls short of it). Both are written as submissions in the TGVE layout, to
score with `eve-bench eval` like any other outputs:

    python -m reference.studies.vae_ceiling --out runs/vae_ceiling --limit 6
    eve-bench eval --submission runs/vae_ceiling/ground_truth --suite synth --limit 6
    eve-bench eval --submission runs/vae_ceiling/source --suite synth --limit 6
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from eve_bench.run.config import SuiteSelection, prepare_suite
from eve_bench.video import Video, write_frames_dir
from reference import sampling

VIDEOS = ("ground_truth", "source")


@dataclass
class CeilingConfig:
    """Write the synth suite's ground truth and sources round-tripped through a checkpoint's VAE."""

    out: str = "runs/vae_ceiling"
    """folder for the two submissions: <out>/ground_truth and <out>/source"""
    weights: str | None = None
    """EVE checkpoint directory (default: $EVE_REFERENCE_WEIGHTS or the shipped synth weights)"""
    suite_seed: int = 0
    """the synth suite's seed (--suite-args seed=N of eve-bench)"""
    limit: int | None = None
    """at most N samples per task, as eve-bench --limit"""
    device: str | None = None


@torch.no_grad()
def round_trip(model, video: Video) -> Video:
    """`video` encoded and decoded by the backbone's VAE at the model resolution, back at its size."""
    bb = model.backbone
    x = sampling.frames_to_tensor(video.frames, model.config.resolution, bb.device, bb.dtype)
    frames = sampling.tensor_to_frames(bb.decode_latents(bb.encode_images(x)), video.size)
    return Video(frames=frames, fps=video.fps)


def write_ceiling(model, out: str | Path, suite_seed: int = 0, limit: int | None = None) -> list[Path]:
    """The two submission folders, one frame folder per sample of the selected synth suite."""
    suite, _ = prepare_suite(SuiteSelection(suite="synth", suite_args={"seed": suite_seed}, limit=limit))
    roots = [Path(out) / name for name in VIDEOS]
    for sample in suite.samples:
        for root, load in zip(roots, (sample.load_ground_truth, sample.load_source)):
            write_frames_dir(round_trip(model, load()), root / sample.key)
    return roots


def main() -> None:
    import tyro

    from reference.checkpoint import EVEModel
    from reference.weights import resolve_weights

    cfg = tyro.cli(CeilingConfig)
    model = EVEModel.from_pretrained(resolve_weights(cfg.weights, (), "reference.studies.vae_ceiling"))
    model.to(torch.device(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")))
    for root in write_ceiling(model, cfg.out, cfg.suite_seed, cfg.limit):
        print(root)


if __name__ == "__main__":
    main()
