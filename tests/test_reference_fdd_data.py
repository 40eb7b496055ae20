"""FDD on your own videos (`train_fdd --data`): rows read and checked once, clips cut from real mp4s,
a tiny SD-1.5-layout checkpoint aligned for two iterations, resumed, and loaded by reference.eve."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from eve_bench.video import Video, write_mp4
from reference.fdd_data import ClipPolicy, cut_clip, read_rows, split_rows, usable_rows, video_sources

torch.set_num_threads(1)
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "tgve" / "loveu-tgve-2023"


def _clip(path: Path, frames: int, h: int = 48, w: int = 64, seed: int = 0) -> Path:
    """A moving-square mp4 of `frames` frames (not square, so the centre crop matters)."""
    rng = np.random.default_rng(seed)
    video = np.zeros((frames, h, w, 3), np.uint8)
    video[:] = rng.integers(0, 255, 3)
    for i in range(frames):
        video[i, 10:26, 4 + 2 * i : 20 + 2 * i] = rng.integers(0, 255, 3)
    write_mp4(Video(frames=video, fps=8.0), path)
    return path


def _videos(tmp: Path) -> list[Path]:
    """Three real TGVE clips where ../shared has them (a fresh clone has none), else generated mp4s."""
    real = sorted(SHARED.glob("*/480p_videos/*.mp4"))[:3]
    return real if len(real) == 3 else [_clip(tmp / f"clip{i}.mp4", 12, seed=i) for i in range(3)]


def _rows_file(tmp: Path, videos: list[Path], bad: bool) -> Path:
    rows = [{"video": str(Path(v).resolve()), "instruction": f"make it look like winter {i}",
             **({"target_caption": f"a snowy scene {i}"} if i else {}), "task": "style"} for i, v in enumerate(videos)]
    if bad:
        rows += [{"video": "no_such_clip.mp4", "instruction": "turn it red"},
                 {"video": str(_clip(tmp / "short.mp4", 2)), "instruction": "turn it blue"}]
    path = tmp / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_rows_checked_once_and_bad_ones_counted(tmp_path):
    videos = [_clip(tmp_path / f"c{i}.mp4", 12, seed=i) for i in range(3)]
    path = _rows_file(tmp_path, videos, bad=True)
    with path.open("a") as f:
        f.write('{"video": "c0.mp4", "instruction": "  "}\nnot json\n')
    rows, report = read_rows(path)
    assert report.rows == 7 and len(rows) == 5
    policy = ClipPolicy(num_frames=4, stride=2, resolution=32)
    usable = usable_rows(rows, policy, report)
    assert [r.video for r, _ in usable] == videos
    assert dict(report.skipped) == {"missing video": 1, "fewer than 7 frames": 1, "empty instruction": 1, "not JSON": 1}
    assert "missing video: 1 (first: rows.jsonl:4)" in report.line() and report.usable == 3
    assert rows[0].target_caption == rows[0].instruction  # no caption: the instruction stands in
    assert usable[0][1] == 1  # 12 frames hold one window of 4 frames every 2nd (8 frames)


def test_items_are_a_function_of_their_index(tmp_path):
    videos = [_clip(tmp_path / f"c{i}.mp4", 24, seed=i) for i in range(3)]
    policy = ClipPolicy(num_frames=4, stride=2, resolution=32)
    sources, report = video_sources(_rows_file(tmp_path, videos, bad=False), policy, probe_items=1)
    train, probe = sources["train"], sources["probe"]
    assert len(train.rows) == 2 and len(probe.rows) == 1 and len(train) == 2 * 3  # 24 frames: 3 windows each
    a, b = train[4], train[4]
    assert a["video"].shape == (4, 32, 32, 3) and a["video"].dtype == np.uint8
    assert np.array_equal(a["video"], b["video"]) and not np.array_equal(train[0]["video"], train[2]["video"])
    assert train.describe() == sources["train"].describe() and train.describe() != probe.describe()
    square = cut_clip(np.zeros((2, 48, 64, 3), np.uint8), 32)
    assert square.shape == (2, 32, 32, 3)
    kept, held = split_rows(list(range(40)), 48, seed=0)
    assert len(held) == 8 and sorted(kept + held) == list(range(40))


def test_fdd_on_real_clips_with_sd15_layout_weights(tmp_path, capsys):
    """Two iterations from --data on a tiny SD-1.5-layout checkpoint: a JSONL with one missing file
    and one 2-frame clip trains on the rest and says so; a resumed run logs what the uninterrupted
    one did; reference.eve loads the LoRA it wrote."""
    from reference.checkpoint import EVEConfig, write_sd15_config
    from reference.train_fdd import FDDTrainConfig, train
    from reference_fixtures import write_sd15_format_dirs

    write_sd15_format_dirs(tmp_path, layout="sd15")
    write_sd15_config(tmp_path / "eve", str(tmp_path / "sd15"), str(tmp_path / "control_v11e_ip2p"),
                      str(tmp_path / "motion_adapter"))
    config = EVEConfig.load(tmp_path / "eve")
    config.num_frames = 4  # the test's window; SD-1.5's AnimateDiff takes 16
    config.save(tmp_path / "eve")
    data = _rows_file(tmp_path, _videos(tmp_path), bad=True)
    shutil.copytree(tmp_path / "eve", tmp_path / "eve_b")

    def cfg(weights, out, steps):
        return FDDTrainConfig(weights=str(weights), output_dir=str(out), data=str(data), data_stride=2, steps=steps,
                              batch_size=1, sds_only_steps=1, d_warmup=1, d_steps=1, d_batch=2, replay_size=2,
                              teacher_sample_steps=2, first_frame_steps=2, probe_items=1, probe_every=1,
                              bank_root=str(tmp_path / "bank"), checkpoint_every=1, lr=1e-3, disc_lr=1e-3)

    train(cfg(tmp_path / "eve", tmp_path / "run_a", 2))
    out = capsys.readouterr().out
    assert "5 rows, 3 usable" in out and "missing video: 1" in out and "fewer than 7 frames: 1" in out
    train(cfg(tmp_path / "eve_b", tmp_path / "run_b", 1))
    train(cfg(tmp_path / "eve_b", tmp_path / "run_b", 2))  # resumed
    log = lambda run: [json.loads(line) for line in (tmp_path / run / "loss.jsonl").read_text().splitlines()]  # noqa: E731
    a, b = log("run_a"), log("run_b")
    assert [r["step"] for r in a] == [r["step"] for r in b] == [1, 2] and a[1]["phase"] == "adversarial"
    for ra, rb in zip(a, b):
        for key in set(ra) - {"seconds", "phase"}:
            assert ra[key] == pytest.approx(rb[key], rel=1e-5), (ra["step"], key)
    record = json.loads((tmp_path / "run_a" / "run.json").read_text())
    assert record["data"]["usable"] == 3 and record["data"]["skipped"]["missing video"] == 1

    from eve_bench.models import load_model
    from eve_bench.models.base import EditRequest

    eve = load_model("reference.eve", {"weights": str(tmp_path / "eve"), "steps": 2}, device="cpu")
    frames = np.random.default_rng(0).integers(0, 256, (5, 40, 40, 3), dtype=np.uint8)
    request = EditRequest(video=Video(frames=frames, fps=8.0), instruction="make it winter", source_caption="a scene",
                          target_caption="a snowy scene", task="style", seed=1)
    assert eve.edit(request).frames.shape == frames.shape
