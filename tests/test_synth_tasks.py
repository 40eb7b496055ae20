"""The seven edit tasks: ground truth differs from the source exactly where the mask allows."""

from dataclasses import replace

import numpy as np
import pytest

from eve_bench.sample import TGVE_PLUS_TASKS
from eve_bench.synth.captions import caption
from eve_bench.synth.masks import edit_mask
from eve_bench.synth.render import object_coverage, render_scene
from eve_bench.synth.scene import sample_scene
from eve_bench.synth.tasks import TASKS

SEEDS = range(12)


def scenes(num_frames=6, size=48):
    for seed in SEEDS:
        yield sample_scene(np.random.default_rng(seed), num_frames=num_frames, size=size)


def edits(task, num_frames=6):
    for k, scene in enumerate(scenes(num_frames)):
        yield scene, TASKS[task](scene, np.random.default_rng([99, k]))


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a != b).any(axis=-1)


def test_the_seven_tasks_in_tgve_plus_order():
    assert tuple(TASKS) == TGVE_PLUS_TASKS == (
        "style", "object", "background", "multiple", "removal", "addition", "texture")


@pytest.mark.parametrize("task", TGVE_PLUS_TASKS)
def test_ground_truth_differs_from_source_only_inside_the_mask(task):
    for scene, edit in edits(task):
        source, truth = render_scene(scene), render_scene(edit.scene)
        mask = edit_mask(scene, edit.scene)
        assert mask.dtype == bool and mask.shape == source.shape[:3]
        diff = changed(source, truth)
        assert not (diff & ~mask).any(), f"{task}: pixels changed outside the mask ({edit.instruction})"
        assert diff.any(), f"{task}: the edit changed nothing ({edit.instruction})"
        # The mask is tight, not the whole frame: most of it really changes.
        if task != "style":
            assert diff.sum() > 0.3 * mask.sum(), edit.instruction


@pytest.mark.parametrize("task", TGVE_PLUS_TASKS)
def test_instructions_and_captions(task):
    instructions = set()
    for scene, edit in edits(task):
        instruction, target_caption, edited = edit  # unpacks as (instruction, target caption, scene)
        assert instruction[0].isupper() and target_caption and edited != scene
        assert target_caption != caption(scene), "the target caption must describe the edit"
        assert (edited.num_frames, edited.size, edited.pan) == (scene.num_frames, scene.size, scene.pan)
        instructions.add(instruction.split()[0])
    assert len(instructions) >= 2, f"{task}: instructions need several phrasings"


def test_object_task_changes_shape_or_colour_of_one_object():
    for scene, edit in edits("object"):
        before = [o for o in scene.objects if o not in edit.scene.objects]
        after = [o for o in edit.scene.objects if o not in scene.objects]
        assert len(before) == len(after) == 1
        (a,), (b,) = before, after
        assert (a.shape, a.colour) != (b.shape, b.colour)
        assert replace(b, shape=a.shape, colour=a.colour) == a
        assert f"the {a.shape}" in edit.instruction


def test_texture_task_changes_only_the_surface_pattern():
    for scene, edit in edits("texture"):
        (a,) = [o for o in scene.objects if o not in edit.scene.objects]
        (b,) = [o for o in edit.scene.objects if o not in scene.objects]
        assert a.texture != b.texture and replace(b, texture=a.texture) == a


def test_background_task_keeps_the_objects():
    for scene, edit in edits("background"):
        assert edit.scene.objects == scene.objects and edit.scene.background != scene.background


def test_removal_reveals_the_background():
    for scene, edit in edits("removal"):
        (gone,) = [o for o in scene.objects if o not in edit.scene.objects]
        under = object_coverage(gone, scene.num_frames, scene.size) > 0
        truth = render_scene(edit.scene)
        # Where no other object covers the removed one, the truth is the bare background.
        others = np.zeros_like(under)
        for obj in edit.scene.objects:
            others |= object_coverage(obj, scene.num_frames, scene.size) > 0
        bare = render_scene(replace(scene, objects=()))
        revealed = under & ~others
        assert revealed.any()
        assert np.array_equal(truth[revealed], bare[revealed])
        assert np.array_equal(truth[under], render_scene(replace(scene, objects=edit.scene.objects))[under])
        assert gone.shape in edit.instruction


def test_addition_changes_only_the_new_objects_pixels():
    for scene, edit in edits("addition"):
        assert edit.scene.objects[:-1] == scene.objects
        new = edit.scene.objects[-1]
        assert new.shape not in scene.shapes() and new.shape in edit.instruction
        footprint = object_coverage(new, scene.num_frames, scene.size) > 0
        diff = changed(render_scene(scene), render_scene(edit.scene))
        assert diff.any() and not (diff & ~footprint).any()
        assert np.array_equal(edit_mask(scene, edit.scene), footprint)


def test_style_changes_nearly_every_pixel_and_masks_everything():
    for scene, edit in edits("style"):
        assert edit.scene == replace(scene, style=edit.scene.style) and edit.scene.style is not None
        assert changed(render_scene(scene), render_scene(edit.scene)).mean() > 0.97
        assert edit_mask(scene, edit.scene).all()


def test_multiple_combines_two_or_three_changes():
    counts = set()
    for scene, edit in edits("multiple"):
        # Match objects by size, which no edit changes.
        before = {o.radius: o for o in scene.objects}
        after = {o.radius: o for o in edit.scene.objects}
        n = (scene.style != edit.scene.style) + (scene.background != edit.scene.background)
        n += len(before.keys() ^ after.keys()) + sum(before[r] != after[r] for r in before.keys() & after.keys())
        counts.add(n)
        assert " and " in edit.instruction
    assert counts == {2, 3}


def test_tasks_work_on_still_images():
    for scene in scenes(num_frames=1):
        for task, fn in TASKS.items():
            edit = fn(scene, np.random.default_rng(0))
            assert render_scene(edit.scene).shape == (1, 48, 48, 3)
