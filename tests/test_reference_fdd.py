"""Factorized Diffusion Distillation and the EVE student on the tiny preset (seconds each)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from reference import fdd, predict
from reference.checkpoint import EVEModel
from reference.discriminators import Discriminators, UNetEncoderFeatures
from reference.fdd import FDDSettings, rollout_timesteps
from reference.student import LORA_FILE, attach_student, load_student, save_student
from reference.tiny_streams import TinyEditClipStream
from reference.video_adapter import batch_to_frames

torch.set_num_threads(1)
STREAM = lambda seed: TinyEditClipStream(seed=seed, size=32, num_frames=4)  # noqa: E731


def _trained_adapters(seed: int = 0) -> EVEModel:
    """A tiny checkpoint whose adapters are not the identity, so both shape the result."""
    model = EVEModel.from_preset("tiny", seed=seed)
    torch.manual_seed(5)
    with torch.no_grad():
        for m in (model.edit_adapter, model.video_adapter):
            for p in m.parameters():
                p.add_(0.02 * torch.randn_like(p))
    return model.freeze()


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny_fdd") / "model"
    _trained_adapters().save_pretrained(d)
    return d


def _inputs(model, b: int = 1):
    f = model.config.num_frames
    frames = torch.rand(b * f, 3, 32, 32) * 2 - 1
    cond = predict.edit_conditioning(model, frames, ["make the square red"] * b, ["a red square"] * b, ["texture"] * b)
    x = torch.randn(b, 4, f, 8, 8, generator=torch.Generator().manual_seed(1))
    return cond, x


def test_zero_initialised_student_is_plug_and_play():
    model = _trained_adapters()
    cond, x = _inputs(model, b=2)
    t = torch.tensor([700, 300])
    with torch.no_grad():
        pnp = predict.stack_prediction(model.video_unet, model.edit_adapter, x, t, cond)
        student = attach_student(model)
        out = predict.stack_prediction(student.video_unet, student.controlnet, x, t, cond, align=True)
    assert (out - pnp).abs().max().item() < 1e-6
    # only the LoRA trains, and it is really in the UNet the student runs
    names = [n for n, p in student.video_unet.named_parameters() if p.requires_grad]
    assert names and all(".align." in n and "motion_modules" not in n for n in names)
    with torch.no_grad():
        for p in student.trainable():
            p.add_(0.05)
        moved = predict.stack_prediction(student.video_unet, student.controlnet, x, t, cond, align=True)
        off = predict.stack_prediction(student.video_unet, student.controlnet, x, t, cond, align=False)
        teacher = predict.video_prediction(student.video_unet, x, t, cond.caption, cond.empty)
        pnp_teacher = predict.video_prediction(_trained_adapters().video_unet, x, t, cond.caption, cond.empty)
    assert (moved - pnp).abs().max().item() > 1e-3
    assert (off - pnp).abs().max().item() < 1e-6  # the LoRA switched off: plug-and-play again
    assert (teacher - pnp_teacher).abs().max().item() < 1e-6  # the video teacher never sees the LoRA


def test_kbin_timesteps():
    g = torch.Generator().manual_seed(0)
    draws = [rollout_timesteps(3, 1000, kbin=True, generator=g) for _ in range(50)]
    for taus in draws:
        assert 667 <= taus[0] <= 999 and 333 <= taus[1] <= 666 and 0 <= taus[2] <= 332
    assert len({tuple(t) for t in draws}) > 40  # different every iteration
    assert rollout_timesteps(3, 1000, kbin=False) == [999, 666, 332]
    assert rollout_timesteps(3, 1000, kbin=False) == rollout_timesteps(3, 1000, kbin=False, generator=g)
    assert rollout_timesteps(1, 1000, kbin=False) == [999]
    top = [rollout_timesteps(3, 1000, kbin=True, generator=g, first_step="top") for _ in range(20)]
    assert all(t[0] == 999 and 333 <= t[1] <= 666 and 0 <= t[2] <= 332 for t in top)


def test_gradient_reaches_the_lora_through_the_first_rollout_step():
    """The LoRA acts in the first of three DDIM steps only; a loss on x'_0 still moves it, so the
    gradient flows back through the two later steps."""
    model = _trained_adapters()
    student = attach_student(model)
    cond, x = _inputs(model)
    sched = model.backbone.ddim()
    calls = []

    def student_fn(x, t):
        calls.append(int(t))
        return predict.stack_prediction(student.video_unet, student.controlnet, x, t, cond, align=len(calls) == 1)

    x0 = predict.ddim(sched, x, student_fn, [900, 500, 100])
    x0.square().mean().backward()
    lora_b = [p.grad for n, p in student.video_unet.named_parameters() if "lora_B" in n]
    assert calls == [900, 500, 100]
    assert lora_b and sum(g.abs().sum().item() for g in lora_b if g is not None) > 0


def _cfg(ckpt, out, **kw) -> "FDDTrainConfig":
    from reference.train_fdd import FDDTrainConfig

    base = dict(weights=str(ckpt), output_dir=str(out), steps=4, batch_size=2, gradient_accumulation_steps=2,
                sds_only_steps=2, first_frame_steps=2, teacher_sample_steps=2, checkpoint_every=2, lr=1e-3,
                disc_lr=1e-3, bank_root=str(out.parent / "bank"), bank_items=6, probe_items=2, d_warmup=1,
                d_steps=2, d_batch=3, replay_size=4, probe_every=1, grad_log_every=1)
    return FDDTrainConfig(**{**base, **kw})


def _log(out) -> list[dict]:
    return [json.loads(line) for line in (out / "loss.jsonl").read_text().splitlines()]


def _tensors(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_fdd_trains_only_the_lora_and_the_heads(ckpt, tmp_path):
    from reference.train_fdd import train

    weights = tmp_path / "model"
    shutil.copytree(ckpt, weights)
    before = EVEModel.from_pretrained(weights)
    result = train(_cfg(weights, tmp_path / "run"), stream_fn=STREAM)
    rows = _log(tmp_path / "run")
    # D trains from one iteration before the student sees it (d_warmup 1)
    assert [r["phase"] for r in rows] == ["sds", "warmup", "adversarial", "adversarial"]
    assert "d_e" not in rows[0] and "g_e" not in rows[1] and {"d_e", "g_e"} <= set(rows[2])
    assert {"sds_e", "sds_v", "gap_e", "gap_v", "g_e", "g_v", "d_e", "d_v", "auc_e", "auc_v", "margin_e",
            "gnorm_sds", "gnorm_adv", "adv_share"} <= set(rows[-1])
    assert rows[-1]["adv_share"] == pytest.approx(rows[-1]["gnorm_adv"] / rows[-1]["gnorm_sds"], rel=1e-4)
    for row in rows[1:]:  # measured on the held-out probe from D's first iteration on
        assert 0 <= row["probe_auc_e"] <= 1 and 0 <= row["probe_auc_v"] <= 1 and "probe_p_fake_v" in row
    from reference.studies.fdd_summary import summary_table

    table = summary_table([tmp_path / "run"], window=1)
    assert "| run | sds, first 1 | 1-1 |" in table and "| run | adversarial, last 1 | 4-4 |" in table
    after = EVEModel.from_pretrained(weights)  # the teachers and the backbone on disk: untouched
    for name in ("edit_adapter", "video_adapter"):
        a, b = _tensors(getattr(before, name)), _tensors(getattr(after, name))
        assert all(torch.equal(a[k], b[k]) for k in a), name
    for name, m in before.backbone.modules().items():
        a, b = _tensors(m), _tensors(getattr(after.backbone, name))
        assert all(torch.equal(a[k], b[k]) for k in a), name
    student_dir = weights / "align"
    assert (student_dir / LORA_FILE).is_file() and result["student"] == str(student_dir)
    info = json.loads((student_dir / "student.json").read_text())
    assert info["fdd"]["steps"] == 4 and info["fdd"]["kbin"] is True
    # the saved student differs from plug-and-play: the LoRA moved
    model = load_student(EVEModel.from_pretrained(weights), student_dir)
    cond, x = _inputs(model)
    with torch.no_grad():
        out = predict.stack_prediction(model.video_unet, model.edit_adapter, x, torch.tensor(500), cond, align=True)
        pnp = predict.stack_prediction(model.video_unet, model.edit_adapter, x, torch.tensor(500), cond)
    assert (out - pnp).abs().max().item() > 1e-4


def test_in_memory_fdd_changes_only_trainables_and_moves_the_losses():
    """Several FDD iterations on one fixed batch: every frozen tensor (teachers, backbone, the
    UNet-encoder feature network) stays bit-identical; the LoRA and the heads change; the SDS gap
    closes. The discriminator loss is not asserted here: against a student that moves at this
    learning rate it need not fall monotonically (it did not on CI's CPU), and that D learns what
    differs is test_discriminators_learn_to_see_blur's claim, on held-out clips."""
    model = _trained_adapters()
    settings = FDDSettings(first_frame_steps=2, teacher_sample_steps=2, sds_only_steps=0)
    guidance = fdd.resolve_guidance(settings, {})
    student = attach_student(model)
    features = UNetEncoderFeatures(model.backbone.unet, model.backbone.scheduler)
    disc = Discriminators(features.channels(), model.backbone.text_encoder.config.hidden_size)
    frozen = {n: _tensors(m) for n, m in {**model.backbone.modules(), "edit": model.edit_adapter}.items()}
    video_frozen = {k: v for k, v in _tensors(model.video_unet).items() if ".align." not in k}
    lora0 = [p.detach().clone() for p in student.trainable()]
    heads0 = _tensors(disc)
    opt_g = torch.optim.Adam(student.trainable(), lr=3e-3)
    opt_d = torch.optim.Adam(disc.parameters(), lr=3e-3)
    items = next(iter(__import__("reference.data", fromlist=["batches"]).batches(STREAM(0), 2)))
    with torch.no_grad():
        gen = torch.Generator().manual_seed(1)
        batch = fdd.prepare_batch(model, items, settings, guidance, gen)
        real_edits = batch_to_frames(fdd.teacher_edit_samples(model, batch.cond, guidance.edit, 2, gen), 4)
        real_clips = fdd.teacher_video_samples(model, batch, guidance.video, 2, gen)
    gaps = []
    for step in range(6):
        gen = torch.Generator().manual_seed(0)  # the same noise, timesteps, frames and re-noising every time
        batch = fdd.prepare_batch(model, items, settings, guidance, gen)
        x0, _ = fdd.rollout(model, student, batch, settings, guidance, gen)
        (sds_e, gap_e), (sds_v, gap_v) = fdd.sds_losses(model, batch, x0, settings, guidance, gen)
        disc.requires_grad_(False)
        g_e, g_v = fdd.adversarial_generator_losses(features, disc, batch, x0, settings, gen)
        (0.5 * (g_e + 2.5 * sds_e) + 0.5 * (g_v + 2.5 * sds_v)).backward()
        opt_g.step(), opt_g.zero_grad()
        disc.requires_grad_(True)
        pairs = fdd.Pairs(batch.ctx, real_edits, real_clips, x0, pinned=True)
        d = fdd.discriminator_losses(features, disc, pairs, settings, gen)
        (0.5 * d["d_e"] + 0.5 * d["d_v"]).backward()
        opt_d.step(), opt_d.zero_grad()
        gaps.append((gap_e + gap_v).item())
    for n, m in {**model.backbone.modules(), "edit": model.edit_adapter}.items():
        now = _tensors(m)
        assert all(torch.equal(frozen[n][k], now[k]) for k in now), n
    now = _tensors(model.video_unet)
    assert all(torch.equal(video_frozen[k], now[k]) for k in video_frozen)
    assert any(not torch.equal(a, b) for a, b in zip(lora0, student.trainable()))
    assert any(not torch.equal(heads0[k], v) for k, v in _tensors(disc).items())
    assert gaps[-1] < gaps[0], gaps  # the student moves toward its teachers on this batch


def test_saved_lora_reloads_and_loads_into_stock_diffusers(tmp_path):
    from diffusers import UNetMotionModel

    model = _trained_adapters()
    student = attach_student(model, rank=4, alpha=8)  # alpha != rank: the metadata must carry it
    with torch.no_grad():
        for p in student.trainable():
            p.add_(0.05 * torch.randn_like(p))
    save_student(student, tmp_path / "align", {"note": "test"})
    cond, x = _inputs(model)
    t = torch.tensor(600)
    with torch.no_grad():
        out = predict.stack_prediction(student.video_unet, student.controlnet, x, t, cond, align=True)
        again = _trained_adapters()
        loaded = load_student(again, tmp_path / "align")
        out2 = predict.stack_prediction(loaded.video_unet, loaded.edit_adapter, x, t, cond, align=True)
        assert (out - out2).abs().max().item() < 1e-6
        stock = UNetMotionModel.from_unet2d(again.backbone.unet, again.video_adapter)
        stock.load_lora_adapter(str(tmp_path / "align"), prefix="unet", weight_name=LORA_FILE)
        stock_out = predict.stack_prediction(stock, again.edit_adapter, x, t, cond, align=True)
    assert (out - stock_out).abs().max().item() < 1e-5


def test_resume_gives_the_same_losses_as_an_uninterrupted_run(ckpt, tmp_path):
    from reference.train_fdd import train

    for name in ("a", "b"):
        shutil.copytree(ckpt, tmp_path / name)
    train(_cfg(tmp_path / "a", tmp_path / "run_a"), stream_fn=STREAM)
    train(_cfg(tmp_path / "b", tmp_path / "run_b", steps=2), stream_fn=STREAM)  # stopped at step 2
    train(_cfg(tmp_path / "b", tmp_path / "run_b"), stream_fn=STREAM)  # resumed to 4
    a, b = _log(tmp_path / "run_a"), _log(tmp_path / "run_b")
    assert [r["step"] for r in b] == [1, 2, 3, 4]
    for ra, rb in zip(a, b):
        assert set(ra) == set(rb)
        for key in set(ra) - {"seconds", "phase"}:
            assert ra[key] == pytest.approx(rb[key], rel=1e-5), (ra["step"], key)


def test_ablation_switches(ckpt, tmp_path):
    from reference.train_fdd import train

    shutil.copytree(ckpt, tmp_path / "model")
    train(_cfg(tmp_path / "model", tmp_path / "no_sds", steps=2, sds=False, name="align_no_sds"), stream_fn=STREAM)
    no_sds = _log(tmp_path / "no_sds")  # the student waits for the discriminators' warm-up
    assert [r["phase"] for r in no_sds] == ["warmup", "adversarial"] and not any("sds_e" in r for r in no_sds)
    assert "loss_g" not in no_sds[0] and "g_e" in no_sds[1]
    train(_cfg(tmp_path / "model", tmp_path / "no_disc", steps=3, sds_only_steps=1, adversarial=False,
               name="align_no_disc"), stream_fn=STREAM)
    assert all(r["phase"] == "sds" and "d_e" not in r for r in _log(tmp_path / "no_disc"))
    train(_cfg(tmp_path / "model", tmp_path / "no_kbin", steps=2, kbin=False, name="align_no_kbin"),
          stream_fn=STREAM)
    assert all(r["taus"] == [999, 666, 332] for r in _log(tmp_path / "no_kbin"))
    train(_cfg(tmp_path / "model", tmp_path / "rand", steps=1, random_init=True, name="align_random_init"),
          stream_fn=STREAM)
    saved = tmp_path / "model" / "align_random_init"
    assert (saved / "edit_adapter" / "config.json").is_file() and (saved / "video_adapter" / "config.json").is_file()
    teachers = EVEModel.from_pretrained(tmp_path / "model")
    own = load_student(teachers, saved)  # the student runs its own adapters, the teachers keep theirs
    assert own.edit_adapter is not teachers.edit_adapter and own.video_unet is not teachers.video_unet
    with pytest.raises(ValueError, match="SDS, the discriminators, or both"):
        FDDSettings(sds=False, adversarial=False)


def test_unsupervised_stream_carries_no_target():
    from reference.data import make_stream

    item = next(iter(make_stream("edit_clip", seed=0, size=32, num_frames=3)))
    assert set(item) == {"video", "instruction", "source_caption", "target_caption", "task"}
    assert item["video"].shape == (3, 32, 32, 3) and item["video"].dtype == np.uint8


def test_one_fdd_step_on_sd15_format_weights_with_a_dinov2_feature_network(tmp_path):
    """The public formats: an SD pipeline folder, a pixel-conditioned ControlNet, a MotionAdapter
    (not first-frame conditioned) and a transformers Dinov2Model, all tiny and random."""
    from transformers import Dinov2Config, Dinov2Model

    from reference.checkpoint import write_sd15_config
    from reference_fixtures import write_sd15_format_dirs
    from reference.train_fdd import train

    write_sd15_format_dirs(tmp_path)
    write_sd15_config(tmp_path / "eve", str(tmp_path / "sd15"), str(tmp_path / "control_v11e_ip2p"),
                      str(tmp_path / "motion_adapter"))
    Dinov2Model(Dinov2Config(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
                             image_size=28, patch_size=14)).save_pretrained(tmp_path / "dinov2")
    train(_cfg(tmp_path / "eve", tmp_path / "run", steps=2, batch_size=1, gradient_accumulation_steps=1,
               sds_only_steps=0, d_warmup=0, disc_backbone="dinov2", dinov2_path=str(tmp_path / "dinov2"),
               disc_taps="2,4"), stream_fn=STREAM)
    row = _log(tmp_path / "run")[-1]  # the discriminators' first batch: the first iteration's sample
    assert row["phase"] == "adversarial" and np.isfinite([row["loss_g"], row["loss_d"], row["sds_e"]]).all()
    assert (tmp_path / "eve" / "align" / LORA_FILE).is_file()


def test_reference_eve_runs_the_trained_student(ckpt, tmp_path):
    from eve_bench.errors import ModelNotReadyError
    from eve_bench.models import load_model
    from eve_bench.models.base import EditRequest
    from eve_bench.video import Video
    from reference.train_fdd import train

    weights = tmp_path / "model"
    shutil.copytree(ckpt, weights)
    with pytest.raises(ModelNotReadyError, match="no trained student align_no_sds/.*--no-sds"):
        load_model("reference.eve", {"weights": str(weights), "variant": "no_sds"}, device="cpu")
    with pytest.raises(ValueError, match="unknown student variant"):
        load_model("reference.eve", {"weights": str(weights), "variant": "nope"}, device="cpu")
    with pytest.raises(ModelNotReadyError, match="no trained student align_no_disc_seed2/.*--seed 2"):
        load_model("reference.eve", {"weights": str(weights), "variant": "no_disc", "seed": 2}, device="cpu")
    train(_cfg(weights, tmp_path / "run", steps=2, lr=1e-2), stream_fn=STREAM)
    frames = np.random.default_rng(0).integers(0, 256, (6, 20, 28, 3), dtype=np.uint8)  # 6 > the window of 4

    def request(seed):
        return EditRequest(video=Video(frames=frames, fps=8.0), instruction="make the square blue",
                           source_caption="a red square", target_caption="a blue square", task="texture", seed=seed)

    eve = load_model("eve", {"weights": str(weights), "steps": 3}, device="cpu")
    out = eve.edit(request(7)).frames
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert np.array_equal(out, eve.edit(request(7)).frames)  # deterministic for a seed
    assert not np.array_equal(out, eve.edit(request(8)).frames)
    pnp = load_model("plug_and_play", {"weights": str(weights), "steps": 3}, device="cpu").edit(request(7)).frames
    assert not np.array_equal(out, pnp)  # the alignment is really applied


def test_branched_run_continues_as_the_uninterrupted_one(ckpt, tmp_path):
    """--init-from: a run started from another run's checkpoint logs what the uninterrupted run
    logged (the ablations that share the student's SDS-only phase branch this way)."""
    from reference.train_fdd import train

    for name in ("a", "b", "c"):
        shutil.copytree(ckpt, tmp_path / name)
    train(_cfg(tmp_path / "a", tmp_path / "run_a"), stream_fn=STREAM)
    train(_cfg(tmp_path / "b", tmp_path / "run_b", steps=2), stream_fn=STREAM)
    parent = tmp_path / "run_b" / "checkpoints" / "step_0000002"
    train(_cfg(tmp_path / "c", tmp_path / "run_c", init_from=str(parent)), stream_fn=STREAM)
    a, c = _log(tmp_path / "run_a"), _log(tmp_path / "run_c")
    assert [r["step"] for r in c] == [1, 2, 3, 4]
    for ra, rc in zip(a, c):
        for key in set(ra) - {"seconds", "phase"}:
            assert ra[key] == pytest.approx(rc[key], rel=1e-5), (ra["step"], key)
    record = json.loads((tmp_path / "run_c" / "run.json").read_text())
    assert record["branched_from"] == str(parent) and record["id"] != json.loads((tmp_path / "run_b" / "run.json").read_text())["id"]


def test_discriminators_learn_to_see_blur():
    """With the default view (taps, re-noising, pairing), fresh heads on the shipped synth
    checkpoint's UNet encoder learn within 40 updates to tell synth clips from the same clips
    blurred, on clips they never trained on: a view that erases fine detail fails here."""
    from reference.teacher_bank import StreamItems, synth_stream

    model = EVEModel.from_pretrained("reference/weights/synth")
    settings = FDDSettings()
    bb = model.backbone
    stream_fn, description = synth_stream(64, 8)
    source = StreamItems(stream_fn, 5, description)
    items = []
    blur = torch.tensor([1.0, 2.0, 1.0])
    kernel = (blur[:, None] * blur[None, :] / 16).expand(bb.unet.config.in_channels, 1, 3, 3)
    with torch.no_grad():
        for i in range(24):
            raw = source[i]
            frames = fdd.source_frames(model, raw["video"][None])
            latents = bb.encode_images(frames)  # (F, C, h, w)
            clip = latents.permute(1, 0, 2, 3)  # (C, F, h, w)
            items.append(({**{k: raw[k] for k in ("video", "instruction", "target_caption", "task")},
                           "source": latents, "edit": clip, "clip": clip, "first": clip[:, 0]},
                          torch.cat([clip[:, :1], torch.nn.functional.conv2d(latents[1:], kernel, padding=1,
                                                                            groups=kernel.shape[0]).permute(1, 0, 2, 3)], 1)))
    train, held = items[:16], items[16:]
    features = UNetEncoderFeatures(bb.unet, bb.scheduler, settings.disc_taps)
    torch.manual_seed(0)
    disc = Discriminators(features.channels(), bb.text_encoder.config.hidden_size)
    opt = torch.optim.AdamW(disc.parameters(), lr=1e-4, betas=(0.0, 0.999))
    gen = torch.Generator().manual_seed(0)
    fakes = lambda part: torch.stack([f for _, f in part])  # noqa: E731

    def held_out():
        return fdd.measure(model, features, disc, [i for i, _ in held], fakes(held), settings)

    before = held_out()
    for _ in range(40):
        idx = torch.randperm(len(train), generator=gen)[: settings.d_batch].tolist()
        pairs = fdd.pairs_from_items(model, [train[i][0] for i in idx], fakes([train[i] for i in idx]))
        d = fdd.discriminator_losses(features, disc, pairs, settings, gen)
        (0.5 * d["d_e"] + 0.5 * d["d_v"]).backward()
        opt.step(), opt.zero_grad()
    after = held_out()
    # the default view reaches 1.0 on both; the first students' view (taps after the downsamplers,
    # t_D up to 750, independent noise) 0.80 / 0.75
    assert after["auc_e"] > 0.9 and after["auc_v"] > 0.9, (before, after)
    assert after["margin_e"] > before["margin_e"] and after["margin_v"] > before["margin_v"]


def test_sharpness_study_sees_blur():
    """reference.studies.sharpness: what the discriminators' cue is measured by at inference."""
    import cv2

    from reference.studies.sharpness import high_frequency

    frames = np.random.default_rng(0).integers(0, 255, (3, 32, 32, 3), dtype=np.uint8)
    blurred = np.stack([cv2.GaussianBlur(f, (5, 5), 1.0) for f in frames])
    assert high_frequency(blurred) < 0.5 * high_frequency(frames)
    assert high_frequency(np.full_like(frames, 128)) == 0.0


@pytest.mark.parametrize("draw", [{}, {"seed": 1}])
def test_sharpness_study_pairs_runs_against_the_ground_truth(tmp_path, draw):
    """`measure` on two synth run folders: the ground truth itself (ratio about 1) and the same
    frames blurred (less energy, blurrier than the truth and than the first run on every sample),
    on the default draw and on the tuning draw (whose sample keys are the default's)."""
    import cv2

    from eve_bench.run.folder import RunFolder
    from eve_bench.suites import load_suite
    from eve_bench.video import Video, write_frames_dir
    from reference.studies.sharpness import measure

    suite = load_suite("synth", None, **draw)
    samples = suite.samples[:3]
    runs = [tmp_path / "truth", tmp_path / "blurred"]
    for run in runs:
        run.mkdir()
        (run / "summary.json").write_text(json.dumps({"suite": "synth", "suite_info": suite.info, "suite_args": draw}))
    for sample in samples:
        truth = sample.load_ground_truth()
        blurred = np.stack([cv2.GaussianBlur(f, (5, 5), 1.5) for f in truth.frames])
        write_frames_dir(truth, RunFolder(runs[0]).frames(sample), quality=100)
        write_frames_dir(Video(frames=blurred, fps=truth.fps), RunFolder(runs[1]).frames(sample), quality=100)
    result = measure(runs)
    truth_row, blurred_row = result["rows"]
    assert result["samples"] == 3
    assert 0.8 < truth_row["energy_vs_truth"] < 1.25 and truth_row["sharper_than_truth"] is None
    assert blurred_row["energy_vs_truth"] < 0.5 * truth_row["energy_vs_truth"]
    assert blurred_row["blurrier_than_truth"] == 1.0 and blurred_row["sharper_than_truth"] == 0.0
