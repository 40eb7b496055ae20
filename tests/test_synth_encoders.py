"""The synthetic suite's own small CLIP and ViCLIP (eve_bench/synth/train_encoders.py).

Training steps on tiny configs, the real CLIP BPE tokenizer, and the shipped weights: they load
through the harness loaders, embed deterministically and retrieve held-out captions well above
chance. Runs offline in seconds.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from eve_bench.synth import train_encoders as st
from eve_bench.weights import SYNTH_CLIP_DIR, SYNTH_VICLIP_DIR

CAPTIONS = [
    "a green checkered hexagon ricocheting around the frame and a red polka-dot square moving right",
    "a blue sky over sand dunes with a red striped cross moving in a circle, drawn as a pencil sketch",
    "Turn the diamond into a purple star!  Café, naïve 123",
]


@pytest.fixture(scope="module")
def processor_dir(tmp_path_factory):
    from eve_bench.encoders.clip_bpe import save_clip_processor

    return save_clip_processor(tmp_path_factory.mktemp("clip-processor"), image_size=32)


def _tiny_clip_cfg(**kw) -> st.ClipTrainConfig:
    return st.ClipTrainConfig(**{**dict(
        out_dir="unused", seed=0, steps=25, batch_size=12, lr=2e-3, warmup=1, image_size=32,
        patch_size=8, vision_width=32, vision_layers=1, vision_heads=2, text_width=32, text_layers=1,
        text_heads=2, projection_dim=16, write_report=False), **kw})


def _tiny_viclip_cfg(**kw) -> st.ViclipTrainConfig:
    return st.ViclipTrainConfig(**{**dict(
        out_dir="unused", seed=0, steps=25, batch_size=8, lr=2e-3, warmup=1, image_size=32,
        patch_size=16, vision_width=32, vision_layers=1, vision_heads=2, embed_dim=16,
        context_length=64, text_width=32, text_layers=1, text_heads=2, write_report=False), **kw})


# ----------------------------------------------------------------------------------------------
# Pieces


def test_clip_bpe_tokenizer_matches_open_clip(processor_dir):
    from open_clip.tokenizer import SimpleTokenizer
    from transformers import AutoTokenizer

    from eve_bench.encoders.clip_bpe import BOS_ID, EOS_ID, VOCAB_SIZE, clip_bpe

    vocab, merges = clip_bpe()
    assert len(vocab) == VOCAB_SIZE and len(merges) == VOCAB_SIZE - 514
    tokenizer = AutoTokenizer.from_pretrained(processor_dir)
    reference = SimpleTokenizer()
    for text in CAPTIONS:
        assert tokenizer(text)["input_ids"] == [BOS_ID, *reference.encode(text), EOS_ID]


def test_retrieval_accuracy():
    e = torch.eye(10)
    perfect = st.retrieval_accuracy(e, e)
    assert perfect["top1"] == perfect["top5"] == 1.0 and perfect["median_rank"] == 1.0
    assert perfect["chance_top1"] == pytest.approx(0.1) and perfect["chance_top5"] == pytest.approx(0.5)
    shifted = st.retrieval_accuracy(e, torch.roll(e, 1, dims=0))  # every text's best item is wrong
    assert shifted["top1"] == 0.0
    tied = st.retrieval_accuracy(torch.ones(4, 3), torch.ones(4, 3))  # ties count against the query
    assert tied["top1"] == 0.0


def test_contrastive_loss_is_symmetric_infonce():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    loss = st.contrastive_loss(a, b, torch.tensor(1.0))
    assert float(loss) == pytest.approx(float(st.contrastive_loss(b, a, torch.tensor(1.0))), abs=1e-6)
    # Orthogonal matching pairs at scale 100 give a loss near 0; scale 0 gives ln(batch).
    e = 3 * torch.eye(6)
    assert float(st.contrastive_loss(e, e, torch.tensor(100.0))) < 1e-3
    assert float(st.contrastive_loss(a, a, torch.tensor(0.0))) == pytest.approx(math.log(6), abs=1e-5)


def test_fast_training_pixels_match_the_encoder_path(processor_dir):
    from eve_bench.synth.streams import ImageCaptionStream

    frames = [x["image"] for x in itertools.islice(iter(ImageCaptionStream(seed=3)), 6)]
    exact = st.ClipPixels(processor_dir, exact=True)(frames)
    fast = st.ClipPixels(processor_dir, exact=False)(frames)
    assert exact.shape == fast.shape == (6, 3, 32, 32)
    # One grey level is about 0.015 after CLIP's normalisation.
    assert float((exact - fast).abs().mean()) < 0.01


# ----------------------------------------------------------------------------------------------
# Training


def _loss_drops(model, cfg, batch, step_loss, scale_of):
    first, _ = step_loss(batch)
    summary = st._fit(model, cfg, itertools.repeat(batch), step_loss, scale_of, log_path=None)
    with torch.no_grad():
        last, _ = step_loss(batch)
    assert summary["steps"] == cfg.steps
    return float(first.detach()), float(last)


def test_clip_training_steps_lower_the_loss(processor_dir):
    from transformers import AutoTokenizer

    cfg = _tiny_clip_cfg()
    st._setup(cfg)
    model = st.build_clip(cfg)
    batches = st._clip_batches(cfg, st.ClipPixels(processor_dir, exact=False),
                               AutoTokenizer.from_pretrained(processor_dir))
    batch = next(batches)
    assert batch["pixel_values"].shape == (12, 3, 32, 32)

    def step_loss(b):
        img = st._pooled(model.get_image_features(pixel_values=b["pixel_values"]))
        txt = st._pooled(model.get_text_features(input_ids=b["input_ids"], attention_mask=b["attention_mask"]))
        return st.contrastive_loss(img, txt, model.logit_scale.exp()), 0.0

    first, last = _loss_drops(model, cfg, batch, step_loss, lambda: model.logit_scale.exp())
    assert last < 0.5 * first, (first, last)


def test_viclip_training_steps_lower_the_loss():
    cfg = _tiny_viclip_cfg()
    st._setup(cfg)
    model = st.build_viclip(cfg)
    batch = next(st._viclip_batches(cfg, model.config))
    assert batch["video"].shape == (8, 8, 3, 32, 32) and batch["tokens"].shape == (8, 64)

    def step_loss(b):
        return st.contrastive_loss(model.vision_encoder(b["video"]), model.text_encoder(b["tokens"]),
                                   1 / model.temp), 0.0

    first, last = _loss_drops(model, cfg, batch, step_loss, lambda: 1 / model.temp)
    assert last < 0.5 * first, (first, last)


def test_training_is_deterministic():
    cfg = _tiny_viclip_cfg(steps=3)
    weights = []
    for _ in range(2):
        st._setup(cfg)
        model = st.build_viclip(cfg)
        batches = st._viclip_batches(cfg, model.config)

        def step_loss(b):
            return st.contrastive_loss(model.vision_encoder(b["video"]), model.text_encoder(b["tokens"]),
                                       1 / model.temp), 0.0

        st._fit(model, cfg, batches, step_loss, lambda: 1 / model.temp, log_path=None)
        weights.append(model.vision_encoder.proj.detach().clone())
    assert torch.equal(weights[0], weights[1])


@pytest.mark.parametrize("kind", ["clip", "viclip"])
def test_cli_help(kind, capsys):
    with pytest.raises(SystemExit) as e:
        st.main([kind, "--help"])
    assert e.value.code == 0
    assert "--steps" in capsys.readouterr().out


# ----------------------------------------------------------------------------------------------
# Shipped weights


def test_shipped_clip_loads_through_the_harness_loader():
    from eve_bench.encoders.cache import EmbeddingCache
    from eve_bench.encoders.clip import ClipEncoder

    files = {f.name for f in SYNTH_CLIP_DIR.iterdir()}
    assert {"config.json", "model.safetensors", "preprocessor_config.json", "TRAINING.md"} <= files
    assert (SYNTH_CLIP_DIR / "model.safetensors").stat().st_size < 8_500_000
    encoder = ClipEncoder.load(SYNTH_CLIP_DIR, SYNTH_CLIP_DIR, cache=EmbeddingCache(enabled=False))
    assert encoder.model.config.text_config.vocab_size == 49408
    assert encoder.image_processor.crop_size["height"] == encoder.model.config.vision_config.image_size
    frames = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    a, b = encoder.encode_frames(list(frames)), encoder.encode_frames(list(frames))
    t1, t2 = encoder.encode_texts(CAPTIONS), encoder.encode_texts(CAPTIONS[::-1])
    assert a.shape == (3, encoder.model.config.projection_dim) and a.dtype == np.float32
    assert np.array_equal(a, b)  # deterministic
    np.testing.assert_allclose(t1, t2[::-1], atol=1e-5)  # batching (padding) does not matter
    assert np.isfinite(a).all() and np.isfinite(t1).all()


def test_shipped_viclip_loads_through_the_harness_loader():
    from eve_bench.encoders.viclip import load_viclip

    assert (SYNTH_VICLIP_DIR / "TRAINING.md").exists()
    assert (SYNTH_VICLIP_DIR / "model.safetensors").stat().st_size < 8_500_000
    model = load_viclip(SYNTH_VICLIP_DIR)
    assert model.config.num_frames == 8 and model.config.vocab_size == 49408
    videos = list(np.random.default_rng(0).integers(0, 256, (2, 16, 64, 64, 3), dtype=np.uint8))
    a, b = model.encode_video(videos), load_viclip(SYNTH_VICLIP_DIR).encode_video(videos)
    assert a.shape == (2, model.config.embed_dim) and torch.equal(a, b)
    assert torch.equal(model.encode_text(CAPTIONS), model.encode_text(CAPTIONS))


def test_shipped_clip_retrieves_heldout_captions():
    result = st.evaluate_clip(SYNTH_CLIP_DIR, n=20, seed=1)
    assert result["top1"] >= 3 * result["chance_top1"], result


def test_shipped_viclip_retrieves_heldout_captions():
    result = st.evaluate_viclip(SYNTH_VICLIP_DIR, n=20, seed=1)
    assert result["top1"] >= 3 * result["chance_top1"], result


def test_shipped_viclip_sees_the_suites_ground_truth_edits():
    result = st.suite_edit_check("viclip", SYNTH_VICLIP_DIR, n_videos=4)
    assert set(result["tasks"]) == {"addition", "background", "multiple", "object", "removal", "style", "texture"}
    assert result["all"]["n"] == 28
    # The edited ground truth matches its target caption better than the unedited source does.
    assert result["all"]["gt_beats_source"] >= 0.6, result
    assert result["all"]["mean_dir_cos"] > 0.3, result
