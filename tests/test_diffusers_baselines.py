"""The diffusers baselines on tiny random weights saved in each pipeline's public format: each named
baseline runs through `eve-bench run` on a 2-sample TGVE-shaped input, returns the source's frame
count and size, and is a deterministic function of its seed; missing or pickled weights are refused
at once with what to do."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

import diffusers_tiny
from eve_bench.cli import main
from eve_bench.errors import ModelNotReadyError
from eve_bench.models import EditRequest, load_model
from eve_bench.video import Video, read_video
from fixtures import make_tgve_zip_layout, moving_square_video

FAST = {"num_inference_steps": 2, "resolution": 32}  # tiny weights: 2 steps at 32 px


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("diffusers_weights")
    diffusers_tiny.save_instruct_pix2pix(root / "ip2p")
    diffusers_tiny.save_sd15_and_motion_adapter(root)
    diffusers_tiny.save_wan_v2v(root / "wan")
    diffusers_tiny.save_lucy_edit(root / "lucy")
    return root


def _args(**kw) -> str:
    return ",".join(f"{k}={v}" for k, v in {**FAST, **kw}.items())


BASELINES = {
    "instruct_pix2pix": lambda w: {"path": w / "ip2p"},
    # window 4 / overlap 1 over 6 frames: two windows, the second anchored on the first
    "animatediff_sdedit": lambda w: {"path": w / "sd15", "motion_adapter": w / "motion_adapter", "window": 4, "overlap": 1},
    "wan_sdedit": lambda w: {"path": w / "wan", "max_sequence_length": 16},  # 6 frames padded to 4k + 1 = 9
    "lucy_edit": lambda w: {"path": w / "lucy", "max_sequence_length": 16, "window": 5, "overlap": 2},
}


@pytest.fixture
def tgve(tmp_path) -> Path:
    root = make_tgve_zip_layout(tmp_path / "tgve", {"DAVIS_480p": ["alpha", "beta"]})
    (root / "loveu_tgve_edit_prompt_dict.json").write_text(json.dumps(
        {v: {f"edit_{t}": f"make the {v} {t}" for t in ("style", "object", "background", "multiple")} for v in ("alpha", "beta")}))
    return root


def _request(seed: int, frames: int = 6) -> EditRequest:
    return EditRequest(video=moving_square_video(3, frames=frames, size=40), instruction="make it red",
                       source_caption="a square", target_caption="a red square", task="style", seed=seed)


@pytest.mark.parametrize("name", list(BASELINES))
def test_baseline_runs_through_eve_bench_run_and_honours_its_seed(name, weights, tgve, tmp_path):
    args = BASELINES[name](weights)
    t0 = time.perf_counter()
    rc = main(["run", "--model", name, "--model-args", _args(**args), "--suite", "tgve", "--data", str(tgve),
               "--tasks", "style", "--metrics", "source_mae", "--out", str(tmp_path / "run"), "--quiet"])
    assert rc == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n_ok"] == 2 and summary["n_failed"] == 0
    for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines():
        record = json.loads(line)
        out = read_video(tmp_path / "run" / record["output"])
        assert out.frames.shape == (6, 32, 32, 3)  # the TGVE-shaped source: 6 frames of 32 x 32
    assert time.perf_counter() - t0 < 30

    # not square, not a multiple of the model's size step: resized to its working size and back
    model = load_model(name, {**FAST, **{k: str(v) if isinstance(v, Path) else v for k, v in args.items()}})
    a, b, c = (model.edit(_request(seed)).frames for seed in (5, 5, 6))
    assert a.shape == (6, 40, 40, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b), "same seed, same output"
    assert not np.array_equal(a, c), "another seed, another output"


def test_missing_weights_name_the_hub_id_and_the_download_command_at_once():
    t0 = time.perf_counter()
    with pytest.raises(ModelNotReadyError) as err:
        load_model("animatediff_sdedit", {})
    assert time.perf_counter() - t0 < 1.0
    message = str(err.value)
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5" in message and "guoyww/animatediff-motion-adapter-v1-5-2" in message
    assert 'hf download guoyww/animatediff-motion-adapter-v1-5-2 --exclude "*.bin"' in message
    assert 'hf download stable-diffusion-v1-5/stable-diffusion-v1-5 --include "model_index.json"' in message
    with pytest.raises(ModelNotReadyError, match="no such folder"):
        load_model("diffusers", {"path": "/nonexistent/pipeline"})


def test_missing_weights_stop_the_cli_with_one_line_and_exit_2(tgve, tmp_path, capsys):
    rc = main(["run", "--model", "wan_sdedit", "--suite", "tgve", "--data", str(tgve), "--limit", "1",
               "--metrics", "source_mae", "--out", str(tmp_path / "run"), "--quiet"])
    assert rc == 2
    assert "hf download Wan-AI/Wan2.1-T2V-1.3B-Diffusers" in capsys.readouterr().err


def test_hub_cache_is_read_offline(weights, tmp_path, monkeypatch):
    """A hub id resolves to its snapshot in the local cache, without the network."""
    import shutil

    cache = tmp_path / "hub"
    snapshot = cache / "models--timbrooks--instruct-pix2pix" / "snapshots" / ("0" * 40)
    shutil.copytree(weights / "ip2p", snapshot)
    (cache / "models--timbrooks--instruct-pix2pix" / "refs").mkdir()
    (cache / "models--timbrooks--instruct-pix2pix" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(cache))
    model = load_model("instruct_pix2pix", {**FAST, "frame_batch": 3})
    assert model.edit(_request(0)).frames.shape == (6, 40, 40, 3)


def test_pickled_weights_are_refused_with_how_to_convert(weights, tmp_path):
    import shutil

    folder = shutil.copytree(weights / "ip2p", tmp_path / "ip2p")
    for f in (folder / "unet").glob("*.safetensors"):
        f.rename(f.with_name("diffusion_pytorch_model.bin"))
    with pytest.raises(ModelNotReadyError, match=r"only pickled weights.*save_pretrained"):
        load_model("diffusers", {"path": str(folder)})


def test_the_class_comes_from_model_index_and_unknown_pipelines_are_named(weights, tmp_path):
    model = load_model("diffusers", {"path": str(weights / "ip2p"), **FAST})
    assert model.name == "StableDiffusionInstructPix2PixPipeline"
    ad = load_model("diffusers", {"path": str(weights / "sd15"), "pipeline": "AnimateDiffVideoToVideoPipeline",
                                  "motion_adapter": str(weights / "motion_adapter"), **FAST})
    ad.pipe.save_pretrained(tmp_path / "animatediff")  # a whole AnimateDiff pipeline: its motion_adapter/ inside
    again = load_model("diffusers", {"path": str(tmp_path / "animatediff"), **FAST})
    assert again.name == "AnimateDiffVideoToVideoPipeline"
    assert np.array_equal(again.edit(_request(1, frames=3)).frames, ad.edit(_request(1, frames=3)).frames)
    with pytest.raises(ValueError, match="motion_adapter: not a component of StableDiffusionInstructPix2PixPipeline"):
        load_model("diffusers", {"path": str(weights / "ip2p"), "motion_adapter": str(weights / "motion_adapter")})
    with pytest.raises(ValueError, match=r"StableDiffusionPipeline is not one the adapter knows.*AnimateDiffVideoToVideoPipeline"):
        load_model("diffusers", {"path": str(weights / "sd15")})


def test_call_arguments_pass_through_and_impossible_settings_are_clear(weights):
    ip2p = {"path": str(weights / "ip2p"), **FAST}
    model = load_model("diffusers", {**ip2p, "image_guidance_scale": 1.0, "guidance_scale": 3.0})
    assert model.call_args == {"num_inference_steps": 2, "guidance_scale": 3.0, "image_guidance_scale": 1.0}
    with pytest.raises(ValueError, match="takes no argument strength"):
        load_model("diffusers", {**ip2p, "strength": 0.5})
    with pytest.raises(ValueError, match="set by the adapter"):
        load_model("diffusers", {**ip2p, "prompt": "x"})
    with pytest.raises(ValueError, match=r"height=33 is impossible.*multiples of 2"):  # the tiny VAE downsamples 2x
        load_model("diffusers", {**ip2p, "height": 33, "width": 32})
    ad = {"path": str(weights / "sd15"), "pipeline": "AnimateDiffVideoToVideoPipeline",
          "motion_adapter": str(weights / "motion_adapter"), **FAST}
    with pytest.raises(ValueError, match=r"window=40 is impossible.*at most 32 frames"):
        load_model("diffusers", {**ad, "window": 40})
    with pytest.raises(ValueError, match="overlap < window"):
        load_model("diffusers", {**ad, "window": 4, "overlap": 4})
    with pytest.raises(ValueError, match="needs motion_adapter="):
        load_model("diffusers", {**{k: v for k, v in ad.items() if k != "motion_adapter"}})
    wan = load_model("wan_sdedit", {"path": str(weights / "wan"), **FAST, "height": 48, "width": 64})
    assert wan.multiple == 16 and wan.working_size(480, 854) == (48, 64)


def test_memory_options(weights):
    ip2p = {"path": str(weights / "ip2p"), **FAST}
    model = load_model("diffusers", {**ip2p, "vae_slicing": True, "vae_tiling": True, "attention_slicing": True})
    assert model.pipe.vae.use_slicing and model.pipe.vae.use_tiling
    assert model.edit(_request(0, frames=3)).frames.shape == (3, 40, 40, 3)
    with pytest.raises(ValueError, match="needs an accelerator"):
        load_model("diffusers", {**ip2p, "cpu_offload": "model"})


def test_instruction_models_refuse_a_sample_without_an_instruction(weights):
    model = load_model("instruct_pix2pix", {"path": str(weights / "ip2p"), **FAST})
    request = EditRequest(video=Video(np.zeros((2, 32, 32, 3), np.uint8)), instruction=None,
                          source_caption="a", target_caption="b", task="style", seed=0)
    with pytest.raises(ValueError, match="needs the sample's instruction.*loveu_tgve_edit_prompt_dict.json"):
        model.edit(request)


def test_windows_join_crossfades_and_padding_keeps_whole_latent_frames():
    from eve_bench.models.windows import join, pad_to_step, windows

    assert windows(6, 4, 1) == [(0, 4), (3, 6)]
    ones, zeros = np.ones((4, 1, 1, 1)), np.zeros((3, 1, 1, 1))
    joined = join([(0, 4, ones), (3, 6, zeros)], 6)[:, 0, 0, 0]
    assert np.allclose(joined, [1, 1, 1, 0.5, 0, 0])
    assert [pad_to_step(n, 4) for n in (1, 2, 5, 6, 9)] == [1, 5, 5, 9, 9] and pad_to_step(7, 1) == 7
