"""reference/continue_adapters_gpu.sh on the CPU (40 s of training: the time has to cover the imports
and a first checkpoint on a slow machine): a short segment on a tiny checkpoint ships with
its lineage (the notes chain and the earlier logs carried over)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from reference.checkpoint import EVEConfig, EVEModel
from reference.ship import ship
from reference_fixtures import tiny_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def _run(env, **kw):
    return subprocess.run(["bash", "reference/continue_adapters_gpu.sh"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PY": sys.executable, "W": "0", "CK": "2", "EB": "2", "VB": "1", **env},
                          timeout=600, **kw)


def test_a_segment_ships_with_its_lineage(tmp_path):
    base = tmp_path / "shipped"
    tiny_checkpoint(base)
    EVEConfig.record_training(base, "edit_adapter", {"steps": 4, "run": "edit_adapter"}, default_layout=True)
    log = base / "logs" / "edit_adapter" / "loss.jsonl"  # the shipped checkpoint's earlier log
    log.parent.mkdir(parents=True)
    # logged past its export (step 4), as a run that went on training would
    log.write_text("".join(json.dumps({"step": s, "loss": 0.5, "seconds": float(s)}) + "\n" for s in (2, 4, 6)))

    # a segment named like an earlier one would append to its log: refused before any training
    (base / "logs" / "edit_adapter_x").mkdir()
    clash = _run({"T": "5", "TAG": "x", "BASE": str(base), "OUT": str(tmp_path / "clash")})
    assert clash.returncode == 2 and "TAG=x names an earlier segment" in clash.stderr
    (base / "logs" / "edit_adapter_x").rmdir()
    # continuing a run folder in place would delete INIT before copying it: refused, nothing touched
    shutil.copytree(base, tmp_path / "prev" / "model")
    inside = _run({"T": "5", "BASE": str(base), "INIT": str(tmp_path / "prev" / "model"), "OUT": str(tmp_path / "prev")})
    assert inside.returncode == 2 and "lies inside OUT" in inside.stderr
    assert (tmp_path / "prev" / "model" / "edit_adapter").is_dir()

    out = tmp_path / "seg"
    done = _run({"T": "40", "SEED": "7", "BASE": str(base), "OUT": str(out), "EDIT_ARGS": "--target-latents mode"})
    logs = "".join(p.read_text()[-2000:] for p in (out / "edit.log", out / "video.log") if p.is_file())
    assert done.returncode == 0, done.stderr + logs
    summaries = ship(out, tmp_path / "reshipped")
    stages = {s.stage: s.steps for s in summaries}
    assert stages["edit_adapter"] == 4 and stages["edit_adapter_gpu7"] > 0 and stages["video_adapter_gpu7"] > 0
    notes = EVEModel.from_pretrained(tmp_path / "reshipped").config.notes
    assert notes["edit_adapter"]["continued_from"] == {"steps": 4, "run": "edit_adapter"}
    assert Path(notes["edit_adapter"]["run"]).name == "edit_adapter_gpu7"
    assert notes["edit_adapter"]["target_latents"] == "mode"  # EDIT_ARGS reached the edit trainer
