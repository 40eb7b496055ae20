"""Weight-free metrics: warping error, edge SSIM, ground-truth PSNR/SSIM, and the shared SSIM."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from eve_bench.metrics import temporal
from eve_bench.metrics.base import REQUIREMENTS, MetricInput
from eve_bench.metrics.ground_truth import GtPsnrIn, GtPsnrOut, GtSsimIn, GtSsimOut
from eve_bench.metrics.ssim import K1, K2, SIGMA, mean_ssim, ssim_map
from eve_bench.metrics.structure import EdgeSSIM
from eve_bench.metrics.temporal import WarpError, WarpErrorSelf, estimate_motion
from eve_bench.sample import Sample
from eve_bench.video import Video

ALL = (WarpError, WarpErrorSelf, EdgeSSIM, GtPsnrIn, GtPsnrOut, GtSsimIn, GtSsimOut)


@pytest.fixture(autouse=True, scope="module")
def one_opencv_thread():
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)  # the CPU is shared; also keeps DIS timings comparable
    yield
    cv2.setNumThreads(previous)


@pytest.fixture(autouse=True)
def empty_motion_cache():
    temporal.SOURCE_MOTION.clear()
    yield
    temporal.SOURCE_MOTION.clear()


def texture(rng, h, w, sigma=2.0) -> np.ndarray:
    """Smooth random colour texture, full 0-255 contrast: enough structure for flow to lock on."""
    t = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), sigma)
    return ((t - t.min()) / (t.max() - t.min()) * 255).astype(np.uint8)


SIZE, SQUARE, SPEED, ROW = 64, 24, 4, 20


def square_x(t: int) -> int:
    return 4 + SPEED * t


def moving_square(frames=8, seed=0) -> np.ndarray:
    """A textured square moving right SPEED px/frame over a static textured background."""
    rng = np.random.default_rng(seed)
    background, square = texture(rng, SIZE, SIZE), texture(rng, SQUARE, SQUARE)
    video = np.repeat(background[None], frames, axis=0)
    for t in range(frames):
        video[t, ROW : ROW + SQUARE, square_x(t) : square_x(t) + SQUARE] = square
    return video


def item(edited, source=None, ground_truth=None, mask=None) -> MetricInput:
    source = edited if source is None else source
    sample = Sample("v", "g", "object", None, None, None, load_source=lambda: Video(source))
    return MetricInput(
        sample=sample,
        edited=Video(edited),
        source=Video(source),
        ground_truth=None if ground_truth is None else Video(ground_truth),
        mask=mask,
    )


def score(metric_cls, *args, **kwargs) -> float:
    return metric_cls().compute([item(*args, **kwargs)])[0]


@pytest.mark.parametrize("cls", ALL)
def test_metrics_declare_the_contract(cls):
    assert cls.name and cls.definition and cls.weights == "none"
    assert cls.higher_is_better is (cls not in (WarpError, WarpErrorSelf))
    assert cls.requires <= REQUIREMENTS


# ----------------------------------------------------------------------------------------------
# SSIM


def naive_ssim_map(x, y, data_range, region=None):
    """Direct per-pixel SSIM: explicit 11x11 Gaussian window, symmetric (scipy 'reflect') padding,
    statistics over region pixels only when a region is given."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    h, w, c = x.shape
    g = np.exp(-0.5 * (np.arange(-5, 6) / SIGMA) ** 2)
    g /= g.sum()
    window = np.outer(g, g)
    region = np.ones((h, w)) if region is None else region.astype(np.float64)
    xp, yp = (np.pad(a, [(5, 5), (5, 5), (0, 0)], mode="symmetric") for a in (x, y))
    rp = np.pad(region, 5, mode="symmetric")
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            wgt = window * rp[i : i + 11, j : j + 11]
            wgt = wgt / wgt.sum()
            for ch in range(c):
                a, b = xp[i : i + 11, j : j + 11, ch], yp[i : i + 11, j : j + 11, ch]
                ma, mb = (wgt * a).sum(), (wgt * b).sum()
                va, vb = (wgt * (a - ma) ** 2).sum(), (wgt * (b - mb) ** 2).sum()
                cov = (wgt * (a - ma) * (b - mb)).sum()
                out[i, j] += (2 * ma * mb + c1) * (2 * cov + c2) / ((ma**2 + mb**2 + c1) * (va + vb + c2)) / c
    return out


def noisy_pair(seed=0, shape=(13, 17, 3)):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, shape).astype(np.uint8)
    y = np.clip(x.astype(int) + rng.integers(-60, 60, shape), 0, 255).astype(np.uint8)
    return x, y


def test_ssim_map_matches_naive_implementation():
    x, y = noisy_pair()
    np.testing.assert_allclose(ssim_map(x, y, 255.0), naive_ssim_map(x, y, 255.0), rtol=0, atol=1e-6)


def test_region_ssim_map_matches_naive_implementation_on_region_pixels():
    x, y = noisy_pair(seed=1)
    region = np.random.default_rng(2).random(x.shape[:2]) < 0.4
    ours = ssim_map(x, y, 255.0, region)[region]
    np.testing.assert_allclose(ours, naive_ssim_map(x, y, 255.0, region)[region], rtol=0, atol=1e-6)


def test_ssim_map_matches_skimage_full_map():
    metrics = pytest.importorskip("skimage.metrics")
    x, y = noisy_pair(seed=3, shape=(40, 37, 3))
    _, full = metrics.structural_similarity(
        x, y, data_range=255, channel_axis=-1, full=True,
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    )  # fmt: skip
    np.testing.assert_allclose(ssim_map(x, y, 255.0), full.mean(-1), rtol=0, atol=1e-6)


def test_region_ssim_ignores_pixels_outside_the_region():
    x, y = noisy_pair(seed=4)
    region = np.zeros(x.shape[:2], bool)
    region[:, :8] = True
    y_changed_outside = y.copy()
    y_changed_outside[:, 8:] = 255 - y_changed_outside[:, 8:]
    kept = ssim_map(x, y, 255.0, region)[region]
    np.testing.assert_array_equal(kept, ssim_map(x, y_changed_outside, 255.0, region)[region])
    assert not np.array_equal(ssim_map(x, y, 255.0)[region], ssim_map(x, y_changed_outside, 255.0)[region])


def test_mean_ssim_is_nan_without_region_pixels():
    x, y = noisy_pair()
    assert math.isnan(mean_ssim([x], [y], 255.0, regions=[np.zeros(x.shape[:2], bool)]))


# ----------------------------------------------------------------------------------------------
# edge_ssim


def test_edge_ssim_is_one_for_identity_and_keeps_recolouring_but_drops_for_new_structure():
    source = moving_square(frames=4)
    recoloured = np.clip(source.astype(int) + 20, 0, 255).astype(np.uint8)
    rng = np.random.default_rng(7)
    restructured = np.stack([texture(rng, SIZE, SIZE) for _ in source])
    assert score(EdgeSSIM, source, source) == pytest.approx(1.0, abs=1e-9)
    assert score(EdgeSSIM, recoloured, source) > 0.95
    assert score(EdgeSSIM, restructured, source) < 0.5


def test_edge_ssim_tolerates_pixel_noise_but_not_lost_detail():
    source = moving_square(frames=4)
    noisy = np.clip(source + np.random.default_rng(0).normal(0, 8, source.shape), 0, 255).astype(np.uint8)
    blurred = np.stack([cv2.GaussianBlur(f, (0, 0), 2) for f in source])
    assert score(EdgeSSIM, noisy, source) > 0.95  # the pre-blur's job: ~0.88 without it
    assert score(EdgeSSIM, blurred, source) < 0.8


def test_edge_ssim_rejects_shape_mismatch():
    source = moving_square(frames=3)
    with pytest.raises(ValueError, match="differ in shape"):
        score(EdgeSSIM, source[:2], source)


# ----------------------------------------------------------------------------------------------
# warp_error


def test_warp_error_ranks_identity_below_flicker_below_shuffled():
    source = moving_square()
    rng = np.random.default_rng(1)
    flicker = np.clip(source + rng.normal(0, 8, source.shape), 0, 255).astype(np.uint8)
    shuffled = source[[3, 7, 0, 5, 1, 6, 2, 4]]
    identity = score(WarpError, source, source)
    # Identity under source flow is exactly the source's own warping error.
    assert identity == score(WarpErrorSelf, source, source)
    assert 0 < identity < score(WarpError, flicker, source) < score(WarpError, shuffled, source)
    assert score(WarpErrorSelf, flicker) < score(WarpErrorSelf, shuffled)


def test_static_output_scores_zero_on_its_own_flow_but_not_on_the_source_flow():
    source = moving_square()
    frozen = np.repeat(source[:1], len(source), axis=0)
    assert score(WarpErrorSelf, frozen, source) == 0.0
    assert score(WarpError, frozen, source) > 5 * score(WarpError, source, source)


def test_occlusion_mask_drops_covered_background_and_content_leaving_the_frame():
    motion = estimate_motion(moving_square(frames=3))
    right = square_x(1) + SQUARE  # background at [right, right + SPEED) is covered in frame 2
    covered = motion.valid[1, ROW + 2 : ROW + SQUARE - 2, right : right + SPEED]
    far_background = motion.valid[1, ROW + SQUARE + 10 :, : SIZE - 4]
    assert covered.mean() < 0.5
    assert far_background.mean() > 0.9
    # Along the square's top edge nothing is occluded, but the flow jumps from SPEED to 0 there:
    # the motion-boundary test, not the consistency test, drops that band.
    middle = slice(square_x(1) + 6, square_x(1) + SQUARE - 6)
    assert motion.valid[1, ROW - 2 : ROW + 2, middle].mean() < 0.5

    wide = texture(np.random.default_rng(5), SIZE, SIZE + 12)
    pan = np.stack([wide[:, 12 - 3 * t : 12 - 3 * t + SIZE] for t in range(3)])
    motion = estimate_motion(pan)  # content moves right 3 px/frame: the last 3 columns leave
    assert not motion.valid[:, 8:-8, -3:].any()
    assert motion.valid[:, 8:-8, 8:-8].mean() > 0.9


def test_match_mask_applies_the_documented_thresholds():
    h, w = 6, 40
    grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), axis=-1)
    still = np.zeros((h, w, 2), np.float32)
    back = np.zeros((h, w, 2), np.float32)
    back[:, :20, 0] = 0.70  # mismatch 0.49 < 0.01 * 0.49 + 0.5: kept
    back[:, 20:, 0] = 0.72  # mismatch 0.518 > 0.01 * 0.518 + 0.5: dropped
    kept = temporal.match_mask(still, back, grid)
    assert kept[:, :20].all() and not kept[:, 20:].any()

    forward = np.zeros((h, w, 2), np.float32)
    forward[:, 20:, 0] = 1.0  # a motion boundary between columns 19 and 20; back agrees everywhere
    kept = temporal.match_mask(forward, -forward, grid + forward)
    assert not kept[:, 19:21].any()  # central differences: 0.25 > 0.01 |F|^2 + 0.002
    assert kept[:, 2:18].all() and kept[:, 22:-1].all()
    assert not kept[:, -1].any()  # x + 1 lands outside the frame


def test_source_motion_is_computed_once_per_source_content(monkeypatch):
    calls = []

    def counting(frames):
        calls.append(frames.shape)
        return estimate_motion(frames)

    monkeypatch.setattr(temporal, "estimate_motion", counting)
    source = moving_square(frames=4)
    edits = [source, np.clip(source.astype(int) + 10, 0, 255).astype(np.uint8)]
    WarpError().compute([item(e, source.copy()) for e in edits])  # equal content, new arrays
    assert len(calls) == 1
    WarpError().compute([item(source, moving_square(frames=4, seed=1))])
    assert len(calls) == 2


def test_warp_error_is_nan_for_a_single_frame():
    assert math.isnan(score(WarpError, moving_square(frames=1)))


# ----------------------------------------------------------------------------------------------
# ground truth


def gt_case():
    """Source, a ground truth that recolours the square (and only it), and the square's mask."""
    source = moving_square(frames=4)
    mask = np.zeros(source.shape[:3], bool)
    for t in range(len(source)):
        mask[t, ROW : ROW + SQUARE, square_x(t) : square_x(t) + SQUARE] = True
    truth = source.copy()
    truth[mask] = 255 - truth[mask]
    return source, truth, mask


GT = (GtPsnrIn, GtPsnrOut, GtSsimIn, GtSsimOut)


def test_perfect_edit_hits_the_caps():
    source, truth, mask = gt_case()
    values = [score(cls, truth, source, truth, mask) for cls in GT]
    assert values == [100.0, 100.0, pytest.approx(1.0, abs=1e-12), pytest.approx(1.0, abs=1e-12)]


def test_identity_fails_inside_and_preserves_outside():
    source, truth, mask = gt_case()
    assert score(GtPsnrIn, source, source, truth, mask) < 20
    assert score(GtSsimIn, source, source, truth, mask) < 0.5
    assert score(GtPsnrOut, source, source, truth, mask) == 100.0
    assert score(GtSsimOut, source, source, truth, mask) == pytest.approx(1.0, abs=1e-12)


def test_out_scores_do_not_see_what_happens_inside_the_mask():
    source, truth, mask = gt_case()
    garbled = source.copy()
    garbled[mask] = np.random.default_rng(0).integers(0, 256, (int(mask.sum()), 3))
    for cls in (GtPsnrOut, GtSsimOut):
        assert score(cls, garbled, source, truth, mask) == score(cls, source, source, truth, mask)
    assert score(GtSsimIn, garbled, source, truth, mask) < score(GtSsimIn, truth, source, truth, mask)


def test_psnr_pools_pixels_over_frames():
    truth = np.full((2, 8, 8, 3), 100, np.uint8)
    edited = truth.copy()
    edited[0] += 10  # frame 0 off by 10 on every channel, frame 1 exact
    mask = np.zeros((2, 8, 8), bool)
    mask[0, :4] = True  # 32 pixels in frame 0
    mask[1, :2] = True  # 16 pixels in frame 1
    expected = 10 * math.log10(255**2 / (100 * 32 / 48))
    assert score(GtPsnrIn, edited, truth, truth, mask) == pytest.approx(expected, abs=1e-9)


def test_empty_region_gives_nan():
    source, truth, _ = gt_case()
    nothing, everything = np.zeros(source.shape[:3], bool), np.ones(source.shape[:3], bool)
    for cls in (GtPsnrIn, GtSsimIn):
        assert math.isnan(score(cls, source, source, truth, nothing))
        assert not math.isnan(score(cls, source, source, truth, everything))
    for cls in (GtPsnrOut, GtSsimOut):
        assert math.isnan(score(cls, source, source, truth, everything))


def test_ground_truth_metrics_reject_misaligned_mask():
    source, truth, mask = gt_case()
    with pytest.raises(ValueError, match="mask"):
        score(GtPsnrIn, source, source, truth, mask[:, :-1])
