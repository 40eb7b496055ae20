"""The reference baselines on the shipped synth checkpoint give the frames they gave before their
denoisers became plain prediction functions (`reference.predict`): the refactor changed no output.

`tests/data/baselines_golden.npz` was written by the baselines at commit 6872cad (before the
refactor) for `golden_request()` with 4 DDIM steps; 10 frames exceed the 8-frame window, so the
windowing and the first-frame chaining are covered too. (At a step count that does not divide the
1,000 training steps, e.g. 3, outputs differ slightly on purpose: diffusers' `DDIMScheduler.step`
stepped to t - 1000 // steps, a timestep off the schedule, where `predict.ddim` steps to the next
listed one.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from eve_bench.models import load_model
from eve_bench.models.base import EditRequest
from eve_bench.video import Video

GOLDEN = Path(__file__).parent / "data" / "baselines_golden.npz"


def golden_request() -> EditRequest:
    from eve_bench.synth.suite import load_synth

    sample = next(s for s in load_synth(None, n_videos=2).samples if s.task == "object")
    frames = sample.load_source().frames[:10]
    return EditRequest(video=Video(frames=frames, fps=8.0), instruction=sample.instruction,
                       source_caption=sample.source_caption, target_caption=sample.target_caption,
                       task=sample.task, seed=3)


@pytest.mark.parametrize("name", ["per_frame_edit", "video_sdedit", "plug_and_play"])
def test_baselines_reproduce_their_previous_outputs(name, monkeypatch):
    from reference import weights as weights_mod

    monkeypatch.delenv(weights_mod.ENV_VAR, raising=False)
    torch.set_num_threads(1)
    expected = np.load(GOLDEN, allow_pickle=False)[name]
    out = load_model(name, {"steps": 4}, device="cpu").edit(golden_request()).frames
    assert out.shape == expected.shape
    diff = np.abs(out.astype(int) - expected.astype(int))
    # bit-identical on the machine that wrote the file; a different BLAS may round a level apart
    assert diff.max() <= 1 and (diff == 0).mean() > 0.999, (diff.max(), (diff == 0).mean())
