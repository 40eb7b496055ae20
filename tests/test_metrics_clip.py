"""CLIP-family metrics: parity with the official TGVE formulas, weights loading, embedding cache.

The references below are written the plain way showlab/loveu-tgve-2023 `scripts/run_eval.py`
does it: one video at a time, frames read from JPEGs with PIL and resized to 480x480 with PIL's
default filter, the processor called on the list of PIL images. The models are tiny random-init
CLIPs saved in the real Hugging Face format (tests/tiny_models.py).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from eve_bench.encoders.cache import EmbeddingCache
from eve_bench.encoders.clip import PROCESSOR_SUFFIXES
from eve_bench.encoders.local_weights import weights_id
from eve_bench.errors import MissingWeightsError
from eve_bench.metrics import with_family_args
from eve_bench.metrics.base import MetricInput, MetricOptions
from eve_bench.metrics.clip import ClipDirection, ClipFrame, ClipFrameConsecutive, ClipText, PickScore
from eve_bench.sample import Sample
from eve_bench.video import Video, write_frames_dir

from tiny_models import save_clip_processor, save_tiny_clip  # tests/ is on sys.path under pytest

TOL = 1e-5


# ---------------------------------------------------------------------------------------------
# Fixtures: tiny weights on disk, options, samples


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    return {
        "clip": save_tiny_clip(root / "clip"),
        # PickScore_v1 ships no processor: its processor comes from another repo, whose files
        # (preprocessor_config.json, tokenizer.json) are laid out as on the hub.
        "pick": save_tiny_clip(root / "pick", seed=1, with_processor=False),
        "pick_processor": save_clip_processor(root / "pick_processor", hub_layout=True),
    }


@pytest.fixture
def options(weights, tmp_path):
    return MetricOptions(
        metric_args=clip_args(str(weights["clip"]), str(weights["pick"]), str(weights["pick_processor"])),
        batch_size=4,
        embedding_cache=EmbeddingCache(tmp_path / "cache"),
    )


def clip_args(clip=None, pick=None, pick_processor=None) -> dict:
    """Per-metric args as the family flags --clip-model, --pickscore-model, --pickscore-processor set them."""
    return with_family_args({}, {"clip.model": clip, "pickscore.model": pick, "pickscore.processor": pick_processor})


def _sample(i: int, source: Video, source_caption: str, target_caption: str) -> Sample:
    return Sample(video_id=f"v{i}", group="g", task="style", instruction=None,
                  source_caption=source_caption, target_caption=target_caption,
                  load_source=lambda: source)


def _via_jpeg(frames: np.ndarray, folder: Path) -> tuple[np.ndarray, list[Path]]:
    """Frames as the harness sees a submission: written as JPEGs, decoded with PIL."""
    write_frames_dir(Video(frames), folder)
    files = sorted(folder.glob("*.jpg"))
    return np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files]), files


def _smooth_clip(rng, t: int, h: int, w: int) -> np.ndarray:
    """A moving colour gradient plus noise: frames alike but not equal, as in a real video."""
    y, x = np.mgrid[0:h, 0:w]
    frames = []
    for k in range(t):
        base = np.stack([(x + 7 * k) % 256, (y + 3 * k) % 256, (x + y) // 2 % 256], -1)
        frames.append(np.clip(base + rng.normal(0, 12, base.shape), 0, 255))
    return np.stack(frames).astype(np.uint8)


@pytest.fixture
def generated(tmp_path):
    """Three edits of different frame counts and sizes (none 480, so the resize runs)."""
    rng = np.random.default_rng(0)
    captions = [("a red car drives on a road", "a red car drives on a road, van gogh style"),
                ("a cat sits in the sun", "a tiger sits in the sun"),
                ("waves at a beach", "waves at a beach at night, with fireworks in the sky")]
    cases = []
    for i, (t, h, w) in enumerate([(5, 96, 128), (3, 200, 150), (4, 480, 480)]):
        source = Video(_smooth_clip(rng, t, h, w))
        edited, files = _via_jpeg(_smooth_clip(rng, t, h, w)[:, ::-1].copy(), tmp_path / f"edit{i}")
        cases.append((MetricInput(_sample(i, source, *captions[i]), Video(edited), source), files))
    return cases


# ---------------------------------------------------------------------------------------------
# The official formulas, one video at a time


def _official_frames(files) -> list[Image.Image]:
    return [Image.open(f).resize((480, 480)) for f in files]


def _pil_frames(frames: np.ndarray) -> list[Image.Image]:
    return [Image.fromarray(f).resize((480, 480)) for f in frames]


def _processor(directory):
    # The official script ran the PIL-based image processor (the torchvision one came later).
    from transformers import CLIPImageProcessorPil, CLIPProcessor, CLIPTokenizer

    return CLIPProcessor(image_processor=CLIPImageProcessorPil.from_pretrained(directory),
                         tokenizer=CLIPTokenizer.from_pretrained(directory))


def _features(out) -> torch.Tensor:
    return getattr(out, "pooler_output", out)


class Official:
    def __init__(self, model_dir, processor_dir=None):
        from transformers import CLIPModel

        self.model = CLIPModel.from_pretrained(model_dir).eval()
        self.processor = _processor(processor_dir or model_dir)

    @torch.no_grad()
    def image_features(self, frames):
        inputs = self.processor(images=frames, return_tensors="pt")
        return _features(self.model.get_image_features(**inputs))

    @torch.no_grad()
    def clip_score_text(self, frames, prompt):
        inputs = self.processor(text=[prompt], images=frames, return_tensors="pt", padding=True)
        return self.model(**inputs).logits_per_image.mean().item()

    def clip_score_frame(self, frames):
        f = self.image_features(frames).numpy()
        f = f / np.linalg.norm(f, axis=1, keepdims=True)
        sims = f @ f.T
        np.fill_diagonal(sims, 0)
        return sims.sum() / (len(frames) * (len(frames) - 1))

    def consecutive(self, frames):
        f = self.image_features(frames)
        return torch.nn.functional.cosine_similarity(f[1:], f[:-1]).mean().item()

    @torch.no_grad()
    def pick_score(self, frames, prompt):
        images = self.processor(images=frames, return_tensors="pt")
        text = self.processor(text=prompt, padding=True, truncation=True, max_length=77, return_tensors="pt")
        image_embs = _features(self.model.get_image_features(**images))
        image_embs = image_embs / torch.norm(image_embs, dim=-1, keepdim=True)
        text_embs = _features(self.model.get_text_features(**text))
        text_embs = text_embs / torch.norm(text_embs, dim=-1, keepdim=True)
        return (self.model.logit_scale.exp() * (text_embs @ image_embs.T)[0]).mean().item()

    @torch.no_grad()
    def clip_dir(self, edited, source, target_caption, source_caption):
        """InstructPix2Pix ClipSimilarity.sim_direction per frame, with the TGVE preprocessing."""
        unit = lambda x: x / x.norm(dim=1, keepdim=True)  # noqa: E731
        e1, e0 = unit(self.image_features(edited)), unit(self.image_features(source))
        tokens = self.processor(text=[source_caption, target_caption], padding=True, truncation=True,
                                max_length=77, return_tensors="pt")
        t0, t1 = unit(_features(self.model.get_text_features(**tokens)))
        return torch.nn.functional.cosine_similarity(e1 - e0, (t1 - t0)[None]).mean().item()


# ---------------------------------------------------------------------------------------------
# Parity


ALL_METRICS = (ClipText, ClipFrame, ClipFrameConsecutive, PickScore, ClipDirection)


def _assert_parity(cases, options, weights) -> dict:
    """Each metric, computed batched over all `cases` (item, its JPEG files), against the per-video
    reference; returns the reference values."""
    clip, pick = Official(weights["clip"]), Official(weights["pick"], weights["pick_processor"])
    expected = {name: [] for name in (cls.name for cls in ALL_METRICS)}
    for item, files in cases:
        frames, prompt = _official_frames(files), item.sample.target_caption
        expected["clip_text"].append(clip.clip_score_text(frames, prompt))
        expected["clip_frame"].append(clip.clip_score_frame(frames))
        expected["clip_frame_consecutive"].append(clip.consecutive(frames))
        expected["pick_score"].append(pick.pick_score(frames, prompt))
        expected["clip_dir"].append(clip.clip_dir(frames, _pil_frames(item.source.frames), prompt,
                                                  item.sample.source_caption))
    items = [item for item, _ in cases]
    for cls in ALL_METRICS:
        assert cls(options).compute(items) == pytest.approx(expected[cls.name], abs=TOL), cls.name
    return expected


def test_parity_on_generated_clips(generated, options, weights):
    expected = _assert_parity(generated, options, weights)
    # Different weights and preprocessing really give different numbers (the test is not vacuous).
    assert expected["clip_text"] != pytest.approx(expected["pick_score"], abs=1e-3)


def test_parity_on_real_tgve_clips(shared_tgve, options, weights, tmp_path):
    import decord
    import yaml

    cases = []
    for i, video in enumerate(["DAVIS_480p/gold-fish", "videvo_480p/cat-in-the-sun",
                               "youtube_480p/audi-snow-trail"]):
        group, name = video.split("/")
        path = shared_tgve / "loveu-tgve-2023" / group / "480p_videos" / f"{name}.mp4"
        reader = decord.VideoReader(str(path))
        source = reader.get_batch([0, 2, 4, 6]).asnumpy()
        config = yaml.safe_load((shared_tgve / "configs" / group / f"{name}.yaml").read_text())
        sample = _sample(i, Video(source), config["train_data"]["prompt"],
                         config["validation_data"]["prompts"]["multiple"])
        # A stand-in edit: the clip reversed in time and through JPEG, as submissions arrive.
        edited, files = _via_jpeg(source[::-1].copy(), tmp_path / name)
        cases.append((MetricInput(sample, Video(edited), Video(source)), files))
    _assert_parity(cases, options, weights)


# ---------------------------------------------------------------------------------------------
# Edge cases


def test_clip_dir_of_an_unchanged_video_is_zero(generated, options):
    item = generated[0][0]
    unchanged = MetricInput(item.sample, item.source, item.source)
    assert ClipDirection(options).compute([unchanged]) == [0.0]
    short = MetricInput(item.sample, Video(item.edited.frames[:2]), item.source)
    with pytest.raises(ValueError, match="frame by frame"):
        ClipDirection(options).compute([short])


def test_no_items_give_no_values(options):
    assert all(cls(options).compute([]) == [] for cls in ALL_METRICS)


def test_frame_consistency_of_a_single_frame_is_nan(generated, options):
    item = generated[0][0]
    single = MetricInput(item.sample, Video(item.edited.frames[:1]), item.source)
    assert np.isnan(ClipFrame(options).compute([single])[0])
    assert np.isnan(ClipFrameConsecutive(options).compute([single])[0])


def test_cache_id_names_the_weights_by_content(options):
    assert weights_id(options.metric_args["clip_text"]["model"]) in ClipText(options).cache_id
    processor = weights_id(options.metric_args["pick_score"]["processor"], PROCESSOR_SUFFIXES)
    assert PickScore(options).cache_id.endswith(f"|{processor}|tgve480")
    # Weights absent here are named as asked (such a metric is skipped, so it stores no value).
    assert "openai/clip-vit-large-patch14" in ClipFrame(MetricOptions()).cache_id
    assert "pickapic-anonymous/PickScore_v1" in PickScore(MetricOptions()).cache_id
    assert ClipText.weights == "openai/clip-vit-large-patch14"


# ---------------------------------------------------------------------------------------------
# Embedding cache


def test_rescoring_hits_the_embedding_cache(generated, options):
    items = [item for item, _ in generated]
    first = ClipText(options)
    values = first.compute(items)
    encoder = first.encoder
    calls = encoder.encoder_calls
    assert calls > 0
    # A new metric instance and another metric on the same frames: no forward pass at all.
    assert ClipText(options).compute(items) == values
    ClipFrame(options).compute(items)
    assert encoder.encoder_calls == calls
    # The cache lives on disk: a freshly loaded encoder reads it back too.
    fresh = ClipText(MetricOptions(metric_args=options.metric_args, batch_size=3, embedding_cache=options.embedding_cache))
    assert fresh.compute(items) == values
    assert fresh.encoder is not encoder and fresh.encoder.encoder_calls == 0


# ---------------------------------------------------------------------------------------------
# Missing weights


def _offline(script: str, hf_home: Path) -> dict:
    """Run `script` (which prints a JSON line) in a fresh process, offline, with this HF_HOME:
    huggingface_hub reads its cache location once, at import."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(hf_home), "OMP_NUM_THREADS": "1"}
    env.pop("HF_HUB_CACHE", None)
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_missing_weights_fail_fast_offline_with_an_empty_hf_home(tmp_path):
    out = _offline("""
        import json, time
        from eve_bench.errors import MissingWeightsError
        from eve_bench.metrics.base import MetricOptions
        from eve_bench.metrics.clip import ClipDirection, ClipText, PickScore
        out = {}
        for cls in (ClipText, ClipDirection, PickScore):
            start = time.perf_counter()
            try:
                cls(MetricOptions()).prepare()
            except MissingWeightsError as e:
                out[cls.name] = [time.perf_counter() - start, str(e)]
        print(json.dumps(out))
    """, tmp_path / "empty-hf-home")
    expected = {"clip_text": ("openai/clip-vit-large-patch14", "--clip-model"),
                "clip_dir": ("openai/clip-vit-large-patch14", "--clip-model"),
                "pick_score": ("pickapic-anonymous/PickScore_v1", "--pickscore-model")}
    assert set(out) == set(expected)
    for name, (hub_id, flag) in expected.items():
        seconds, message = out[name]
        assert seconds < 2, (name, seconds)
        assert hub_id in message and flag in message
        assert f"huggingface-cli download {hub_id}" in message and "HF_HUB_OFFLINE=1" in message


def test_hub_ids_resolve_from_the_local_cache_only(weights, options, tmp_path, monkeypatch):
    from huggingface_hub import constants

    snapshot = tmp_path / "hub" / "models--tiny-org--tiny-clip" / "snapshots" / ("0" * 40)
    shutil.copytree(weights["clip"], snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    metric = ClipText(MetricOptions(metric_args=clip_args("tiny-org/tiny-clip"), embedding_cache=options.embedding_cache))
    metric.prepare()
    assert weights_id(snapshot) in metric.encoder.image_id and weights_id(snapshot) in metric.cache_id


def test_missing_or_incomplete_directories_name_their_flag(options, tmp_path):
    missing = MetricOptions(metric_args=clip_args(str(tmp_path / "no-such-dir")))
    with pytest.raises(MissingWeightsError, match="--clip-model"):
        ClipText(missing).prepare()
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingWeightsError, match="--clip-model"):
        ClipFrame(MetricOptions(metric_args=clip_args(str(tmp_path / "empty")))).prepare()
    pick = options.metric_args["pick_score"]["model"]
    no_processor = MetricOptions(metric_args=clip_args(pick=pick, pick_processor=str(tmp_path / "no-processor")))
    with pytest.raises(MissingWeightsError, match="--pickscore-processor"):
        PickScore(no_processor).prepare()
    # PickScore_v1's own directory holds no processor: it must come from --pickscore-processor.
    processor_from_model = MetricOptions(metric_args=clip_args(pick=pick, pick_processor=pick))
    with pytest.raises(MissingWeightsError, match="--pickscore-processor .*laion/CLIP-ViT-H-14"):
        PickScore(processor_from_model).prepare()


# ---------------------------------------------------------------------------------------------
# Warm re-scoring, precision, per-metric options


def test_warm_rescoring_loads_no_weights(generated, options):
    items = [item for item, _ in generated]
    metrics = [ClipText(options), ClipDirection(options), PickScore(options)]
    values = [m.compute(items) for m in metrics]
    # A new process would start with nothing loaded; fresh encoders (another batch size) stand for it.
    fresh_options = dataclasses.replace(options, batch_size=2)
    fresh = [type(m)(fresh_options) for m in metrics]
    for m in fresh:
        m.prepare()  # checks the files, loads nothing
    assert [m.compute(items) for m in fresh] == values
    assert all(m.encoder._loaded is None for m in fresh), "a warm re-score loaded weights"


def test_bf16_is_close_to_fp32_and_cached_apart(generated, options):
    items = [item for item, _ in generated]
    fp32 = ClipText(options)
    bf16 = ClipText(dataclasses.replace(options, precision="bf16"))
    assert bf16.cache_id == fp32.cache_id + "|bf16" and bf16.encoder.image_id != fp32.encoder.image_id
    a, b = np.array(fp32.compute(items)), np.array(bf16.compute(items))
    assert not np.array_equal(a, b) and np.allclose(a, b, atol=2.0)  # logit scale 100: about 100x the cosine
    with pytest.raises(ValueError, match="--precision"):
        ClipText(dataclasses.replace(options, precision="fp8")).prepare()


def test_metric_args_set_one_metric_and_are_validated(weights, options):
    from eve_bench.cli import parse_metric_args
    from eve_bench.metrics import build_metrics

    args = parse_metric_args(f"clip_text.model={weights['pick']},pick_score.processor={weights['pick_processor']}")
    assert args == {"clip_text": {"model": str(weights["pick"])}, "pick_score": {"processor": str(weights["pick_processor"])}}
    # as the command line joins them with --clip-model: a metric's own value wins over its family flag
    family = with_family_args(args, {"clip.model": str(weights["clip"])})
    text, frame = build_metrics(["clip_text", "clip_frame"], dataclasses.replace(options, metric_args=family))
    assert weights_id(weights["pick"]) in text.cache_id and weights_id(weights["clip"]) in frame.cache_id
    with pytest.raises(ValueError, match="clip_text has no option size .*its options: model"):
        build_metrics(["clip_text"], dataclasses.replace(options, metric_args={"clip_text": {"size": 3}}))
    with pytest.raises(KeyError, match="clip_txt"):
        build_metrics(["clip_text"], dataclasses.replace(options, metric_args={"clip_txt": {"model": "x"}}))
    with pytest.raises(ValueError, match="METRIC.OPTION=VALUE"):
        parse_metric_args("model=x")
