"""reference.studies.vae_ceiling: the synth suite's ground truth and sources through a checkpoint's VAE."""

from __future__ import annotations

import numpy as np
import torch

from eve_bench.video import read_video
from reference.checkpoint import EVEModel
from reference.studies.vae_ceiling import round_trip, write_ceiling

torch.set_num_threads(1)


def test_ceiling_writes_both_submissions_in_the_tgve_layout(tmp_path):
    model = EVEModel.from_preset("tiny", seed=0)
    roots = write_ceiling(model, tmp_path, suite_seed=0, limit=1)
    assert [r.name for r in roots] == ["ground_truth", "source"]
    for root in roots:
        folders = sorted(p.relative_to(root).as_posix() for p in root.glob("synth/*/*"))
        assert len(folders) == 7 and all(f.startswith("synth/synth-000/") for f in folders)
    from eve_bench.suites import load_suite

    sample = load_suite("synth").samples[0]
    truth = sample.load_ground_truth()
    written = read_video(tmp_path / "ground_truth" / sample.key)
    assert written.frames.shape == truth.frames.shape
    # the ground-truth submission holds the round-tripped ground truth (up to JPEG on disk), not the
    # round-tripped source: the style edit recolours the whole frame, so the two are far apart
    assert sample.task == "style"
    gap = lambda a, b: np.abs(a.frames.astype(int) - b.frames.astype(int)).mean()  # noqa: E731
    assert gap(written, round_trip(model, truth)) < 3
    assert gap(written, round_trip(model, sample.load_source())) > 3 * gap(written, round_trip(model, truth))
