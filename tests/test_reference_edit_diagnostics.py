"""reference.studies.edit_diagnostics on the tiny preset: the loss split by region and its floor."""

from __future__ import annotations

import math

import pytest
import torch

from reference.checkpoint import EVEModel
from reference.studies.edit_diagnostics import NOISE_BUCKETS, DiagnosticsConfig, best_prediction, edit_loss_by_region, markdown
from reference.tiny_streams import TinyEditTripletStream

torch.set_num_threads(1)


def testbest_prediction_is_exact_for_a_known_latent_and_optimal_for_a_draw():
    bb = EVEModel.from_preset("tiny", seed=0, edit=False, video=False).backbone
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(256, 4, 4, 4, generator=g)
    t = torch.randint(0, bb.scheduler.config.num_train_timesteps, (256,), generator=g)
    noise = torch.randn(mean.shape, generator=g)
    # a latent known exactly: nothing left to predict
    x_t = bb.scheduler.add_noise(mean, noise, t)
    exact = best_prediction(bb, x_t, t, mean, torch.zeros_like(mean))
    assert torch.allclose(exact, bb.training_target(mean, noise, t), atol=1e-4)
    # a posterior draw around the mean: the Bayes estimate beats treating the mean as the latent
    var = torch.full_like(mean, 0.3**2)
    latent = mean + var.sqrt() * torch.randn(mean.shape, generator=g)
    x_t = bb.scheduler.add_noise(latent, noise, t)
    target = bb.training_target(latent, noise, t)
    best = ((best_prediction(bb, x_t, t, mean, var) - target) ** 2).mean()
    naive = ((best_prediction(bb, x_t, t, mean, torch.zeros_like(var)) - target) ** 2).mean()
    assert best < 0.9 * naive, (best, naive)


def test_edit_loss_by_region_tiny():
    model = EVEModel.from_preset("tiny", seed=0, video=False)
    cfg = DiagnosticsConfig(batches=1, batch_size=4, threshold=10.0)  # every cell kept
    table = edit_loss_by_region(model, TinyEditTripletStream(seed=0), cfg)
    tasks = {k[0] for k in table}
    assert tasks
    for task in tasks:
        for b in range(NOISE_BUCKETS):
            assert (task, b, "changed") not in table
            assert math.isfinite(table[(task, b, "kept")]) and table[(task, b, "floor")] >= 0
    assert markdown(table).count("\n| ") == len(tasks) + 1  # header and one row per task
    # nothing kept: only the changed region is reported, and it is the same loss on the same draws
    none_kept = edit_loss_by_region(model, TinyEditTripletStream(seed=0),
                                    DiagnosticsConfig(batches=1, batch_size=4, threshold=-1.0))
    assert {k[2] for k in none_kept} == {"changed"}
    for task in tasks:
        for b in range(NOISE_BUCKETS):
            assert none_kept[(task, b, "changed")] == pytest.approx(table[(task, b, "kept")])
