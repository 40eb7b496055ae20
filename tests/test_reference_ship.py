"""reference.ship: float16 export with its logs, and the log summary behind TRAINING.md."""

from __future__ import annotations

import json
import math

import pytest
import torch

from reference.checkpoint import EVEConfig, EVEModel
from reference.ship import markdown_table, ship, summarize, vae_psnr
from reference_fixtures import tiny_checkpoint


def _log(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_summarize_adds_up_resumed_segments(tmp_path):
    log = tmp_path / "backbone_vae" / "loss.jsonl"
    # killed after step 75 (checkpoint at 50), resumed: the log is cut back to step 50, seconds
    # restart and steps 51.. are redone
    _log(log, [{"step": s, "loss": l, "seconds": t} for s, l, t in
               [(25, 0.4, 10.0), (50, 0.2, 20.0), (75, 0.1, 10.0), (100, 0.1, 20.0), (125, 0.05, 30.0)]])
    s = summarize(log)
    assert s.stage == "backbone_vae" and s.steps == 125
    assert s.minutes == pytest.approx(50 / 60)
    assert s.early_loss == pytest.approx((0.4 + 0.2 + 0.1 + 0.1) / 4)
    assert s.late_loss == pytest.approx(0.17)
    table = markdown_table([s], vae_db=27.44)
    assert "| backbone_vae | 125 | 0.8 min | 0.200 | 0.170 |" in table
    assert "16 held-out frames: 27.4 dB PSNR" in table
    assert "PSNR" not in markdown_table([s])
    assert "in the style task's looks: 21.0 dB" in markdown_table([s], vae_db=27.44, styled_vae_db=20.97)


def test_summarize_rejects_an_empty_log(tmp_path):
    log = tmp_path / "edit_adapter" / "loss.jsonl"
    _log(log, [])
    with pytest.raises(ValueError, match="no logged step"):
        summarize(log)


def test_ship_replaces_parts_keeps_notes_and_round_trips(tmp_path):
    run = tmp_path / "run"
    model = tiny_checkpoint(run / "model")
    EVEConfig.record_training(run / "model", "edit_adapter", {"steps": 1})
    # the run went on after that export: the shipped log stops at the shipped weights' step
    _log(run / "train" / "edit_adapter" / "loss.jsonl",
         [{"step": 1, "loss": 0.5, "seconds": 1.0}, {"step": 2, "loss": 0.4, "seconds": 2.0}])
    (run / "train" / "edit_adapter" / "train_config.json").write_text("{}\n")
    out = tmp_path / "shipped"
    (out / "edit_adapter").mkdir(parents=True)
    (out / "edit_adapter" / "stale.safetensors").write_text("old")
    (out / "TRAINING.md").write_text("hand-written\n")

    summaries = ship(run, out)

    assert [(s.stage, s.steps) for s in summaries] == [("edit_adapter", 1)]
    assert [json.loads(x)["step"] for x in (out / "logs" / "edit_adapter" / "loss.jsonl").read_text().splitlines()] == [1]
    assert len((run / "train" / "edit_adapter" / "loss.jsonl").read_text().splitlines()) == 2  # the run is untouched
    assert (out / "TRAINING.md").read_text() == "hand-written\n"
    assert not (out / "edit_adapter" / "stale.safetensors").exists()
    assert (out / "logs" / "edit_adapter" / "train_config.json").is_file()
    assert not any(p.name.endswith((".shipping", ".previous")) for p in tmp_path.iterdir())
    shipped = EVEModel.from_pretrained(out)
    a, b = model.backbone.unet.conv_in.weight, shipped.backbone.unet.conv_in.weight
    assert b.dtype == torch.float32
    assert torch.allclose(a, b, atol=1e-3) and not torch.equal(a, b)  # float16 storage, float32 load


def test_ship_cuts_each_log_at_its_own_segment_of_a_continued_adapter(tmp_path):
    from reference.run_folder import start_run_record
    from reference.training import TrainConfig, record_adapter

    run = tmp_path / "run"
    tiny_checkpoint(run / "model")
    first, second = run / "train" / "edit_adapter", run / "train" / "edit_adapter_gpu1"
    for folder, continues in ((first, False), (second, True)):
        folder.mkdir(parents=True)
        start_run_record(folder, {"continues": continues}, fresh=True)
    record_adapter(run / "model", "edit_adapter", TrainConfig(steps=2, output_dir=str(first)), None)
    record_adapter(run / "model", "edit_adapter", TrainConfig(steps=1, output_dir=str(second)),
                   str(run / "model" / "edit_adapter"))
    for log in (first, second):  # both went on logging past their exports
        _log(log / "loss.jsonl", [{"step": s, "loss": 0.5, "seconds": float(s)} for s in (1, 2, 3)])
    summaries = ship(run, tmp_path / "shipped")
    # each segment's log stops at its own export: the first at step 2, the continuation at step 1
    assert [(s.stage, s.steps) for s in summaries] == [("edit_adapter", 2), ("edit_adapter_gpu1", 1)]
    notes = EVEModel.from_pretrained(tmp_path / "shipped").config.notes
    assert notes["edit_adapter"]["continued_from"]["steps"] == 2  # the lineage ships
    assert (tmp_path / "shipped" / "logs" / "edit_adapter_gpu1" / "run.json").is_file()  # and so do the run ids


def test_a_log_with_a_run_id_takes_only_its_own_runs_note(tmp_path):
    from reference.run_folder import run_record, start_run_record
    from reference.ship import note_for

    log = tmp_path / "edit_adapter_gpu4"
    log.mkdir()
    start_run_record(log, {}, fresh=True)
    mine = {"steps": 3, "run": "/x/edit_adapter_gpu4", "run_id": run_record(log)["id"]}
    # an unexported newer run in a folder of the same name must not claim this log
    notes = {"edit_adapter": {"steps": 9, "run": "/y/edit_adapter_gpu4", "run_id": "other", "continued_from": mine}}
    assert note_for(notes, log) == mine


def test_vae_psnr_measures_the_round_trip(tmp_path):
    model = tiny_checkpoint(tmp_path / "model")
    db = vae_psnr(model, frames=4)
    assert db == vae_psnr(model, frames=4)  # the same held-out frames every time
    assert vae_psnr(model, frames=4, style_share=1.0) != db  # styled frames are other frames
    with torch.no_grad():  # a VAE that decodes to grey everywhere scores exactly the PSNR of grey
        for p in model.backbone.vae.decoder.conv_out.parameters():
            p.zero_()
    from reference.data import batches, make_stream, uint8_to_tensor

    x = uint8_to_tensor(next(batches(make_stream("image", seed=123, size=model.config.resolution, split="heldout"), 4))["image"])
    grey = 10 * math.log10(4 / (x ** 2).mean().item())
    assert vae_psnr(model, frames=4) == pytest.approx(grey, abs=1e-3)
    assert db != pytest.approx(grey, abs=1e-3)
