"""The `synth` suite: size, determinism, laziness and the Sample contract."""

import hashlib

import numpy as np
import pytest

from eve_bench.errors import SuiteError
from eve_bench.sample import TGVE_PLUS_TASKS
from eve_bench.suites import load_suite
import eve_bench.synth.suite as suite_module
from eve_bench.synth.suite import SUITE_VERSION, load_synth


def digest(suite) -> str:
    h = hashlib.sha256()
    for s in suite.samples:
        h.update(repr((s.key, s.instruction, s.source_caption, s.target_caption, s.fingerprint)).encode())
        for array in (s.load_source().frames, s.load_ground_truth().frames, s.load_mask()):
            h.update(array.tobytes())
    return h.hexdigest()


def test_default_suite_is_40_videos_times_7_tasks_without_rendering():
    suite = load_synth()  # nothing on disk, nothing rendered until a loader is called
    assert (suite.name, suite.version, suite.tasks) == ("synth", SUITE_VERSION, TGVE_PLUS_TASKS)
    assert len(suite.samples) == 280
    assert {s.task for s in suite.samples} == set(TGVE_PLUS_TASKS)
    assert len({s.video_id for s in suite.samples}) == 40
    assert len({s.key for s in suite.samples}) == 280
    assert len({s.fingerprint for s in suite.samples}) == 280
    from eve_bench.metrics import METRICS

    assert "gt_psnr_in" in suite.default_metrics and all(m in METRICS for m in suite.default_metrics)
    assert suite.info["seed"] == 0 and suite.info["n_videos"] == 40


def test_registered_and_loadable_with_suite_args():
    suite = load_suite("synth", None, n_videos="2", seed="3", num_frames="4", size="32")
    assert len(suite.samples) == 14 and suite.samples[0].video_id == "synth-000"
    assert suite.samples[0].group == "synth"
    video = suite.samples[0].load_source()
    assert video.frames.shape == (4, 32, 32, 3) and video.frames.dtype == np.uint8 and video.fps == 8


def test_samples_carry_ground_truth_and_masks():
    for s in load_synth(n_videos=1, num_frames=4).samples:
        source, truth, mask = s.load_source(), s.load_ground_truth(), s.load_mask()
        assert truth.frames.shape == source.frames.shape
        assert mask.dtype == bool and mask.shape == source.frames.shape[:3]
        assert s.instruction and s.source_caption and s.target_caption
        assert not ((source.frames != truth.frames).any(-1) & ~mask).any()


def test_two_loads_are_byte_identical():
    first = digest(load_synth(n_videos=2, num_frames=4))
    suite_module._frames.cache_clear()  # render again rather than reuse the first load's frames
    assert digest(load_synth(n_videos=2, num_frames=4)) == first


# Digest of a small synth suite (v1). If this fails, a change altered the suite's pixels or
# prompts: bump SUITE_VERSION in eve_bench/synth/suite.py, then this digest.
PINNED = "ad3ae4f847da9515b17d0c3b70723c47cb1ffd8582d47d17c99f40e90c6351a2"


def test_pinned_bytes():
    assert digest(load_synth(n_videos=2, num_frames=4, size=32)) == PINNED


def test_seeds_give_different_videos_and_sizes_agree_on_common_videos():
    a, b = load_synth(n_videos=3, seed=0), load_synth(n_videos=3, seed=1)
    assert [s.source_caption for s in a.samples] != [s.source_caption for s in b.samples]
    assert not np.array_equal(a.samples[0].load_source().frames, b.samples[0].load_source().frames)
    small = load_synth(n_videos=2, seed=0)
    assert [s.prompts() for s in small.samples] == [s.prompts() for s in a.samples[:14]]


def test_loaders_return_fresh_writable_frames():
    sample = load_synth(n_videos=1, num_frames=2).samples[0]
    first = sample.load_source().frames
    first[:] = 0
    assert sample.load_source().frames.any()


def test_selection_and_limit_work():
    suite = load_synth(n_videos=3, num_frames=2).select_tasks(["removal"]).limit(2)
    assert [s.key for s in suite.samples] == ["synth/synth-000/removal", "synth/synth-001/removal"]


@pytest.mark.parametrize("args", [{"n_videos": 0}, {"size": 8}, {"colour": 1}, {"seed": "x"}])
def test_bad_suite_args_are_refused(args):
    with pytest.raises(SuiteError):
        load_synth(**args)
