"""Reference backbone, adapters and checkpoint IO on the tiny preset (random weights)."""

from __future__ import annotations

from pathlib import Path

import json

import pytest
import torch

from eve_bench.encoders.clip_bpe import clip_bpe, clip_tokenizer
from reference.checkpoint import EVEConfig, EVEModel, load_sd15, write_sd15_config
from reference.edit_adapter import condition_dropout_masks, edit_forward, instruction_text
from reference.presets import PRESETS
from reference.video_adapter import (
    build_video_unet,
    frames_to_batch,
    motion_forward,
    zero_motion_proj_out,
)
from reference_fixtures import write_sd15_format_dirs  # tests/ is on sys.path under pytest

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny_ckpt")
    model = EVEModel.from_preset("tiny", seed=0)
    model.save_pretrained(d)
    return model, d


def _inputs(model, frames=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    bb = model.backbone
    x = torch.randn(frames, 4, bb.latent_size, bb.latent_size, generator=g)
    cond = torch.randn(frames, 4, bb.latent_size, bb.latent_size, generator=g)
    t = torch.tensor([500] * frames)
    with torch.no_grad():
        cap = bb.encode_text(["a red square"] * frames)
        ins = bb.encode_text(["texture: make the square blue"] * frames)
    return x, cond, t, cap, ins


def test_tokenizer_is_clip_bpe_prefix(tmp_path):
    tok = clip_tokenizer(2000)
    assert len(tok) == 512 + 2000 + 2
    ids = tok("a photo of a cat").input_ids
    # CLIP ids of the byte-level and early-merge tokens are kept ("a</w>" 320, "of</w>" 539)
    assert ids[1] == 320 and 539 in ids and ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    vocab, merges = clip_bpe(2000)
    assert vocab["a</w>"] == 320 and len(merges) == 2000
    tok.save_pretrained(tmp_path)
    from transformers import CLIPTokenizer

    again = CLIPTokenizer.from_pretrained(tmp_path)
    assert again("make the red circle blue").input_ids == tok("make the red circle blue").input_ids
    batch = again(["a", "b c"], padding="max_length", max_length=77, truncation=True, return_tensors="pt")
    assert batch.input_ids.shape == (2, 77)


def test_param_counts_per_preset():
    counts = EVEModel.from_preset("tiny").param_counts()
    assert 1e6 < counts["total"] < 3e6
    assert counts["edit_adapter"] > 0 and counts["video_adapter"] > 0
    synth = EVEModel.from_preset("synth").param_counts()
    assert 3e6 < synth["total"] < 10e6, synth
    assert set(PRESETS) == {"tiny", "synth", "sd15"}


def test_fresh_edit_adapter_leaves_backbone_unchanged(tiny):
    model, _ = tiny
    x, cond, t, cap, ins = _inputs(model)
    with torch.no_grad():
        plain = model.backbone.unet(x, t, encoder_hidden_states=cap).sample
        edited = edit_forward(model.backbone.unet, model.edit_adapter, x, t, cap, ins, cond)
    assert (plain - edited).abs().max().item() == 0.0


def test_fresh_video_adapter_is_identity(tiny):
    model, _ = tiny
    x, cond, t, cap, ins = _inputs(model, frames=4)
    clip = x.permute(1, 0, 2, 3).unsqueeze(0)  # (1, C, F, h, w)
    with torch.no_grad():
        per_frame = model.backbone.unet(x, t, encoder_hidden_states=cap).sample
        video = motion_forward(model.video_unet, clip, t[:1], cap[:1])
    assert (frames_to_batch(video) - per_frame).abs().max().item() < 1e-5
    # a random (not zero-initialised) adapter is not an identity: the zeroing is what matters
    from diffusers import MotionAdapter

    raw = MotionAdapter(**PRESETS["tiny"].motion)
    with torch.no_grad():
        other = motion_forward(build_video_unet(model.backbone.unet, raw), clip, t[:1], cap[:1])
    assert (frames_to_batch(other) - per_frame).abs().max().item() > 1e-3
    assert zero_motion_proj_out(raw) > 0


def test_save_load_gives_identical_outputs(tiny):
    model, d = tiny
    assert json.loads((d / "eve_config.json").read_text())["preset"] == "tiny"
    for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        assert (d / "backbone" / part).is_dir()
    assert (d / "edit_adapter" / "diffusion_pytorch_model.safetensors").is_file()
    assert (d / "video_adapter" / "diffusion_pytorch_model.safetensors").is_file()
    # give the adapters non-trivial weights so the comparison is meaningful
    torch.manual_seed(1)
    for m in (model.edit_adapter, model.video_adapter):
        with torch.no_grad():
            for p in m.parameters():
                p.add_(0.01 * torch.randn_like(p))
    model.reset_video_unet()
    d2 = d.parent / "tiny_ckpt_perturbed"
    model.save_pretrained(d2)
    loaded = EVEModel.from_pretrained(d2)
    x, cond, t, cap, ins = _inputs(model, frames=4)
    clip = x.permute(1, 0, 2, 3).unsqueeze(0)
    with torch.no_grad():
        for m in (model, loaded):
            m.backbone.vae.eval()
        assert torch.equal(model.backbone.encode_text(["a red square"]), loaded.backbone.encode_text(["a red square"]))
        img = torch.rand(2, 3, 32, 32) * 2 - 1
        assert torch.equal(model.backbone.encode_images(img), loaded.backbone.encode_images(img))
        assert torch.equal(model.backbone.decode_latents(x[:2]), loaded.backbone.decode_latents(x[:2]))
        a = edit_forward(model.backbone.unet, model.edit_adapter, x, t, cap, ins, cond)
        b = edit_forward(loaded.backbone.unet, loaded.edit_adapter, x, t, cap, ins, cond)
        assert torch.equal(a, b)
        va = motion_forward(model.video_unet, clip, t[:1], cap[:1])
        vb = motion_forward(loaded.video_unet, clip, t[:1], cap[:1])
        assert torch.equal(va, vb)
    assert loaded.config == model.config
    assert loaded.backbone.ddim().config.timestep_spacing == "trailing"


def test_half_precision_checkpoint_loads_in_one_dtype(tiny, tmp_path):
    """The shipped weights are float16 on disk; loading must not mix dtypes across parts."""
    model, d = tiny
    half = EVEModel.from_pretrained(d, torch_dtype=torch.float16)
    half.save_pretrained(tmp_path / "half")
    for dtype, kw in ((torch.float32, {}), (torch.bfloat16, {"torch_dtype": torch.bfloat16})):
        loaded = EVEModel.from_pretrained(tmp_path / "half", **kw)
        parts = [*loaded.backbone.modules().values(), loaded.edit_adapter, loaded.video_adapter]
        assert {p.dtype for m in parts for p in m.parameters()} == {dtype}


def test_condition_dropout_masks():
    drop_text, drop_image = condition_dropout_masks(30000, 0.1, torch.Generator().manual_seed(0))
    only_text = (drop_text & ~drop_image).float().mean().item()
    both = (drop_text & drop_image).float().mean().item()
    only_image = (~drop_text & drop_image).float().mean().item()
    for share in (only_text, both, only_image):
        assert abs(share - 0.1) < 0.01
    assert instruction_text("make it red", "texture", True) == "texture: make it red"
    assert instruction_text("make it red", "texture", False) == "make it red"


def test_sd15_format_loading(tmp_path):
    bb, cn, ma = write_sd15_format_dirs(tmp_path)
    model = load_sd15(tmp_path / "sd15", tmp_path / "control_v11e_ip2p", tmp_path / "motion_adapter")
    assert model.config.edit_condition == "pixel" and not model.config.first_frame_conditioning
    assert model.config.resolution == 32
    assert model.backbone.ddim().config.timestep_spacing == "leading"
    x, _, t, cap, ins = _inputs(model, frames=2)
    pix = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        ref = edit_forward(bb.unet, cn, x, t, cap, ins, pix)
        got = edit_forward(model.backbone.unet, model.edit_adapter, x, t, cap, ins, pix)
        assert torch.equal(ref, got)
        clip = x.permute(1, 0, 2, 3).unsqueeze(0)
        v_ref = motion_forward(build_video_unet(bb.unet, ma), clip, t[:1], cap[:1])
        v_got = motion_forward(model.video_unet, clip, t[:1], cap[:1])
        assert torch.allclose(v_ref, v_got, atol=1e-5, rtol=0)
    # the same parts through an eve_config.json that only points at them
    ckpt = tmp_path / "sd15_eve"
    write_sd15_config(ckpt, str(tmp_path / "sd15"), str(tmp_path / "control_v11e_ip2p"), str(tmp_path / "motion_adapter"))
    again = EVEModel.from_pretrained(ckpt, require=("edit_adapter", "video_adapter"))
    assert again.config.edit_condition == "pixel"
    with torch.no_grad():
        assert torch.equal(edit_forward(again.backbone.unet, again.edit_adapter, x, t, cap, ins, pix), ref)
    # and a self-contained copy in the default layout
    again.save_pretrained(tmp_path / "copy")
    assert EVEConfig.load(tmp_path / "copy").backbone_path is None
    assert (tmp_path / "copy" / "edit_adapter" / "config.json").is_file()


def _record_many(directory, prefix, n):
    for i in range(n):
        EVEConfig.record_training(directory, f"{prefix}{i}", {"steps": i})


def test_record_training_from_two_processes_loses_no_note(tmp_path):
    import multiprocessing

    EVEConfig.from_preset("tiny").save(tmp_path)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_record_many, args=(tmp_path, p, 40)) for p in ("edit", "video")]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0, 0]
    notes = EVEConfig.load(tmp_path).notes
    assert set(notes) == {f"{p}{i}" for p in ("edit", "video") for i in range(40)}


def _segment(folder, steps, continues):
    from reference.run_folder import start_run_record
    from reference.training import TrainConfig

    folder.mkdir(parents=True, exist_ok=True)
    start_run_record(folder, {"continues": continues}, fresh=True)
    return TrainConfig(steps=steps, output_dir=str(folder))


def test_adapter_notes_keep_the_lineage_of_chained_segments(tmp_path, monkeypatch):
    from reference.training import record_adapter

    ckpt = tmp_path / "ckpt"
    EVEConfig.from_preset("tiny").save(ckpt)
    own = str(ckpt / "edit_adapter")
    record_adapter(ckpt, "edit_adapter", _segment(tmp_path / "cpu", 10, False), None)
    record_adapter(ckpt, "edit_adapter", _segment(tmp_path / "gpu1", 5, True), own)
    gpu2 = _segment(tmp_path / "gpu2", 7, True)
    record_adapter(ckpt, "edit_adapter", gpu2, own)
    # a second export of the same run, under another spelling of its folder, replaces the first
    monkeypatch.chdir(tmp_path)
    gpu2.steps, gpu2.output_dir = 8, "gpu2/"
    record_adapter(ckpt, "edit_adapter", gpu2, own)
    # a new run in a reused folder (a fresh start: a new record) is a new segment
    record_adapter(ckpt, "edit_adapter", _segment(tmp_path / "gpu1", 3, True), own)
    note = EVEConfig.load(ckpt).notes["edit_adapter"]
    chain = []
    while note:
        chain.append((Path(note["run"]).name, note["steps"]))
        note = note.get("continued_from")
    assert chain == [("gpu1", 3), ("gpu2", 8), ("gpu1", 5), ("cpu", 10)]
    # started from another ControlNet: the start is named, the old lineage is not claimed
    record_adapter(ckpt, "edit_adapter", _segment(tmp_path / "ip2p", 3, False), "/hub/ip2p")
    note = EVEConfig.load(ckpt).notes["edit_adapter"]
    assert note["init_adapter"] == "/hub/ip2p" and "continued_from" not in note


def test_a_resumed_run_keeps_its_record_and_a_fresh_start_replaces_it(tmp_path):
    from reference.run_folder import run_record, start_run_record

    start_run_record(tmp_path, {"continues": True}, fresh=True)
    first = run_record(tmp_path)
    start_run_record(tmp_path, {"continues": False}, fresh=False)  # a resume
    assert run_record(tmp_path) == first
    start_run_record(tmp_path, {"continues": False}, fresh=True)  # the folder reused by a new run
    assert run_record(tmp_path)["id"] != first["id"] and run_record(tmp_path)["continues"] is False


def test_runs_older_than_run_records_keep_their_lineage(tmp_path):
    from reference.training import TrainConfig, record_adapter

    ckpt = tmp_path / "ckpt"
    EVEConfig.from_preset("tiny").save(ckpt)
    own = str(ckpt / "edit_adapter")
    EVEConfig.record_training(ckpt, "edit_adapter", {"steps": 10, "run": "cpu"})
    old_run = TrainConfig(steps=5, output_dir=str(tmp_path / "gpu1"))  # no run.json: judged at export
    record_adapter(ckpt, "edit_adapter", old_run, own)
    old_run.steps = 6  # exported again: the same run folder, so it replaces
    record_adapter(ckpt, "edit_adapter", old_run, own)
    note = EVEConfig.load(ckpt).notes["edit_adapter"]
    assert (note["steps"], note["continued_from"]) == (6, {"steps": 10, "run": "cpu"})


def test_whether_a_run_continues_is_decided_when_it_starts(tmp_path):
    from reference.training import continues_part

    assert continues_part(tmp_path / "w", "edit_adapter", str(tmp_path / "w" / "edit_adapter")) == {"continues": True}
    assert continues_part(tmp_path / "w", "edit_adapter", str(tmp_path / "copy" / "edit_adapter")) == {"continues": False}
    assert continues_part(tmp_path / "w", "edit_adapter", None) == {"continues": False}


def test_record_training_drops_a_part_path_for_the_default_layout(tmp_path):
    cfg = EVEConfig.from_preset("tiny")
    cfg.edit_adapter_path = "/elsewhere/ip2p"
    cfg.save(tmp_path)
    EVEConfig.record_training(tmp_path, "edit_adapter", {"steps": 3}, default_layout=True)
    again = EVEConfig.load(tmp_path)
    assert again.edit_adapter_path is None and again.notes["edit_adapter"] == {"steps": 3}
