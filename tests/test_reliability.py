"""Reliability and security of the harness (issue 18): one test (or a few) per class of problem.

Each test stands for a class, not one reproduction: names from data, weights files, run folder
identity, model isolation, frame order, stopping, environment errors, leaderboard cells, leftovers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eve_bench.cli import main
from eve_bench.errors import SuiteError
from eve_bench.run.config import RunConfig, SuiteSelection
from eve_bench.run.runner import evaluate_submission, run
from eve_bench.sample import Sample
from eve_bench.suites import load_suite
from fixtures import make_tgve_zip_layout, moving_square_video

TESTS = Path(__file__).parent
VIDEOS = {"DAVIS_480p": ["alpha", "beta"], "youtube_480p": ["gamma"]}


@pytest.fixture
def tgve_zip(tmp_path) -> Path:
    return make_tgve_zip_layout(tmp_path / "tgve", VIDEOS)


def _run(out: Path, data: Path, model: str = "identity", **kw) -> dict:
    sel = SuiteSelection(suite="tgve", data=str(data), **kw.pop("selection", {}))
    kw.setdefault("metrics", ["source_mae"])
    return run(RunConfig(model=model, out=out, selection=sel, progress=False, **kw))


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


# --- 1. names from data stay inside their roots -------------------------------------------------


def test_dataset_names_cannot_escape_data_or_out(tmp_path):
    # Deep enough that "../../../../outside" still lands inside tmp_path.
    data = make_tgve_zip_layout(tmp_path / "a" / "b" / "c" / "tgve", VIDEOS)
    csv = data / "LOVEU-TGVE-2023_Dataset.csv"
    csv.write_text(csv.read_text().replace("\nbeta,", "\n../../../../outside,", 1))
    # The attacker's "source": where the CSV name points under --data.
    (data / "DAVIS_480p" / "480p_videos" / "alpha.mp4").rename(tmp_path / "a" / "b" / "outside.mp4")
    victim = tmp_path / "a" / "b" / "c" / "outside" / "style"  # where the run's frames would go
    victim.mkdir(parents=True)
    (victim / "precious.txt").write_text("keep me")
    before = _files(tmp_path)
    out = tmp_path / "a" / "b" / "c" / "d" / "run"
    with pytest.raises(SuiteError, match=r"line 4: 'Video name' '\.\./\.\./\.\./\.\./outside' cannot be used as a file name"):
        _run(out, data, selection={"skip_missing": True})
    assert _files(tmp_path) == before and (victim / "precious.txt").exists()


def test_every_name_source_is_checked(tgve_zip, tmp_path):
    # TGVE+ rows name videos by path; the file name part becomes a folder.
    pd.DataFrame([{"instruction": "i", "input_caption": "a", "output_caption": "b", "edit_type": "style",
                   "video_path": "DAVIS_480p/480p_videos/.."}]).to_parquet(tgve_zip / "p.parquet")
    with pytest.raises(SuiteError, match=r"row 0 \(column 'video_path'\): video name .* starts with '\.'"):
        load_suite("tgve-plus", str(tgve_zip))
    # YAML configs name videos by file name.
    (tgve_zip / "LOVEU-TGVE-2023_Dataset.csv").unlink()
    (tgve_zip / "configs" / "DAVIS_480p").mkdir(parents=True)
    (tgve_zip / "configs" / "DAVIS_480p" / "..evil.yaml").write_text("train_data: {prompt: a}\n")
    with pytest.raises(SuiteError, match=r"\.\.evil\.yaml: video name .* starts with '\.'"):
        load_suite("tgve", str(tgve_zip))
    # Any suite, plug-ins included, builds Samples: the last line of defence.
    for field in ("group", "video_id", "edit_id"):
        kwargs = dict(video_id="v", group="g", task="style", instruction=None, source_caption="a",
                      target_caption="b", load_source=lambda: None)
        kwargs[field] = "x/../../y"
        with pytest.raises(ValueError, match=f"sample {field} 'x/../../y' cannot be used as a file name"):
            Sample(**kwargs)
    with pytest.raises(ValueError, match="control character"):
        Sample(video_id="a\nb", group="g", task="style", instruction=None, source_caption="a",
               target_caption="b", load_source=lambda: None)


# --- 2. weights files never run code -------------------------------------------------------------


class _Payload:
    """What an attacker pickles: unpickling it creates a file (it could as well run a shell)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _cli_error(capsys, args: list[str]) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("eve-bench: error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def test_weights_files_are_never_unpickled_and_bad_ones_are_one_line_errors(tmp_path, capsys):
    import torch
    from safetensors.torch import save_file
    from tiny_models import save_tiny_clip

    marker = tmp_path / "pwned"
    bad = tmp_path / "bad"
    bad.mkdir()
    torch.save({"model": {"w": torch.zeros(1)}, "x": _Payload(marker)}, bad / "evil.pth")
    torch.save({"w": torch.zeros(1)}, bad / "plain.bin")  # a pickle even when it holds only tensors
    (bad / "empty.pth").write_bytes(b"")
    (bad / "random.pth").write_bytes(np.random.default_rng(0).bytes(4096))
    save_file({"w": torch.zeros(4)}, str(bad / "truncated.safetensors"))
    (bad / "truncated.safetensors").write_bytes((bad / "truncated.safetensors").read_bytes()[:-3])
    base = ["run", "--model", "identity", "--limit", "1", "--quiet", "--out", str(tmp_path / "run")]
    for name in ("evil.pth", "plain.bin", "empty.pth", "random.pth", "truncated.safetensors"):
        err = _cli_error(capsys, base + ["--metrics", "viclip_out", "--viclip-model", str(bad / name)])
        assert f"--viclip-model {bad / name}" in err, err
    assert not marker.exists(), "a weights file ran code"
    assert "convert-viclip" in _cli_error(capsys, base + ["--metrics", "viclip_out", "--viclip-model", str(bad / "evil.pth")])
    # CLIP-family weights directories: a pickle-only one and a corrupt safetensors one.
    clip = save_tiny_clip(tmp_path / "clip")
    pickled = tmp_path / "clip-pickled"
    pickled.mkdir()
    for f in clip.iterdir():
        (pickled / f.name).write_bytes(f.read_bytes())
    (pickled / "model.safetensors").unlink()
    torch.save({"x": _Payload(marker)}, pickled / "pytorch_model.bin")
    (clip / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{not json")
    capsys.readouterr()  # the tiny model's save progress bar
    for weights in (pickled, clip):
        err = _cli_error(capsys, base + ["--metrics", "clip_text", "--clip-model", str(weights)])
        assert f"--clip-model {weights}" in err, err
    assert not marker.exists(), "a weights file ran code"


# --- 3. results are credited to the model that made them -----------------------------------------


def _cli(tgve: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--suite", "tgve", "--data", str(tgve), "--out", str(out), "--quiet", "--no-previews",
            "--metrics", "source_mae", *extra]


def test_a_run_folder_takes_one_process_at_a_time(tgve_zip, tmp_path, capsys):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "eve_bench.cli", *_cli(tgve_zip, out, "--model", "editors_for_tests",
                             "--model-args", "sleep=0.5")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not list((out / "records").rglob("*.json")):
            time.sleep(0.05)
        assert proc.poll() is None, "the first run must still be going"
        started = time.time()
        assert main(_cli(tgve_zip, out, "--model", "identity")) == 2
        assert time.time() - started < 10
        assert "is in use by another eve-bench process" in capsys.readouterr().err
        assert main(["eval", "--submission", str(tmp_path), "--suite", "tgve", "--data", str(tgve_zip),
                     "--out", str(out), "--quiet", "--metrics", "source_mae"]) == 2
        assert "in use" in capsys.readouterr().err
    finally:
        proc.kill()
        proc.wait()
    # A killed holder leaves no stale lock.
    assert main(_cli(tgve_zip, out, "--model", "editors_for_tests", "--model-args", "sleep=0.5", "--limit", "1")) == 0


def test_a_run_folder_holds_one_configuration(tgve_zip, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    out = tmp_path / "run"
    first = _run(out, tgve_zip, "identity", selection={"limit": 1})
    assert first["metrics"]["overall"]["source_mae"] < 2
    with pytest.raises(RuntimeError, match=r"holds results of another configuration \(model was 'identity', now 'editors_for_tests'\).*--overwrite"):
        _run(out, tgve_zip, "editors_for_tests", selection={"limit": 1})
    with pytest.raises(RuntimeError, match=r"seed was 0, now 1"):
        _run(out, tgve_zip, "identity", seed=1, selection={"limit": 1})
    (out / "submission" / "stray").mkdir()
    replaced = _run(out, tgve_zip, "editors_for_tests", overwrite=True, selection={"limit": 1})
    assert replaced["n_cached"] == 0 and replaced["metrics"]["overall"]["source_mae"] > 5
    assert not (out / "submission" / "stray").exists()
    # More samples or metrics under the same configuration extend the folder.
    assert _run(out, tgve_zip, "editors_for_tests", selection={"limit": 2})["n_cached"] == 4


def test_a_record_is_valid_only_with_the_frames_it_scored(tgve_zip, tmp_path, monkeypatch):
    from eve_bench.video import Video, read_video, write_frames_dir

    monkeypatch.syspath_prepend(str(TESTS))
    out = tmp_path / "run"
    clean = _run(out, tgve_zip, "editors_for_tests", selection={"limit": 1})
    frames = out / "submission" / "DAVIS_480p" / "alpha"
    # Frames written by another model (a killed run of other args) under this model's record ...
    stale = read_video(frames / "style")
    write_frames_dir(Video(255 - stale.frames), frames / "style")
    # ... and a finished sample with a frame deleted since.
    (frames / "object" / "00003.jpg").unlink()
    again = _run(out, tgve_zip, "editors_for_tests", selection={"limit": 1})
    assert again["n_cached"] == 2 and again["n_model_calls"] == 2
    assert again["metrics"] == clean["metrics"]
    ev = evaluate_submission(out / "submission", tmp_path / "ev", SuiteSelection("tgve", str(tgve_zip), limit=1),
                             metrics=["source_mae"], progress=False)
    assert ev["metrics"] == again["metrics"]
    # A sample that must run again (here: its key went stale) and now fails leaves no old frames
    # behind for `eval` to score.
    record = out / "records" / "DAVIS_480p" / "alpha" / "style.json"
    record.write_text(record.read_text().replace('"cache_key": "', '"cache_key": "stale'))
    monkeypatch.setattr("editors_for_tests.NoisyEditor.edit", lambda self, request: 1 / 0)
    assert _run(out, tgve_zip, "editors_for_tests", selection={"limit": 1})["n_failed"] == 1
    assert not (frames / "style").exists() and (frames / "object").exists()


# --- 4. a model cannot change the reference it is scored against ---------------------------------


def test_a_model_editing_its_input_in_place_is_scored_against_the_true_source(tgve_zip, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    copying = _run(tmp_path / "a", tgve_zip, "editors_for_tests:InvertEditor", selection={"limit": 1})
    in_place = _run(tmp_path / "b", tgve_zip, "editors_for_tests:InvertEditor", model_args={"in_place": True},
                    selection={"limit": 1})
    assert in_place["n_failed"] == 0 and copying["metrics"]["overall"]["source_mae"] > 50
    assert in_place["metrics"] == copying["metrics"]


# --- 6. every way a model can end the run leaves a summary and an exit status --------------------


def test_hangs_exits_and_interrupts_in_a_model_stop_the_run_with_a_summary(tgve_zip, tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(TESTS))
    cases = [
        ("how='hang'", ["--timeout", "1"], "timed out after 1 s"),
        ("how='exit',code=4", [], "SystemExit(4)"),
        ("how='exit'", ["--timeout", "30"], "SystemExit(0)"),  # in the worker thread too
        ("how='interrupt'", [], "KeyboardInterrupt()"),
    ]
    for i, (args, extra, reason) in enumerate(cases):
        out = tmp_path / f"r{i}"
        started = time.time()
        code = main(_cli(tgve_zip, out, "--model", "editors_for_tests:StoppingEditor", "--model-args", args, *extra))
        assert time.time() - started < 20
        assert code == 3, (args, capsys.readouterr())
        summary = json.loads((out / "summary.json").read_text())
        assert reason in summary["stopped"] and summary["n_ok"] == 1 and summary["n_failed"] == 1
        assert summary["n_not_run"] == 12 - 2 and summary["n_samples"] == 12
        assert f"STOPPED: {summary['stopped']}" in capsys.readouterr().out


def test_a_sample_that_hangs_every_time_does_not_block_the_others(tgve_zip, tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(TESTS))
    args = _cli(tgve_zip, tmp_path / "run", "--model", "editors_for_tests:StoppingEditor", "--timeout", "1",
                "--model-args", "how='hang',video='beta',hang=3")
    assert main(args) == 3
    first = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert (first["n_ok"], first["n_failed"], first["n_not_run"]) == (4, 1, 7)
    assert main(args) == 3  # the hanging sample is retried last, after the 7 others
    again = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert (again["n_ok"], again["n_failed"], again["n_not_run"], again["n_cached"]) == (11, 1, 0, 4)
    assert [r["key"] for r in map(json.loads, (tmp_path / "run" / "samples.jsonl").read_text().splitlines())][4] == "DAVIS_480p/beta/style"


def test_exit_status_says_whether_samples_failed(tgve_zip, tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(TESTS))
    assert main(_cli(tgve_zip, tmp_path / "bad", "--model", "editors_for_tests:BrokenEditor")) == 1
    assert main(_cli(tgve_zip, tmp_path / "flaky", "--model", "editors_for_tests:FlakyEditor")) == 1
    assert main(_cli(tgve_zip, tmp_path / "ok", "--model", "identity")) == 0
    assert main(["eval", "--submission", str(tmp_path / "flaky" / "submission"), "--suite", "tgve", "--data", str(tgve_zip),
                 "--out", str(tmp_path / "ev"), "--quiet", "--metrics", "source_mae"]) == 1


# --- 7. the environment and the data are not charged to the model --------------------------------


def test_environment_errors_stop_the_run_and_are_not_model_failures(tgve_zip, tmp_path, monkeypatch, capsys):
    import errno

    (tmp_path / "file").write_text("not a folder")
    assert main(_cli(tgve_zip, tmp_path / "file", "--model", "identity")) == 2
    assert "--out" in capsys.readouterr().err

    def disk_full(video, folder):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("eve_bench.run.generation.write_frames_dir", disk_full)
    out = tmp_path / "full"
    assert main(_cli(tgve_zip, out, "--model", "identity")) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "submission/DAVIS_480p/alpha/style" in err
    assert not list((out / "records").rglob("*.json")) if (out / "records").exists() else True


def test_a_source_that_opens_but_does_not_decode_is_missing_data(tgve_zip, tmp_path, monkeypatch):
    from eve_bench.suites import tgve
    from eve_bench.errors import VideoReadError

    real = tgve.read_video

    def flaky_decoder(path, fps=None):
        if "alpha" in str(path):
            raise VideoReadError(f"{path}: cannot decode frames (corrupt stream)")
        return real(path, fps=fps)

    monkeypatch.setattr(tgve, "read_video", flaky_decoder)
    with pytest.raises(SuiteError, match=r"(?s)alpha\.mp4: cannot decode frames.*--skip-missing"):
        _run(tmp_path / "a", tgve_zip)
    summary = _run(tmp_path / "b", tgve_zip, selection={"skip_missing": True})
    assert summary["n_failed"] == 0 and summary["n_missing"] == 4 and summary["n_samples"] == 8
    ev = evaluate_submission(tmp_path / "b" / "submission", tmp_path / "ev", SuiteSelection("tgve", str(tgve_zip), skip_missing=True),
                             metrics=["source_mae"], progress=False)
    assert ev["n_failed"] == 0 and ev["n_missing"] == 4


# --- 5. frame folders are read in frame order, or refused ----------------------------------------


def test_frames_are_ordered_by_number_and_ambiguous_names_refused(tgve_zip, tmp_path):
    from PIL import Image

    from eve_bench.errors import VideoReadError
    from eve_bench.video import read_video

    def folder(name: str, names: list[str]) -> Path:
        path = tmp_path / name
        path.mkdir()
        for i, n in enumerate(names):
            Image.fromarray(np.full((8, 8, 3), 20 * i, np.uint8)).save(path / n, quality=100)
        return path

    for k, style in enumerate(("{}.jpg", "frame_{}.png", "{:03d}.jpg")):
        video = read_video(folder(f"good-{k}", [style.format(i) for i in range(12)]))
        assert [int(round(v)) for v in video.frames[:, 0, 0, 0] / 20] == list(range(12)), style
    for names, why in ((["1.jpg", "01.jpg"], "both frame 1"), (["0.jpg", "cover.jpg"], "no frame number"),
                       (["a0.jpg", "b1.jpg"], "different prefixes")):
        with pytest.raises(VideoReadError, match=why):
            read_video(folder("bad-" + why.replace(" ", "-"), names))
    # eval of a submission named without zero padding scores as the padded one.
    run_dir = tmp_path / "run"
    padded = _run(run_dir, tgve_zip, "identity", selection={"limit": 1})
    for frames in (run_dir / "submission").glob("*/*/*"):
        for f in frames.glob("*.jpg"):
            f.rename(f.with_name(f"{int(f.stem)}.jpg"))
    ev = evaluate_submission(run_dir / "submission", tmp_path / "ev", SuiteSelection("tgve", str(tgve_zip), limit=1),
                             metrics=["source_mae", "warp_error"], progress=False)
    assert ev["n_failed"] == 0 and ev["metrics"]["overall"]["source_mae"] == padded["metrics"]["overall"]["source_mae"]


# --- 8. leaderboard cells are text, and incomparable rows are flagged ---------------------------


def test_leaderboard_escapes_every_cell_and_flags_incomparable_runs(tgve_zip, tmp_path, monkeypatch):
    import re

    monkeypatch.syspath_prepend(str(TESTS))
    evil = "x|y\n# Injected heading\n<img src=x onerror=alert(1)> [link](javascript:alert(1)) `code`"
    a = tmp_path / "plain"
    b = tmp_path / "run|<b>bold</b>\n# also a heading"  # a legal folder name on Linux
    _run(a, tgve_zip, "identity", selection={"limit": 1})
    _run(b, tgve_zip, "editors_for_tests", model_args={"strength": 3}, selection={"limit": 2})
    summary = json.loads((b / "summary.json").read_text())
    summary["model_args"] = {"note": evil}  # what `--model-args note=...` records
    (b / "summary.json").write_text(json.dumps(summary))
    assert main(["leaderboard", str(a), str(b), "--out", str(tmp_path / "lb"), "--title", "Board\n<script>alert(1)</script>"]) == 0
    md = (tmp_path / "lb" / "leaderboard.md").read_text()
    assert "<img" not in md and "<script" not in md and "<b>" not in md and not re.search(r"(?<!\\)\]\(", md)
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings == ["# Board &lt;script&gt;alert(1)&lt;/script&gt;", "## source_mae per task"], headings
    tables = [line for line in md.splitlines() if line.startswith("|")]
    widths = {len(re.findall(r"(?<!\\)\|", line)) for line in tables[:4]}
    assert len(widths) == 1, tables[:4]  # header, rule and both rows have the same cells
    assert "Not comparable" in md and "limit" in md and "seed" not in md.split("Not comparable")[1].split("\n")[0]
    csv = pd.read_csv(tmp_path / "lb" / "leaderboard.csv")
    assert list(csv["settings"]) == ["A", "B"]
    # Runs under the same settings are not flagged, even when one computed more metrics.
    more = tmp_path / "more"
    _run(more, tgve_zip, "identity", metrics=["source_mae", "edge_ssim"], selection={"limit": 1})
    assert main(["leaderboard", str(a), str(more), "--out", str(tmp_path / "lb2")]) == 0
    assert "Not comparable" not in (tmp_path / "lb2" / "leaderboard.md").read_text()


# --- 9. leftovers, huge outputs, empty prompts, unmatched submission folders --------------------


def test_leftovers_of_killed_writers_are_removed_by_the_next_run(tgve_zip, tmp_path):
    out = tmp_path / "run"
    _run(out, tgve_zip, selection={"limit": 1})
    video = out / "submission" / "DAVIS_480p" / "alpha"
    leftovers = [video / ".style.k2j3h4.tmp", video / ".style.old-4242", out / "previews" / "DAVIS_480p" / "alpha" / ".style.x1y2.tmp.mp4",
                 out / "records" / "DAVIS_480p" / "alpha" / ".style.json.q9.tmp", out / ".summary.json.abc.tmp"]
    for path in leftovers[:2]:
        path.mkdir()
        (path / "00000.jpg").write_bytes(b"partial")
    for path in leftovers[2:]:
        path.write_bytes(b"partial")
    keep = video / ".notes"  # hidden, but not a writer's temporary name
    keep.write_text("mine")
    assert _run(out, tgve_zip, selection={"limit": 1})["n_cached"] == 4
    assert not any(p.exists() for p in leftovers) and keep.exists()


def test_a_huge_float_output_is_rejected_without_a_full_size_temporary():
    import tracemalloc

    from eve_bench.run.generation import output_problem
    from eve_bench.video import Video

    source = Video(np.zeros((8, 16, 16, 3), np.uint8))
    huge = np.zeros((8, 512, 512, 3), np.float64)  # 50 MB; isnan over it would allocate 6 MB
    tracemalloc.start()
    try:
        problem = output_problem(huge, source)
        right_shape = output_problem(np.full((8, 16, 16, 3), np.nan), source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 256 * 1024, peak
    assert "expected (8, 16, 16, 3)" in problem and "NaN" in right_shape


def test_empty_or_null_prompts_are_data_errors_naming_the_row(tgve_zip):
    csv = tgve_zip / "LOVEU-TGVE-2023_Dataset.csv"
    text = csv.read_text()
    csv.write_text(text.replace("A beta video in van Gogh style.", " ", 1))
    with pytest.raises(SuiteError, match=r"line 4: 'Style Change Caption' is empty"):
        load_suite("tgve", str(tgve_zip))
    csv.write_text(text)
    rows = [{"instruction": "i", "input_caption": "a", "output_caption": "b", "edit_type": "style", "video_path": "DAVIS_480p/480p_videos/alpha.mp4"},
            {"instruction": None, "input_caption": "a", "output_caption": "b", "edit_type": "style", "video_path": "DAVIS_480p/480p_videos/beta.mp4"}]
    pd.DataFrame(rows).to_parquet(tgve_zip / "p.parquet")
    with pytest.raises(SuiteError, match=r"p\.parquet, row 1: instruction \(column 'instruction'\) is missing"):
        load_suite("tgve-plus", str(tgve_zip))
    with pytest.raises(ValueError, match="target_caption is empty"):
        Sample(video_id="v", group="g", task="style", instruction=None, source_caption="a", target_caption="",
               load_source=lambda: None)


def test_eval_warns_about_submission_folders_that_match_no_sample(tgve_zip, tmp_path, capsys):
    out = tmp_path / "run"
    _run(out, tgve_zip, selection={"limit": 1})
    typo = out / "submission" / "DAVIS" / "alpha" / "style"  # the group misspelt
    (out / "submission" / "DAVIS_480p" / "alpha" / "style").rename(typo.parent.mkdir(parents=True) or typo)
    ev = evaluate_submission(out / "submission", tmp_path / "ev", SuiteSelection("tgve", str(tgve_zip), limit=1),
                             metrics=["source_mae"], progress=False)
    assert ev["unmatched_folders"] == ["DAVIS/alpha/style"] and ev["n_failed"] == 1
    assert "1 folder(s) in" in capsys.readouterr().err
