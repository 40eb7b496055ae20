"""Where the edit teacher's training loss comes from, and how much of it any model could remove.

    python -m reference.studies.edit_diagnostics --weights reference/weights/synth --batches 6

On triplets of the synthetic edit stream, the edit adapter's loss (the training loss: text and
image given, v- or epsilon-prediction) per task and noise level, split by region: latent cells
the edit leaves alone ("kept": the source's and the target's posterior modes within
`--threshold`) and the rest ("changed"). Beside the kept cells' loss stands their floor: the
error of the best possible prediction given the source, which still cannot know the posterior
draw the target latent was trained with (`--target-latents sample`, as the adapters were trained)
and so keeps that draw's variance; with `mode` targets the floor is 0. A kept loss at its floor
means training has nothing left to learn there, so what the teacher loses outside an edit is lost
in sampling (guidance), not in the training objective.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from reference.data import batches, make_stream, uint8_to_tensor
from reference.edit_adapter import edit_condition, edit_forward, instruction_text

NOISE_BUCKETS = 4  # equal slices of the training timesteps, low noise first


@dataclass
class DiagnosticsConfig:
    weights: str | None = None
    """EVE checkpoint with an edit adapter (default: $EVE_REFERENCE_WEIGHTS or the shipped synth weights)"""
    batches: int = 6
    batch_size: int = 32
    seed: int = 12345
    """seed of the stream (the training distribution, other draws) and of the noise"""
    threshold: float = 0.1
    """mean absolute difference (over channels) of source and target latent modes below which a cell counts as kept"""
    target_latents: Literal["sample", "mode"] = "sample"
    """the target latent the loss is taken against, as in training (`train_edit_adapter --target-latents`)"""


def best_prediction(bb, x_t, t, mean, var):
    """The prediction-type target's posterior mean given x_t, for x0 ~ N(mean, var) per element."""
    ac = bb.scheduler.alphas_cumprod.to(x_t.device)[t].view(-1, 1, 1, 1)
    sa, s1 = ac.sqrt(), (1 - ac).sqrt()
    x0 = mean + var * sa / (sa**2 * var + s1**2) * (x_t - sa * mean)
    eps = (x_t - sa * x0) / s1
    return eps if bb.prediction_type == "epsilon" else sa * eps - s1 * x0


@torch.no_grad()
def edit_loss_by_region(model, stream, cfg: DiagnosticsConfig) -> dict:
    """{(task, bucket, region): mean loss per latent element}, regions "kept", "changed" and "floor"
    (the kept cells' floor)."""
    bb, cn = model.backbone, model.edit_adapter
    if cn is None:
        raise RuntimeError("this checkpoint has no edit adapter (train it: python -m reference.train_edit_adapter)")
    gen = torch.Generator().manual_seed(cfg.seed)
    total_t = bb.scheduler.config.num_train_timesteps
    sums: dict = {}
    it = batches(stream, cfg.batch_size)
    for _ in range(cfg.batches):
        batch = next(it)
        n = len(batch["instruction"])
        target = uint8_to_tensor(batch["target"]).to(bb.device, bb.dtype)
        posterior = bb.vae.encode(target).latent_dist
        scale = bb.vae.config.scaling_factor
        mode, std = posterior.mode() * scale, posterior.std * scale
        draw = torch.randn(mode.shape, generator=gen).to(mode)
        latents = mode + std * draw if cfg.target_latents == "sample" else mode
        var = std**2 if cfg.target_latents == "sample" else torch.zeros_like(std)
        source = uint8_to_tensor(batch["source"]).to(bb.device, bb.dtype)
        cond = edit_condition(bb, source, model.config.edit_condition)
        source_mode = bb.encode_images(source)
        kept = ((mode - source_mode).abs().mean(1) < cfg.threshold).float()
        instr = bb.encode_text([instruction_text(i, t, model.config.task_label)
                                for i, t in zip(batch["instruction"], batch["task"])])
        caption = bb.encode_text(batch["target_caption"])
        for b in range(NOISE_BUCKETS):
            lo, hi = b * total_t // NOISE_BUCKETS, (b + 1) * total_t // NOISE_BUCKETS
            t = torch.randint(lo, hi, (n,), generator=gen).to(bb.device)
            noise = torch.randn(latents.shape, generator=gen).to(latents)
            x_t = bb.scheduler.add_noise(latents, noise, t)
            target_out = bb.training_target(latents, noise, t)
            pred = edit_forward(bb.unet, cn, x_t, t, caption, instr, cond)
            err = ((pred - target_out) ** 2).mean(1)
            # the floor: the best prediction knowing the source's mode where the edit keeps it
            floor = ((best_prediction(bb, x_t, t, source_mode, var) - target_out) ** 2).mean(1)
            for i, task in enumerate(batch["task"]):
                for region, values, mask in (("kept", err, kept[i]), ("changed", err, 1 - kept[i]), ("floor", floor, kept[i])):
                    s, c = sums.get((task, b, region), (0.0, 0.0))
                    sums[(task, b, region)] = (s + float((values[i] * mask).sum()), c + float(mask.sum()))
    return {k: s / c for k, (s, c) in sums.items() if c > 0}


def markdown(table: dict) -> str:
    tasks = sorted({k[0] for k in table})
    head = [f"t {b * 1000 // NOISE_BUCKETS}-{(b + 1) * 1000 // NOISE_BUCKETS} ‰" for b in range(NOISE_BUCKETS)]
    lines = ["Edit adapter loss per latent element, kept / floor / changed, by noise level (per mille of the "
             "training timesteps):", "", "| task | " + " | ".join(head) + " |", "|---" * (NOISE_BUCKETS + 1) + "|"]
    for task in tasks:
        cells = []
        for b in range(NOISE_BUCKETS):
            cells.append(" / ".join(f"{table[(task, b, r)]:.3f}" if (task, b, r) in table else "–"
                                    for r in ("kept", "floor", "changed")))
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    import tyro

    from reference.checkpoint import EVEModel
    from reference.weights import resolve_weights

    cfg = tyro.cli(DiagnosticsConfig)
    path = resolve_weights(cfg.weights, ("edit_adapter",), "reference.studies.edit_diagnostics")
    model = EVEModel.from_pretrained(path, torch_dtype=torch.float32, require=("edit_adapter",))
    stream = make_stream("edit", seed=cfg.seed, size=model.config.resolution)
    print(markdown(edit_loss_by_region(model, stream, cfg)))


if __name__ == "__main__":
    main()
