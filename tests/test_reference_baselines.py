"""Reference baselines and the EVE entry as eve-bench models, on a tiny random checkpoint."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from eve_bench.errors import ModelNotReadyError
from eve_bench.models import load_model
from eve_bench.models.base import EditRequest
from eve_bench.video import Video
from reference import weights as weights_mod
from reference.checkpoint import EVEModel

torch.set_num_threads(1)
SPECS = ["reference.baselines:per_frame_edit", "reference.baselines:video_sdedit", "reference.baselines:plug_and_play"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny_eve")
    model = EVEModel.from_preset("tiny", seed=0)
    torch.manual_seed(5)
    with torch.no_grad():  # non-trivial adapters, so both adapters influence the result
        for m in (model.edit_adapter, model.video_adapter):
            for p in m.parameters():
                p.add_(0.02 * torch.randn_like(p))
    model.save_pretrained(d)
    return d


def _request(seed=0, frames=6, h=20, w=28):
    rng = np.random.default_rng(0)
    video = Video(frames=rng.integers(0, 256, (frames, h, w, 3), dtype=np.uint8), fps=8.0)
    return EditRequest(video=video, instruction="make the square blue", source_caption="a red square",
                       target_caption="a blue square", task="texture", seed=seed)


@pytest.mark.parametrize("spec", SPECS)
def test_baseline_edit_shape_and_determinism(spec, ckpt):
    model = load_model(spec, {"weights": str(ckpt), "steps": 3}, device="cpu")
    req = _request(seed=7)  # 6 frames > the tiny window of 4: exercises windowing
    out = model.edit(req)
    assert isinstance(out, Video)
    assert out.frames.shape == req.video.frames.shape and out.frames.dtype == np.uint8
    assert out.fps == req.video.fps
    again = model.edit(req)
    assert np.array_equal(out.frames, again.frames)
    other = model.edit(_request(seed=8))
    assert not np.array_equal(out.frames, other.frames)


def test_baseline_args(ckpt):
    m = load_model("reference.baselines:video_sdedit", {"weights": str(ckpt)}, device="cpu")
    assert m.strength == 0.75 and m.device.type == "cpu"
    m = load_model("reference.baselines:video_sdedit", {"weights": str(ckpt), "strength": 0.5, "steps": 4,
                                                        "guidance_scale": 3.0}, device="cpu")
    assert (m.strength, m.steps, m.guidance_scale) == (0.5, 4, 3.0)
    out = m.edit(_request(frames=2, h=32, w=32))
    assert out.frames.shape == (2, 32, 32, 3)
    with pytest.raises(ValueError):
        load_model("reference.baselines:video_sdedit", {"weights": str(ckpt), "strength": 0.0}, device="cpu")


def test_first_frame_steps_change_only_the_first_frame_edit(ckpt):
    """plug-and-play (and the student) follow the edit adapter's first frame; `first_frame_steps`
    samples that edit with its own step count (default: `steps`)."""
    args = {"weights": str(ckpt), "steps": 3}
    default = load_model("plug_and_play", args, device="cpu")
    assert default.first_frame_steps == 3
    same = load_model("plug_and_play", {**args, "first_frame_steps": 3}, device="cpu").edit(_request(seed=7)).frames
    other = load_model("plug_and_play", {**args, "first_frame_steps": 6}, device="cpu").edit(_request(seed=7)).frames
    assert np.array_equal(default.edit(_request(seed=7)).frames, same)
    assert not np.array_equal(same[0], other[0])


def test_checkpoint_sampling_settings_are_the_defaults(ckpt, tmp_path):
    from reference.checkpoint import EVEConfig

    tuned = tmp_path / "tuned"
    shutil.copytree(ckpt, tuned)
    config = EVEConfig.load(tuned)
    config.sampling = {"image_guidance_scale": 3.0, "steps": 7, "plug_and_play": {"first_frame_steps": 12}}
    config.save(tuned)
    m = load_model("reference.baselines:per_frame_edit", {"weights": str(tuned)}, device="cpu")
    assert (m.image_guidance_scale, m.steps, m.guidance_scale, m.first_frame_steps) == (3.0, 7, 5.0, 7)
    m = load_model("reference.baselines:plug_and_play", {"weights": str(tuned)}, device="cpu")
    assert (m.steps, m.first_frame_steps) == (7, 12)
    m = load_model("reference.baselines:per_frame_edit", {"weights": str(tuned), "image_guidance_scale": 2}, device="cpu")
    assert m.image_guidance_scale == 2.0
    # a baseline's own entry wins over the flat keys, for that baseline alone
    config.sampling = {"guidance_scale": 4.0, "per_frame_edit": {"guidance_scale": 2.0}}
    config.save(tuned)
    m = load_model("reference.baselines:per_frame_edit", {"weights": str(tuned)}, device="cpu")
    assert (m.guidance_scale, m.image_guidance_scale) == (2.0, 1.5)
    assert load_model("reference.baselines:video_sdedit", {"weights": str(tuned)}, device="cpu").guidance_scale == 4.0
    assert load_model("reference.baselines:plug_and_play", {"weights": str(tuned)}, device="cpu").guidance_scale == 4.0
    for bad, match in (({"cfg": 3.0}, "unknown key.*cfg"), ({"plug_and_play": {"cfg": 3.0}}, "unknown key.*cfg"),
                       ({"video_sdedit": 3.0}, "'video_sdedit' must hold settings")):
        config.sampling = bad
        config.save(tuned)
        with pytest.raises(ValueError, match=match):
            load_model("reference.baselines:per_frame_edit", {"weights": str(tuned)}, device="cpu")


def test_missing_weights_raise_clear_errors(tmp_path, monkeypatch):
    monkeypatch.delenv(weights_mod.ENV_VAR, raising=False)
    monkeypatch.setattr(weights_mod, "SHIPPED_DIR", tmp_path / "nothing_shipped")
    for spec in SPECS:
        with pytest.raises(ModelNotReadyError, match="weights=") as e:
            load_model(spec, {}, device="cpu")
        assert "train_backbone" in str(e.value)
    with pytest.raises(ModelNotReadyError, match="eve_config.json"):
        load_model(SPECS[0], {"weights": str(tmp_path)}, device="cpu")


def test_missing_adapter_names_the_training_command(ckpt, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(ckpt, partial)
    shutil.rmtree(partial / "edit_adapter")
    with pytest.raises(ModelNotReadyError, match="train_edit_adapter"):
        load_model("reference.baselines:plug_and_play", {"weights": str(partial)}, device="cpu")
    # the video-only baseline still works without the edit adapter
    out = load_model("reference.baselines:video_sdedit", {"weights": str(partial), "steps": 2}, device="cpu").edit(_request(frames=2))
    assert out.frames.shape == (2, 20, 28, 3)


def test_eve_student_not_ready(ckpt):
    with pytest.raises(ModelNotReadyError, match="no trained student align/.*reference.train_fdd"):
        load_model("reference.eve", {"weights": str(ckpt)}, device="cpu")


def test_pixel_conditioned_sd15_format_checkpoint(tmp_path):
    """per_frame_edit and plug_and_play on tiny weights in the public ControlNet / MotionAdapter formats."""
    from reference.checkpoint import write_sd15_config
    from reference_fixtures import write_sd15_format_dirs

    write_sd15_format_dirs(tmp_path)
    write_sd15_config(tmp_path / "eve", str(tmp_path / "sd15"), str(tmp_path / "control_v11e_ip2p"),
                      str(tmp_path / "motion_adapter"))
    for spec in (SPECS[0], SPECS[2]):
        out = load_model(spec, {"weights": str(tmp_path / "eve"), "steps": 2}, device="cpu").edit(_request(frames=3))
        assert out.frames.shape == (3, 20, 28, 3)


@pytest.mark.parametrize("spec", SPECS)
def test_shipped_synth_weights_are_the_default(spec, monkeypatch):
    """With no weights= and no environment variable, the shipped synth checkpoint is loaded in one
    dtype and edits a short clip (2 DDIM steps: a smoke test, not a quality check)."""
    monkeypatch.delenv(weights_mod.ENV_VAR, raising=False)
    assert (weights_mod.SHIPPED_DIR / "synth" / "eve_config.json").is_file()
    editor = load_model(spec, {"steps": 2}, device="cpu")
    assert editor.weights == str(weights_mod.SHIPPED_DIR / "synth")
    assert {p.dtype for p in editor.model.backbone.unet.parameters()} == {torch.float32}
    frames = np.random.default_rng(0).integers(0, 255, (3, 40, 48, 3), dtype=np.uint8)
    out = editor.edit(EditRequest(video=Video(frames=frames, fps=8), instruction="Paint the circle red",
                                  source_caption="a green circle", target_caption="a red circle",
                                  task="object", seed=0))
    assert out.frames.shape == frames.shape and out.frames.dtype == np.uint8


def test_baselines_have_short_names(capsys):
    from eve_bench.cli import main
    from eve_bench.models import resolve_factory
    from reference import baselines

    for name in ("per_frame_edit", "video_sdedit", "plug_and_play"):
        assert resolve_factory(name) is getattr(baselines, name)
    main(["list", "models"])
    listed = capsys.readouterr().out.split()
    assert {"identity", "per_frame_edit", "video_sdedit", "plug_and_play"} <= set(listed)


@pytest.mark.parametrize("conditioned", [True, False])
def test_windows_chain_through_the_first_frame(ckpt, conditioned):
    """A first-frame-conditioned adapter continues each window from the previous window's last
    frame (no seam); an unconditioned one runs independent windows."""
    editor = load_model("reference.baselines:video_sdedit", {"weights": str(ckpt)}, device="cpu")
    editor.model.config.first_frame_conditioning = conditioned
    window = editor.model.config.num_frames  # 4 in the tiny preset
    calls = []

    def fake_window(start, end, first):
        calls.append((start, end, first))
        return torch.arange(start, end, dtype=torch.float32).view(1, 1, end - start, 1, 1)

    out = editor._windowed(10, None, fake_window)
    assert out.flatten().tolist() == list(range(10))  # every frame once, in order
    if conditioned:
        assert [(s, e) for s, e, _ in calls] == [(0, 4), (3, 7), (6, 10)]
        assert calls[0][2] is None and [c[2].item() for c in calls[1:]] == [3, 6]
    else:
        assert [(s, e) for s, e, _ in calls] == [(0, window), (4, 8), (8, 10)]
        assert all(first is None for _, _, first in calls)


def test_shipped_student_is_applied_and_deterministic(monkeypatch):
    """The shipped EVE student (reference/weights/synth/align) really changes plug-and-play's
    edit, and gives the same frames for the same seed."""
    monkeypatch.delenv(weights_mod.ENV_VAR, raising=False)
    if not (weights_mod.SHIPPED_DIR / "synth" / "align" / "pytorch_lora_weights.safetensors").is_file():
        pytest.skip("no student shipped in reference/weights/synth/align")
    frames = np.random.default_rng(1).integers(0, 255, (3, 64, 64, 3), dtype=np.uint8)
    request = EditRequest(video=Video(frames=frames, fps=8), instruction="Paint the circle red",
                          source_caption="a green circle", target_caption="a red circle", task="object", seed=0)
    eve = load_model("eve", {"steps": 3}, device="cpu")
    out = eve.edit(request).frames
    assert np.array_equal(out, eve.edit(request).frames)
    pnp = load_model("plug_and_play", {"steps": 3}, device="cpu").edit(request).frames
    assert np.abs(out.astype(int) - pnp.astype(int)).mean() > 0.5
