"""ViCLIP encoder and EVE's viclip_out / viclip_dir, on a tiny random model (no weights needed)."""

import dataclasses
import glob
import logging
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from eve_bench.encoders import precision
from eve_bench.encoders.cache import EmbeddingCache
from eve_bench.encoders.local_weights import weights_id
from eve_bench.encoders.viclip import (
    ViCLIP,
    ViCLIPConfig,
    ViCLIPPreprocess,
    config_from_state_dict,
    convert_pth,
    load_viclip,
    tokenize,
)
from eve_bench.errors import MissingWeightsError, WeightsError
from eve_bench.metrics import with_family_args
from eve_bench.metrics.base import MetricInput, MetricOptions
from eve_bench.metrics.viclip import ViCLIPDir, ViCLIPOut
from eve_bench.sample import Sample
from eve_bench.video import Video, read_video

# Key names and shapes of the public checkpoint's "model" dict, read off OpenGVLab/InternVideo
# Data/InternVid/viclip/: viclip.py (ViCLIP: vision_encoder, text_encoder, temp),
# viclip_vision.py (VisionTransformer, clip_joint_l14: width 1024, patch 14, 24 layers, output 768,
# num_frames 8) and viclip_text.py (CLIP_TEXT, clip_text_l14: width 768, 12 layers, context 32).
PUBLIC_L14_SHAPES = {
    "temp": (),
    "vision_encoder.conv1.weight": (1024, 3, 1, 14, 14),
    "vision_encoder.class_embedding": (1024,),
    "vision_encoder.positional_embedding": (257, 1024),
    "vision_encoder.temporal_positional_embedding": (1, 8, 1024),
    "vision_encoder.ln_pre.weight": (1024,),
    "vision_encoder.transformer.resblocks.23.attn.in_proj_weight": (3072, 1024),
    "vision_encoder.transformer.resblocks.23.attn.out_proj.bias": (1024,),
    "vision_encoder.transformer.resblocks.23.mlp.c_fc.weight": (4096, 1024),
    "vision_encoder.transformer.resblocks.23.mlp.c_proj.weight": (1024, 4096),
    "vision_encoder.transformer.resblocks.23.ln_2.bias": (1024,),
    "vision_encoder.ln_post.bias": (1024,),
    "vision_encoder.proj": (1024, 768),
    "text_encoder.token_embedding.weight": (49408, 768),
    "text_encoder.positional_embedding": (32, 768),
    "text_encoder.transformer.resblocks.11.ln_1.weight": (768,),
    "text_encoder.transformer.resblocks.11.attn.in_proj_bias": (2304,),
    "text_encoder.ln_final.weight": (768,),
    "text_encoder.text_projection": (768, 768),
}
# Every parameter name of the public model, with layer indices replaced by N.
PUBLIC_KEY_PATTERNS = {
    "temp",
    *(f"vision_encoder.{k}" for k in (
        "conv1.weight", "class_embedding", "positional_embedding", "temporal_positional_embedding",
        "ln_pre.weight", "ln_pre.bias", "ln_post.weight", "ln_post.bias", "proj")),
    *(f"text_encoder.{k}" for k in (
        "token_embedding.weight", "positional_embedding", "ln_final.weight", "ln_final.bias",
        "text_projection")),
    *(f"{tower}.transformer.resblocks.N.{k}" for tower in ("vision_encoder", "text_encoder") for k in (
        "attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight", "attn.out_proj.bias",
        "ln_1.weight", "ln_1.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight",
        "mlp.c_proj.bias", "ln_2.weight", "ln_2.bias")),
}

TGVE_CLIPS = sorted(glob.glob("/work/shared/data/tgve/loveu-tgve-2023/*/480p_videos/*.mp4"))


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return ViCLIP(ViCLIPConfig.tiny()).eval()


@pytest.fixture(scope="module")
def tiny_dir(tiny, tmp_path_factory):
    folder = tmp_path_factory.mktemp("viclip") / "tiny"
    tiny.save_pretrained(folder)
    return folder


def clip(seed, frames=8, h=36, w=48):
    return np.random.default_rng(seed).integers(0, 256, (frames, h, w, 3), dtype=np.uint8)


def item(edited, source, target="a red car driving in snow", src_caption="a car driving on a road"):
    sample = Sample(video_id="v", group="g", task="style", instruction=None,
                    source_caption=src_caption, target_caption=target,
                    load_source=lambda: Video(source))
    return MetricInput(sample=sample, edited=Video(edited), source=Video(source))


def options(weights, tmp_path, **preprocess):
    """Both ViCLIP metrics' options, as --viclip-model and --viclip-preprocess K=V set them."""
    args = with_family_args({}, {"viclip.model": str(weights), **{f"viclip.{k}": v for k, v in preprocess.items()}})
    return MetricOptions(metric_args=args, batch_size=4, embedding_cache=EmbeddingCache(tmp_path / "cache"))


def test_large_config_has_public_key_names_and_shapes():
    with torch.device("meta"):  # no memory for 428M parameters
        state = ViCLIP(ViCLIPConfig.large()).state_dict()
    assert {re.sub(r"\.\d+\.", ".N.", k) for k in state} == PUBLIC_KEY_PATTERNS
    for key, shape in PUBLIC_L14_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    assert config_from_state_dict(state) == ViCLIPConfig.large()


class TrainingConfig:
    """Stands for the config objects training checkpoints pickle beside the weights."""


def test_public_format_pth_converts_then_loads_strictly(tiny, tmp_path):
    path, out = tmp_path / "ViClip-InternVid-10M-FLT.pth", tmp_path / "converted"
    videos = [clip(1), clip(2, frames=13)]
    state = {f"module.{k}": v for k, v in tiny.state_dict().items()}
    torch.save({"model": state, "epoch": 9}, path)
    with pytest.raises(WeightsError, match="convert-viclip"):
        load_viclip(path)  # metrics never unpickle, even with torch's weights-only loader
    loaded = load_viclip(convert_pth(path, out))
    assert loaded.config == ViCLIPConfig.tiny()
    assert torch.equal(loaded.encode_video(videos), tiny.encode_video(videos))
    # A checkpoint that pickles objects converts only when the user says they trust it.
    torch.save({"model": state, "config": TrainingConfig()}, path)
    with pytest.raises(WeightsError, match="--trust-pickle"):
        convert_pth(path, out)
    assert torch.equal(load_viclip(convert_pth(path, out, trust_pickle=True)).encode_video(videos), tiny.encode_video(videos))

    extra = dict(tiny.state_dict(), **{"text_encoder.unexpected": torch.zeros(1)})
    torch.save({"model": extra}, path)
    with pytest.raises(WeightsError, match="Unexpected key"):
        convert_pth(path, out)


def test_save_pretrained_roundtrip(tiny, tiny_dir):
    loaded = ViCLIP.from_pretrained(tiny_dir)
    videos, texts = [clip(3), clip(4, frames=20)], ["a cat", "a dog on a beach"]
    assert torch.equal(loaded.encode_video(videos), tiny.encode_video(videos))
    assert torch.equal(loaded.encode_text(texts), tiny.encode_text(texts))
    assert load_viclip(tiny_dir).weights_id == loaded.weights_id


def test_embeddings_are_normalised(tiny):
    assert torch.allclose(tiny.encode_video([clip(5), clip(6)]).norm(dim=-1), torch.ones(2))
    assert torch.allclose(tiny.encode_text(["x", "y z"]).norm(dim=-1), torch.ones(2))


def test_long_prompt_truncated_with_eot_last(caplog):
    prompt = "a very long prompt about a dog running " * 10
    with caplog.at_level(logging.WARNING):
        tokens = tokenize([prompt, "a cat"], context_length=32)
    assert tokens.shape == (2, 32)
    assert tokens[0, 0] == 49406 and tokens[0, -1] == 49407  # SOT ... EOT forced last
    assert (tokens[0] != 0).all()
    assert tokens[1, :4].tolist() == [49406, 320, 2368, 49407] and not tokens[1, 4:].any()
    assert "truncated" in caplog.text


@pytest.mark.parametrize("length", [3, 8, 32, 77])
def test_any_length_is_sampled_to_8_frames(length):
    frames = np.arange(length, dtype=np.uint8)[:, None, None, None].repeat(4, 1).repeat(4, 2).repeat(3, 3)
    for sampling in ("uniform", "middle"):
        pre = ViCLIPPreprocess(sampling=sampling)
        sampled = pre.sample(frames, 8)
        assert sampled.shape == (8, 4, 4, 3)
        idx = sampled[:, 0, 0, 0].tolist()
        assert idx == sorted(idx) and set(idx) <= set(range(length))
        assert pre.sample(sampled, 8).tolist() == sampled.tolist()  # idempotent: cache keys rely on it
    assert ViCLIPPreprocess().frame_indices(32, 8) == [0, 4, 8, 12, 16, 20, 24, 28]  # EditVerse
    assert ViCLIPPreprocess(sampling="middle").frame_indices(32, 8) == [1, 5, 9, 13, 17, 21, 25, 29]
    pixels = ViCLIPPreprocess()(frames, ViCLIPConfig.tiny())
    assert pixels.shape == (8, 3, 32, 32)


def test_attention_matches_torch_multihead_attention(tiny):
    # Same parameter names and the same function as the nn.MultiheadAttention of the public code.
    block = tiny.text_encoder.transformer.resblocks[0]
    mha = torch.nn.MultiheadAttention(128, 2, batch_first=True).eval()
    mha.load_state_dict(block.attn.state_dict(), strict=True)
    x = torch.randn(3, 10, 128)
    causal = torch.full((10, 10), float("-inf")).triu(1)
    with torch.no_grad():
        assert torch.allclose(block.attn(x), mha(x, x, x, need_weights=False)[0], atol=1e-5)
        expected = mha(x, x, x, need_weights=False, attn_mask=causal)[0]
        assert torch.allclose(block.attn(x, causal=True), expected, atol=1e-5)


def test_vision_tower_rejects_wrong_frame_count(tiny):
    with pytest.raises(ValueError, match="exactly 8 frames"):
        tiny.vision_encoder(torch.zeros(1, 7, 3, 32, 32))


def test_missing_weights_error_is_immediate_and_names_the_flag(tmp_path):
    for path in (None, tmp_path / "nope.pth"):
        metric = ViCLIPOut(MetricOptions(metric_args={"viclip_out": {"model": None if path is None else str(path)}}))
        with pytest.raises(MissingWeightsError) as e:
            metric.prepare()
        assert "--viclip-model" in str(e.value) and "ViClip-InternVid-10M-FLT.pth" in str(e.value)
        assert "OpenGVLab" in str(e.value)


def reference_scores(model, pre, edited, source, target, src_caption):
    """The formulas, straight from the towers' raw outputs."""
    cfg = model.config
    with torch.no_grad():
        v = model.vision_encoder(torch.stack([pre(edited, cfg), pre(source, cfg)]))
        t = model.text_encoder(tokenize([target, src_caption], cfg.context_length))
    v, t = F.normalize(v, dim=-1), F.normalize(t, dim=-1)
    out = F.cosine_similarity(v[0], t[0], dim=0).item()
    direction = F.cosine_similarity(v[0] - v[1], t[0] - t[1], dim=0).item()
    return out, direction


@pytest.mark.parametrize("recipe", ["clip", "internvid"])
def test_metrics_match_the_formulas(tiny, tiny_dir, tmp_path, recipe):
    pre = ViCLIPPreprocess(sampling="uniform", recipe=recipe)
    opts = options(tiny_dir, tmp_path, recipe=recipe)
    items = [item(clip(10), clip(11)), item(clip(12, frames=21, h=50), clip(13, frames=21, h=50),
                                            target="a watercolor painting of a horse")]
    metric_out, metric_dir = ViCLIPOut(opts), ViCLIPDir(opts)
    for m in (metric_out, metric_dir):
        m.prepare()
    assert metric_out.model is metric_dir.model  # one copy of the weights for both metrics
    got_out, got_dir = metric_out.compute(items), metric_dir.compute(items)
    for it, o, d in zip(items, got_out, got_dir):
        ref_o, ref_d = reference_scores(tiny, pre, it.edited.frames, it.source.frames,
                                        it.sample.target_caption, it.sample.source_caption)
        assert o == pytest.approx(ref_o, abs=1e-5) and d == pytest.approx(ref_d, abs=1e-5)
    # Second pass comes from the cache and gives the same numbers.
    cache = opts.embedding_cache
    hits = cache.hits
    assert metric_out.compute(items) == pytest.approx(got_out, abs=1e-7)
    assert cache.hits > hits


def test_identity_edit_has_zero_direction(tiny_dir, tmp_path):
    metric = ViCLIPDir(options(tiny_dir, tmp_path))
    metric.prepare()
    video = clip(20)
    assert metric.compute([item(video, video.copy())]) == [0.0]


def test_metric_metadata_and_cache_id(tiny_dir, tmp_path):
    a = ViCLIPOut(options(tiny_dir, tmp_path))
    b = ViCLIPOut(options(tiny_dir, tmp_path, sampling="middle"))
    assert a.higher_is_better and ViCLIPDir.higher_is_better
    assert ViCLIPDir.requires == {"source", "source_caption", "target_caption"}
    assert "uniform-clip" in a.cache_id and "middle-clip" in b.cache_id
    assert weights_id(tiny_dir) in a.cache_id and str(tiny_dir) not in a.cache_id
    with pytest.raises(ValueError):
        ViCLIPOut(MetricOptions(metric_args={"viclip_out": {"recipe": "bilinear"}}))


def test_precision_reaches_viclip(tiny_dir, tmp_path):
    """--precision bf16 runs ViCLIP under autocast too, and caches its values apart from fp32's."""
    items = [item(clip(30), clip(31))]
    fp32 = ViCLIPOut(options(tiny_dir, tmp_path))
    bf16 = ViCLIPOut(dataclasses.replace(options(tiny_dir, tmp_path), precision="bf16"))
    for m in (fp32, bf16):
        m.prepare()
    assert bf16.cache_id == fp32.cache_id + "|bf16"
    real, calls = precision.autocast, []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(precision, "autocast", lambda p, d: calls.append(p) or real(p, d))
        low = bf16.compute(items)
    assert calls and set(calls) == {"bf16"}  # the video and the text tower, neither left at fp32
    assert low == pytest.approx(fp32.compute(items), abs=0.05)


@pytest.mark.skipif(not TGVE_CLIPS, reason="TGVE videos not present")
def test_metrics_on_a_real_tgve_clip(tiny, tiny_dir, tmp_path):
    source = read_video(TGVE_CLIPS[0]).frames
    edited = np.ascontiguousarray(source[:, :, ::-1])  # a mirrored "edit"
    it = item(edited, source, target="a mirrored video in the style of van gogh",
              src_caption="a video")
    opts = options(tiny_dir, tmp_path)
    out, direction = ViCLIPOut(opts), ViCLIPDir(opts)
    out.prepare(), direction.prepare()
    ref_o, ref_d = reference_scores(tiny, ViCLIPPreprocess(), edited, source,
                                    it.sample.target_caption, it.sample.source_caption)
    assert out.compute([it])[0] == pytest.approx(ref_o, abs=1e-5)
    assert direction.compute([it])[0] == pytest.approx(ref_d, abs=1e-5)
