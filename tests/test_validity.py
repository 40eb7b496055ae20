import numpy as np
import pytest

from eve_bench.reports.validity import REFERENCES, VARIANTS, correlations, score_variants, write_report

WEIGHT_FREE = ["warp_error", "warp_error_self", "edge_ssim", "source_mae"]


@pytest.fixture(scope="module")
def rows():
    rows, skipped = score_variants(n_videos=1, metric_names=WEIGHT_FREE)
    assert not skipped
    return rows


def _mean(rows, variant, metric):
    return np.nanmean([r[metric] for r in rows if r["variant"] == variant])


def test_every_sample_gets_every_variant(rows):
    assert len(rows) == 7 * len(VARIANTS)
    assert {r["variant"] for r in rows} == {v.name for v in VARIANTS}


def test_ground_truth_beats_identity_on_ground_truth_metrics(rows):
    for ref in ("gt_psnr_in", "gt_ssim_in"):
        assert _mean(rows, "ground_truth", ref) > _mean(rows, "identity", ref) + 0.1
    # Outside the mask the ground truth equals the source, so both preserve perfectly.
    assert _mean(rows, "ground_truth", "gt_psnr_out") == pytest.approx(_mean(rows, "identity", "gt_psnr_out"))


def test_identity_beats_edits_and_shuffled_is_worst_on_temporal_metrics(rows):
    consistent = ["identity", "ground_truth", "noise_8", "flicker_10", "flicker_30", "shuffled"]
    warp = {v: _mean(rows, v, "warp_error") for v in consistent}
    assert min(warp, key=warp.get) == "identity"
    assert warp["shuffled"] > max(warp[v] for v in ("identity", "ground_truth", "noise_8", "flicker_10"))
    # edge_ssim compares structure with the source: identity is perfect.
    assert _mean(rows, "identity", "edge_ssim") == pytest.approx(1.0)


def test_correlations_and_report(rows, tmp_path):
    corr = correlations(rows)
    assert set(corr) == set(WEIGHT_FREE)
    for m in corr:
        assert set(corr[m]) == set(REFERENCES)
    # More pixel change outside the mask means worse preservation: source_mae must anti-correlate.
    assert corr["source_mae"]["gt_psnr_out"]["within"] < -0.5
    assert corr["warp_error"]["gt_psnr_out"]["within"] < -0.3  # lower is better: negative raw rho agrees


def test_write_report_files(tmp_path, monkeypatch):
    import eve_bench.reports.validity as validity

    monkeypatch.setattr(validity, "VARIANTS", validity.VARIANTS[:4])
    paths = write_report(tmp_path, n_videos=1)
    md = paths[0].read_text()
    assert "| warp_error |" in md and "Spearman" in md
    assert "-> ground truth" not in md  # these four outputs hold no identity to measure from
    assert paths[2].stat().st_size > 1000


def test_headroom_table_reads_identity_and_ground_truth(rows):
    from eve_bench.reports.validity import headroom_table

    header, _, first = headroom_table(rows, ["gt_ssim_in"])[2:5]
    task = header.strip("| ").split(" | ")[1]
    assert task == rows[0]["task"]
    lo, hi = (float(x) for x in first.strip("| ").split(" | ")[1].split(" -> "))
    by_variant = {r["variant"]: r["gt_ssim_in"] for r in rows if r["task"] == task}
    assert lo == pytest.approx(by_variant["identity"], rel=1e-3)
    assert hi == pytest.approx(1.0) and lo < 0.99  # the ground truth is its own perfect match
    assert "identity (the source) -> ground truth" in "\n".join(headroom_table(rows, ["gt_ssim_in"]))


@pytest.fixture(scope="module")
def text_rows():
    """Text-alignment and consistency metrics through the synth suite's shipped encoders."""
    import eve_bench.reports.validity as validity

    keep = {"ground_truth", "identity", "shuffled", "noise_48", "flicker_30"}
    variants = tuple(v for v in validity.VARIANTS if v.name in keep)
    original = validity.VARIANTS
    validity.VARIANTS = variants
    try:  # the synth suite's shipped encoders are the defaults
        rows, skipped = score_variants(n_videos=1,
                                       metric_names=["clip_text", "clip_frame", "viclip_out", "clip_frame_consecutive"])
    finally:
        validity.VARIANTS = original
    assert not skipped
    return rows


def test_ground_truth_beats_identity_on_text_metrics(text_rows):
    for metric in ("clip_text", "viclip_out"):
        assert _mean(text_rows, "ground_truth", metric) > _mean(text_rows, "identity", metric), metric


def test_clip_consistency_orderings(text_rows):
    frame = {v: _mean(text_rows, v, "clip_frame") for v in ("identity", "ground_truth", "shuffled", "noise_48", "flicker_30")}
    # Identity beats temporally degraded outputs ...
    assert frame["identity"] > max(frame["noise_48"], frame["flicker_30"])
    # ... but CLIP-F averages all ordered frame pairs, so it cannot see frame order at all:
    assert frame["shuffled"] == pytest.approx(frame["ground_truth"], abs=1e-6)
    # while the consecutive-pairs variant can.
    consecutive = {v: _mean(text_rows, v, "clip_frame_consecutive") for v in ("ground_truth", "shuffled")}
    assert consecutive["shuffled"] < consecutive["ground_truth"]
