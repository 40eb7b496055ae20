"""The synthetic scene model and renderer: shapes, anti-aliasing, determinism, styles."""

from dataclasses import replace

import numpy as np
import pytest

from eve_bench.synth.render import object_coverage, pixel_grid, render_background, render_scene
from eve_bench.synth.scene import (
    BACKGROUND_KINDS,
    GROUNDS,
    SHAPES,
    TEXTURES,
    Background,
    Motion,
    Scene,
    SceneObject,
    sample_scene,
)
from eve_bench.synth.shapes import signed_distance
from eve_bench.synth.styles import STYLES


def still_object(shape="circle", texture="solid", colour="red", radius=0.2, motion=Motion("linear")):
    return SceneObject(shape, colour, texture, radius, (0.5, 0.5), motion)


def test_render_shape_dtype_and_size_are_configurable():
    scene = sample_scene(np.random.default_rng(0), num_frames=5, size=40)
    frames = render_scene(scene)
    assert frames.shape == (5, 40, 40, 3) and frames.dtype == np.uint8


def test_defaults_are_16_frames_of_64x64():
    assert render_scene(sample_scene(np.random.default_rng(0))).shape == (16, 64, 64, 3)


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_is_anti_aliased_and_sized(shape):
    coverage = object_coverage(still_object(shape), 1, 64)[0]
    edge = (coverage > 0) & (coverage < 1)
    assert edge.any(), "an anti-aliased outline has partially covered pixels"
    area = coverage.sum() / (0.4 * 64) ** 2  # fraction of the object's bounding square
    assert 0.25 < area < 0.85


@pytest.mark.parametrize("shape", SHAPES)
def test_window_rendering_matches_the_whole_frame(shape):
    # Objects are shaded only in a window around them; the result must equal shading everywhere.
    obj = still_object(shape, radius=0.15, motion=Motion("rotating", rate=0.4))
    coverage = object_coverage(obj, 3, 32)
    x, y = pixel_grid(32)
    for t in range(3):
        angle = obj.angle + obj.motion.rate * t
        c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
        dx, dy = x[0] - np.float32(0.5), y[0] - np.float32(0.5)
        units = np.float32(obj.radius)
        u, v = (c * dx + s * dy) / units, (c * dy - s * dx) / units
        full = np.clip(0.5 - signed_distance(shape, u, v) * (units * 32), 0, 1)
        np.testing.assert_allclose(coverage[t], full, atol=1e-5)


def test_shapes_are_distinct():
    masks = {s: object_coverage(still_object(s), 1, 64)[0] > 0.5 for s in SHAPES}
    for a in SHAPES:
        for b in SHAPES:
            if a < b:
                assert (masks[a] != masks[b]).mean() > 0.01, (a, b)


@pytest.mark.parametrize("texture", TEXTURES[1:])
def test_textures_show_two_colours_inside_the_object(texture):
    bg = Background("flat", colour="black")
    frame = render_scene(Scene(bg, (still_object(texture=texture),), num_frames=1))[0]
    inside = object_coverage(still_object(), 1, 64)[0] == 1
    colours = {tuple(p) for p in frame[inside]}
    assert (214, 46, 38) in colours and (247, 246, 240) in colours


@pytest.mark.parametrize("kind", BACKGROUND_KINDS)
def test_every_background_kind_renders_with_variation(kind):
    frames = render_background(Background(kind, colour="red", colour2="blue", scale=0.2), (0.0, 0.0), 2, 32)
    assert frames.shape == (2, 32, 32, 3)
    assert np.isfinite(frames).all() and frames.min() >= 0 and frames.max() <= 255
    assert (frames.std(axis=(1, 2)) > 1).any() == (kind != "flat")


@pytest.mark.parametrize("ground", GROUNDS)
def test_landscapes_have_sky_above_and_ground_below(ground):
    frame = render_background(Background("landscape", ground=ground, horizon=0.5), (0.0, 0.0), 1, 32)[0]
    assert frame[0].mean(axis=0)[2] > 200  # blue sky at the top
    assert np.abs(frame[2] - frame[-2]).sum(-1).mean() > 10


def test_camera_pan_scrolls_the_background_only():
    obj = still_object(motion=Motion("linear"))
    bg = Background("stripes", colour="red", colour2="blue", orientation="vertical", scale=0.25)
    still = render_scene(Scene(bg, (obj,), num_frames=4))
    panned = render_scene(Scene(bg, (obj,), num_frames=4, pan=(0.05, 0.0)))
    assert np.array_equal(still[0], panned[0])
    assert not np.array_equal(still[3], panned[3])
    inside = object_coverage(obj, 4, 64) == 1
    assert np.array_equal(still[inside], panned[inside])


def test_objects_move():
    for seed in range(5):
        scene = sample_scene(np.random.default_rng(seed), num_frames=8)
        for obj in scene.objects:
            coverage = object_coverage(obj, 8, 64)
            if obj.shape != "circle" or obj.motion.kind != "rotating":
                assert not np.array_equal(coverage[0], coverage[-1]), obj


def test_objects_stay_in_frame():
    for seed in range(20):
        scene = sample_scene(np.random.default_rng(seed), num_frames=16)
        for obj in scene.objects:
            coverage = object_coverage(obj, 16, 64)
            smallest = obj.radius * (1 - obj.motion.amplitude) * 64
            assert coverage.sum(axis=(1, 2)).min() > 1.0 * smallest**2  # the star covers 1.3 r^2
            border = np.concatenate([coverage[:, 0], coverage[:, -1], coverage[:, :, 0], coverage[:, :, -1]], axis=1)
            assert border.max() < 1.0


def test_rendering_is_deterministic_and_seeds_differ():
    a = sample_scene(np.random.default_rng(7))
    assert a == sample_scene(np.random.default_rng(7))
    assert np.array_equal(render_scene(a), render_scene(a))
    assert a != sample_scene(np.random.default_rng(8))
    assert not np.array_equal(render_scene(a), render_scene(sample_scene(np.random.default_rng(8))))


def test_scenes_are_frozen_and_hashable():
    scene = sample_scene(np.random.default_rng(0))
    with pytest.raises(Exception):
        scene.size = 32
    assert hash(scene) == hash(replace(scene))


@pytest.mark.parametrize("style", STYLES)
def test_styles_change_nearly_every_pixel(style):
    for seed in range(4):
        scene = sample_scene(np.random.default_rng(seed), num_frames=2)
        src, styled = render_scene(scene), render_scene(replace(scene, style=style))
        assert styled.shape == src.shape and styled.dtype == np.uint8
        assert (styled != src).any(-1).mean() > 0.97


def test_shapes_have_unique_names_within_a_scene():
    for seed in range(30):
        shapes = sample_scene(np.random.default_rng(seed)).shapes()
        assert len(set(shapes)) == len(shapes) and 1 <= len(shapes) <= 3
