"""DDIM wiring of the reference samplers, checked with an oracle denoiser (no network)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eve_bench.models.windows import windows
from reference.backbone import Backbone
from reference.predict import pin_first_frame
from reference.sampling import ddim_loop, frames_to_tensor, tensor_to_frames

torch.set_num_threads(1)


def _oracle(scheduler, x0):
    """Model output that is exact for the clean target x0 (epsilon or v prediction)."""
    ac = scheduler.alphas_cumprod

    def denoise(x, t):
        a = ac[int(t)].to(x.dtype)
        eps = (x - a.sqrt() * x0) / (1 - a).sqrt()
        if scheduler.config.prediction_type == "v_prediction":
            return a.sqrt() * eps - (1 - a).sqrt() * x0
        return eps

    return denoise


@pytest.mark.parametrize("zsnr", [True, False])
@pytest.mark.parametrize("strength", [1.0, 0.75])
def test_ddim_with_oracle_reaches_target(zsnr, strength):
    from diffusers import DDPMScheduler

    bb = Backbone.__new__(Backbone)
    bb.scheduler = DDPMScheduler(
        beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False,
        prediction_type="v_prediction" if zsnr else "epsilon", rescale_betas_zero_snr=zsnr,
    )
    sched = bb.ddim()
    x0 = torch.randn(1, 4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    init = torch.randn_like(x0)
    out = ddim_loop(sched, init, _oracle(sched, x0), steps=10, generator=torch.Generator().manual_seed(1),
                    strength=strength)
    assert (out - x0).abs().max().item() < 1e-3
    if zsnr:
        assert int(sched.timesteps[0]) == 999  # trailing spacing starts at pure noise


@pytest.mark.parametrize("zsnr", [True, False])
def test_ddim_on_explicit_uneven_timesteps(zsnr):
    """FDD's K-bin steps are not evenly spaced: `predict.ddim` steps to the next listed timestep."""
    from diffusers import DDPMScheduler

    from reference.predict import ddim

    sched = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False,
                          prediction_type="v_prediction" if zsnr else "epsilon", rescale_betas_zero_snr=zsnr)
    x0 = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    start = torch.randn_like(x0) if zsnr else sched.add_noise(x0, torch.randn_like(x0), torch.tensor([990]))
    seen = []
    oracle = _oracle(sched, x0)

    def predict_fn(x, t):
        seen.append(int(t))
        return oracle(x, t)

    out = ddim(sched, start, predict_fn, [999 if zsnr else 990, 517, 88])
    assert seen == [999 if zsnr else 990, 517, 88]
    assert (out - x0).abs().max().item() < 1e-3


def test_first_frame_is_kept():
    ff = torch.full((4, 8, 8), 0.5)
    fix = pin_first_frame(ff)
    x = fix(torch.zeros(1, 4, 3, 8, 8))
    assert torch.equal(x[0, :, 0], ff) and x[0, :, 1:].abs().sum() == 0
    assert pin_first_frame(None) is None


def test_windows():
    assert windows(3, 4, 1) == [(0, 3)]
    assert windows(6, 4, 0) == [(0, 4), (4, 6)]
    assert windows(10, 4, 1) == [(0, 4), (3, 7), (6, 10)]
    with pytest.raises(ValueError):
        windows(10, 1, 1)


def test_frame_conversion_roundtrip():
    frames = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    x = frames_to_tensor(frames, 16)
    assert x.shape == (2, 3, 16, 16) and x.min() >= -1 and x.max() <= 1
    assert np.array_equal(tensor_to_frames(x, (16, 16)), frames)
    assert tensor_to_frames(frames_to_tensor(frames, 8), (20, 12)).shape == (2, 20, 12, 3)
