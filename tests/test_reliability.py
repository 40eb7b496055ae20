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
from eve_bench.runner import RunConfig, SuiteSelection, evaluate_submission, run
from eve_bench.sample import Sample
from eve_bench.suites import SuiteError, load_suite
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
