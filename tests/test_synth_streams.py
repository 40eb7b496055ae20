"""Training streams: documented fields, worker-aware seeding, and the held-out split."""

import itertools
import re
from types import SimpleNamespace

import numpy as np
import pytest
from torch.utils.data import IterableDataset

import eve_bench.synth.streams as streams
from eve_bench.synth.captions import STYLE_PHRASES
from eve_bench.synth.scene import SHAPES
from eve_bench.synth.streams import HELDOUT_PAIRS, ClipStream, EditTripletStream, ImageCaptionStream

# "a red striped star": a colour, an optional pattern word, a shape.
HELDOUT_PHRASES = [re.compile(rf"\b{c} (?:striped |polka-dot |checkered )?{s}\b") for s, c in HELDOUT_PAIRS]


def take(dataset, n):
    return list(itertools.islice(iter(dataset), n))


def shows_heldout(text: str) -> bool:
    return any(p.search(text) for p in HELDOUT_PHRASES)


def test_image_caption_stream():
    ds = ImageCaptionStream(seed=0, size=32)
    assert isinstance(ds, IterableDataset)
    for item in take(ds, 5):
        assert set(item) == {"image", "caption"}
        assert item["image"].shape == (32, 32, 3) and item["image"].dtype == np.uint8
        assert isinstance(item["caption"], str) and item["caption"]


def test_edit_triplet_stream():
    items = take(EditTripletStream(seed=0), 30)
    for item in items:
        assert set(item) == {"source", "instruction", "target", "source_caption", "target_caption", "task"}
        for key in ("source", "target"):
            assert item[key].shape == (64, 64, 3) and item[key].dtype == np.uint8
        assert not np.array_equal(item["source"], item["target"])
    assert len({i["task"] for i in items}) >= 5
    only = take(EditTripletStream(seed=0, tasks=["removal", "texture"]), 10)
    assert {i["task"] for i in only} <= {"removal", "texture"}
    with pytest.raises(ValueError):
        EditTripletStream(tasks=["paint"])


def test_clip_stream():
    for item in take(ClipStream(seed=0, size=32, num_frames=8), 3):
        assert set(item) == {"video", "caption"}
        assert item["video"].shape == (8, 32, 32, 3) and item["video"].dtype == np.uint8
    assert take(ClipStream(num_frames=4, size=16), 1)[0]["video"].shape == (4, 16, 16, 3)


def styled(caption: str) -> bool:
    return any(phrase in caption for phrases in STYLE_PHRASES.values() for phrase in phrases)


@pytest.mark.parametrize("make", [
    lambda share: ImageCaptionStream(seed=3, style_share=share),
    lambda share: ClipStream(seed=3, num_frames=2, style_share=share),
])
def test_style_share_draws_captioned_looks(make):
    assert not any(styled(i["caption"]) for i in take(make(0.0), 40))
    always = take(make(1.0), 12)
    assert all(styled(i["caption"]) for i in always)
    assert len({next(s for s, ps in STYLE_PHRASES.items() if any(p in i["caption"] for p in ps)) for i in always}) >= 3
    some = sum(styled(i["caption"]) for i in take(make(0.25), 200))
    assert 25 <= some <= 75
    with pytest.raises(ValueError, match="style_share"):
        make(1.5)


def test_styled_items_show_their_look():
    # a sepia scene has no colour but the sepia ramp: every pixel's channels are ordered R >= G >= B
    item = next(i for i in take(ImageCaptionStream(seed=5, style_share=1.0), 60) if "sepia" in i["caption"])
    rgb = item["image"].astype(int)
    assert (rgb[..., 0] >= rgb[..., 1]).all() and (rgb[..., 1] >= rgb[..., 2]).all()


def test_streams_are_seeded_per_seed_and_per_worker(monkeypatch):
    caption = lambda ds: take(ds, 1)[0]["caption"]  # noqa: E731
    assert caption(ImageCaptionStream(seed=0)) == caption(ImageCaptionStream(seed=0))
    assert caption(ImageCaptionStream(seed=0)) != caption(ImageCaptionStream(seed=1))
    main = caption(ImageCaptionStream(seed=0))
    monkeypatch.setattr(streams, "get_worker_info", lambda: SimpleNamespace(id=1, num_workers=2))
    assert caption(ImageCaptionStream(seed=0)) != main


def test_streams_do_not_draw_the_evaluation_scenes():
    from eve_bench.synth.suite import load_synth

    suite_captions = {s.source_caption for s in load_synth(n_videos=40, num_frames=1).samples}
    assert not suite_captions & {i["caption"] for i in take(ImageCaptionStream(seed=0), 40)}


def test_heldout_pairs_cover_every_shape_once():
    assert sorted(s for s, _ in HELDOUT_PAIRS) == sorted(SHAPES)
    assert len({c for _, c in HELDOUT_PAIRS}) == len(HELDOUT_PAIRS)


def test_heldout_combinations_never_appear_in_train():
    for item in take(ImageCaptionStream(split="train", size=16), 150):
        assert not shows_heldout(item["caption"]), item["caption"]
    for item in take(EditTripletStream(split="train", size=16), 150):
        assert not shows_heldout(item["source_caption"] + " | " + item["target_caption"] + " | " + item["instruction"])


def test_heldout_split_always_shows_a_heldout_combination():
    for item in take(ImageCaptionStream(split="heldout", size=16), 40):
        assert shows_heldout(item["caption"]), item["caption"]
    for item in take(EditTripletStream(split="heldout", size=16), 40):
        assert shows_heldout(item["source_caption"] + " | " + item["target_caption"])
    for item in take(ClipStream(split="heldout", size=16, num_frames=2), 10):
        assert shows_heldout(item["caption"])


def test_unknown_split_is_refused():
    with pytest.raises(ValueError):
        ImageCaptionStream(split="test")
