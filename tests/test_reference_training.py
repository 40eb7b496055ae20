"""Training entry points of the reference model on the tiny preset (seconds each)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from reference import train_backbone, train_edit_adapter, train_video_adapter
from reference.backbone import Backbone
from reference.checkpoint import EVEConfig, EVEModel
from reference.data import batch_iterator, batches, make_stream
from reference.tiny_streams import TinyClipStream, TinyEditTripletStream, TinyImageCaptionStream

torch.set_num_threads(1)


def _fixed_batch_improves(module, batch, steps=8, lr=2e-3):
    """Loss on one fixed batch (same noise, timesteps and dropout every time) after `steps` Adam steps."""
    params = [p for p in module.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)

    def loss():
        torch.manual_seed(1234)
        return module(batch)

    module.train()
    with torch.no_grad():
        before = loss().item()
    for _ in range(steps):
        opt.zero_grad()
        loss().backward()
        opt.step()
    with torch.no_grad():
        after = loss().item()
    return before, after


def test_backbone_steps_lower_loss():
    bb = Backbone.from_preset("tiny", seed=0)
    batch = next(batches(TinyImageCaptionStream(seed=0), 4))
    bb.vae.requires_grad_(False)
    bb.unet.requires_grad_(True)
    bb.text_encoder.requires_grad_(True)
    before, after = _fixed_batch_improves(train_backbone.T2ITrainingModule(bb, True, 0.1), batch)
    assert after < 0.9 * before, (before, after)
    bb.vae.requires_grad_(True)
    before, after = _fixed_batch_improves(train_backbone.VAETrainingModule(bb.vae, 1e-6), batch)
    assert after < 0.9 * before, (before, after)


def test_edit_adapter_steps_lower_loss():
    model = EVEModel.from_preset("tiny", seed=0, video=False)
    module = train_edit_adapter.make_module(model.backbone, model.config, model.edit_adapter, 0.05)
    assert not any(p.requires_grad for p in model.backbone.unet.parameters())
    batch = next(batches(TinyEditTripletStream(seed=0), 4))
    before, after = _fixed_batch_improves(module, batch)
    assert after < 0.9 * before, (before, after)



def test_edit_adapter_target_latents(monkeypatch):
    """"mode" trains toward the target's posterior mode (the source's, where the edit leaves it
    alone), "sample" toward a posterior draw; the mode run still learns."""
    model = EVEModel.from_preset("tiny", seed=0, video=False)
    batch = next(batches(TinyEditTripletStream(seed=0), 4))
    bb = model.backbone
    encode = bb.encode_images
    for kind, sampled in (("sample", True), ("mode", False)):
        module = train_edit_adapter.make_module(bb, model.config, model.edit_adapter, 0.05, target_latents=kind)
        calls = []
        monkeypatch.setattr(bb, "encode_images", lambda x, sample=False, **kw: calls.append(sample) or encode(x, sample, **kw))
        module(batch)
        monkeypatch.setattr(bb, "encode_images", encode)
        assert calls == [sampled, False]  # target, then the ControlNet's source condition (always the mode)
    before, after = _fixed_batch_improves(module, batch)
    assert after < 0.9 * before, (before, after)
    with pytest.raises(ValueError, match="target_latents"):
        train_edit_adapter.make_module(bb, model.config, model.edit_adapter, 0.05, target_latents="mean")

def test_video_adapter_steps_lower_loss():
    model = EVEModel.from_preset("tiny", seed=0, edit=False)
    module, _ = train_video_adapter.make_module(model.backbone, model.config, model.video_adapter)
    trainable = [n for n, p in module.video_unet.named_parameters() if p.requires_grad]
    assert trainable and all("motion_modules" in n for n in trainable)
    batch = next(batches(TinyClipStream(seed=0, num_frames=4), 2))
    before, after = _fixed_batch_improves(module, batch)
    assert after < 0.95 * before, (before, after)


def test_truncate_log_drops_redone_and_cut_lines(tmp_path):
    from reference.run_folder import truncate_log

    log = tmp_path / "loss.jsonl"
    rows = [json.dumps({"step": s, "loss": 0.1}) + "\n" for s in (25, 50, 75)]
    log.write_text("".join(rows) + '{"step": 100, "lo')  # killed while writing step 100
    truncate_log(log, 50)
    assert log.read_text() == "".join(rows[:2])
    truncate_log(log, 50)
    assert log.read_text() == "".join(rows[:2])
    truncate_log(tmp_path / "absent.jsonl", 10)  # a run that never logged
    assert not (tmp_path / "absent.jsonl").exists()


def test_entry_points_train_checkpoint_resume_and_export(tmp_path):
    w = tmp_path / "model"
    common = dict(batch_size=2, checkpoint_every=2, log_every=1, lr=1e-3, ema_decay=0.9)
    runs = [
        (train_backbone.train, train_backbone.BackboneTrainConfig(weights=str(w), preset="tiny", stage="vae", steps=2, **common),
         lambda s: TinyImageCaptionStream(seed=s)),
        (train_backbone.train, train_backbone.BackboneTrainConfig(weights=str(w), preset="tiny", stage="t2i", steps=2, **common),
         lambda s: TinyImageCaptionStream(seed=s)),
        (train_edit_adapter.train, train_edit_adapter.EditTrainConfig(weights=str(w), steps=2, **common),
         lambda s: TinyEditTripletStream(seed=s)),
        (train_video_adapter.train, train_video_adapter.VideoTrainConfig(weights=str(w), steps=2, **common),
         lambda s: TinyClipStream(seed=s, num_frames=4)),
    ]
    for fn, cfg, stream in runs:
        summary = fn(cfg, stream_fn=stream)
        assert summary["step"] == 2
    # resume the edit adapter run: it continues from its step-2 checkpoint; a line that a killed
    # run logged after that checkpoint is dropped, since step 3 is redone
    log_path = tmp_path / "train" / "edit_adapter" / "loss.jsonl"
    with open(log_path, "a") as f:
        f.write(json.dumps({"step": 3, "loss": 99.0, "lr": 0.0, "seconds": 0.0}) + "\n")
    cfg = train_edit_adapter.EditTrainConfig(weights=str(w), steps=3, **common)
    summary = train_edit_adapter.train(cfg, stream_fn=lambda s: TinyEditTripletStream(seed=s))
    assert summary["step"] == 3
    log = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3] and log[-1]["loss"] != 99.0
    ckpts = sorted(p.name for p in (tmp_path / "train" / "edit_adapter" / "checkpoints").iterdir())
    assert ckpts == ["step_0000002", "step_0000003"]
    config = EVEConfig.load(w)
    assert {"vae", "t2i", "edit_adapter", "video_adapter"} <= set(config.notes)
    assert config.notes["vae"]["scaling_factor"] > 0
    # every part's note names its run by the id the run recorded at its start (kept through the resume)
    for part, folder in (("vae", "backbone_vae"), ("edit_adapter", "edit_adapter"), ("video_adapter", "video_adapter")):
        assert config.notes[part]["run_id"] == json.loads((tmp_path / "train" / folder / "run.json").read_text())["id"]
    # what the image and clip streams mixed in (the looks of the style task) is on record
    assert all(config.notes[part]["style_share"] == 0.25 for part in ("vae", "t2i", "video_adapter"))
    model = EVEModel.from_pretrained(w, require=("edit_adapter", "video_adapter"))
    assert model.backbone.vae.config.scaling_factor == pytest.approx(config.notes["vae"]["scaling_factor"])


def test_a_checkpoint_cut_short_is_not_resumed_from(tmp_path):
    from reference.run_folder import latest_checkpoint

    c = tmp_path / "checkpoints"
    (c / "step_0000002").mkdir(parents=True)
    (c / "step_0000002" / "trainer.json").write_text('{"step": 2}\n')
    (c / "step_0000004.partial").mkdir()  # killed while saving
    (c / "step_0000006").mkdir()  # half a checkpoint under a final name (as older runs could leave)
    assert latest_checkpoint(tmp_path).name == "step_0000002"


@pytest.mark.parametrize(
    "module,klass",
    [
        ("train_backbone", "BackboneTrainConfig"),
        ("train_edit_adapter", "EditTrainConfig"),
        ("train_video_adapter", "VideoTrainConfig"),
    ],
)
def test_cli_help(module, klass, capsys):
    import importlib

    import tyro

    cls = getattr(importlib.import_module(f"reference.{module}"), klass)
    with pytest.raises(SystemExit) as e:
        tyro.cli(cls, args=["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--weights", "--precision", "--gradient-checkpointing", "--use-ema", "--resume", "--steps"):
        assert flag in text


def test_mixed_precision_and_gradient_checkpointing(tmp_path):
    w = tmp_path / "model"
    EVEModel.from_preset("tiny", seed=0).save_pretrained(w)
    opts = dict(steps=1, batch_size=2, precision="bf16", gradient_checkpointing=True, use_ema=False,
                checkpoint_every=0, log_every=1)
    s = train_edit_adapter.train(train_edit_adapter.EditTrainConfig(weights=str(w), **opts),
                                 stream_fn=lambda s: TinyEditTripletStream(seed=s))
    assert s["step"] == 1 and s["loss"] == s["loss"]
    s = train_video_adapter.train(train_video_adapter.VideoTrainConfig(weights=str(w), **opts),
                                  stream_fn=lambda s: TinyClipStream(seed=s, num_frames=4))
    assert s["step"] == 1 and s["loss"] == s["loss"]
    assert EVEModel.from_pretrained(w).video_adapter.dtype == torch.float32


def test_vae_decoder_stage_keeps_latents_and_changes_decoding(tmp_path):
    w = tmp_path / "model"
    common = dict(batch_size=2, checkpoint_every=0, log_every=1, lr=1e-3, use_ema=False)
    stream = lambda s: TinyImageCaptionStream(seed=s)  # noqa: E731
    train_backbone.train(train_backbone.BackboneTrainConfig(weights=str(w), preset="tiny", stage="vae", steps=1, **common),
                         stream_fn=stream)
    before = EVEModel.from_pretrained(w, require=()).backbone
    train_backbone.train(train_backbone.BackboneTrainConfig(weights=str(w), stage="vae_decoder", steps=3, **common),
                         stream_fn=stream)
    after = EVEModel.from_pretrained(w, require=()).backbone
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        z0, z1 = before.encode_images(x), after.encode_images(x)
        assert torch.equal(z0, z1)  # same encoder, same latent scale
        assert not torch.allclose(before.decode_latents(z0), after.decode_latents(z1))
    assert "vae_decoder" in EVEConfig.load(w).notes


def test_worker_batches_match_in_process_batches_and_do_not_repeat():
    stream = make_stream("edit", seed=3, size=32)
    plain = next(batch_iterator(stream, 4))
    it = batch_iterator(stream, 4, num_workers=2)
    drawn = [next(it) for _ in range(4)]
    for batch in drawn:
        assert batch.keys() == plain.keys()
        for key, value in plain.items():
            assert type(batch[key]) is type(value)
            if hasattr(value, "dtype"):
                assert batch[key].dtype == value.dtype and batch[key].shape == value.shape
    sources = [b["source"].tobytes() for b in drawn]
    assert len(set(sources)) == len(sources)  # the two workers draw different items
    assert drawn[0]["source"].tobytes() == plain["source"].tobytes()  # worker 0 is the in-process stream


def test_export_only_snapshots_a_run_without_touching_it(tmp_path):
    w, snap = tmp_path / "model", tmp_path / "snapshot"
    common = dict(batch_size=2, checkpoint_every=2, log_every=1, lr=1e-3)
    images = lambda s: TinyImageCaptionStream(seed=s)  # noqa: E731
    train_backbone.train(train_backbone.BackboneTrainConfig(weights=str(w), preset="tiny", stage="vae", steps=1, **common), images)
    out = tmp_path / "train" / "edit_adapter"
    edits = lambda s: TinyEditTripletStream(seed=s)  # noqa: E731
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train_edit_adapter.train(train_edit_adapter.EditTrainConfig(weights=str(w), export_only=True, output_dir=str(out)), edits)
    train_edit_adapter.train(train_edit_adapter.EditTrainConfig(weights=str(w), steps=2, output_dir=str(out), **common), edits)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    shutil.copytree(w, snap)
    shutil.rmtree(snap / "edit_adapter")
    summary = train_edit_adapter.train(
        train_edit_adapter.EditTrainConfig(weights=str(snap), export_only=True, output_dir=str(out), steps=1000), edits)
    assert summary["step"] == 2
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before  # the run's state is untouched
    note = EVEConfig.load(snap).notes["edit_adapter"]
    assert (note["steps"], note["lr"], note["batch_size"]) == (2, 1e-3, 2)  # the run's, not this command's
    shipped = EVEModel.from_pretrained(w, require=("edit_adapter",)).edit_adapter.state_dict()
    snapped = EVEModel.from_pretrained(snap, require=("edit_adapter",)).edit_adapter.state_dict()
    assert all(torch.equal(shipped[k], snapped[k]) for k in shipped)
