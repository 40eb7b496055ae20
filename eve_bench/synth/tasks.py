"""The seven TGVE+ edit tasks on synthetic scenes.

Each task is a function (scene, rng) -> Edit(instruction, target_caption, scene) whose edited
scene, rendered by the same renderer, is the exact ground truth. Instructions name objects by
shape ("the star"), which is unambiguous because shapes are unique within a scene.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, NamedTuple

import numpy as np

from eve_bench.synth.captions import (
    caption,
    describe_background,
    describe_in_scene,
    describe_object,
    join_and,
    with_article,
)
from eve_bench.synth.scene import (
    SHAPES,
    TEXTURES,
    Scene,
    SceneObject,
    object_colours,
    pick,
    sample_background,
    sample_object,
)
from eve_bench.synth.styles import STYLES


class Edit(NamedTuple):
    instruction: str
    target_caption: str
    scene: Scene  # the edited scene: render it for the ground truth


class _Change(NamedTuple):
    clause: str  # one imperative clause, lower case ("turn the circle into a star")
    scene: Scene


def _with_object(scene: Scene, i: int, obj: SceneObject) -> Scene:
    objects = list(scene.objects)
    objects[i] = obj
    return replace(scene, objects=tuple(objects))


# ----------------------------------------------------------------------------------------------
# Single changes, shared by the one-edit tasks and by "multiple"


def _restyle(scene: Scene, rng: np.random.Generator) -> _Change:
    style = pick(rng, (s for s in STYLES if s != scene.style))
    clause = pick(rng, {
        "sketch": ("turn it into a pencil sketch", "make it look like a pencil drawing"),
        "pixel_art": ("make it look like 8-bit pixel art", "render it as retro pixel art"),
        "sepia": ("give it an old sepia photo look", "make it sepia toned"),
        "inverted": ("invert the colours", "make it look like a photo negative"),
        "posterised": ("posterise it into flat bands of colour", "make it look like a screen-printed poster"),
        "blur": ("make it soft and blurry, like a dream", "blur it into a hazy soft focus"),
    }[style])
    return _Change(clause, replace(scene, style=style))


def _change_object(scene: Scene, rng: np.random.Generator, i: int) -> _Change:
    obj = scene.objects[i]
    old = obj.shape
    shape = pick(rng, (s for s in SHAPES if s not in scene.shapes()))
    colour = pick(rng, (c for c in object_colours(scene.background) if c != obj.colour))
    what = pick(rng, ("shape", "colour", "both"))
    if what == "shape":
        new = replace(obj, shape=shape)
        clause = pick(rng, (f"turn the {old} into a {shape}", f"replace the {old} with a {shape}",
                             f"change the {old} to a {shape}"))
    elif what == "colour":
        new = replace(obj, colour=colour)
        clause = pick(rng, (f"make the {old} {colour}", f"change the colour of the {old} to {colour}",
                             f"paint the {old} {colour}"))
    else:
        new = replace(obj, shape=shape, colour=colour)
        thing = with_article(f"{colour} {shape}")
        clause = pick(rng, (f"turn the {old} into {thing}", f"replace the {old} with {thing}"))
    return _Change(clause, _with_object(scene, i, new))


def _change_texture(scene: Scene, rng: np.random.Generator, i: int) -> _Change:
    obj = scene.objects[i]
    texture = pick(rng, (t for t in TEXTURES if t != obj.texture))
    s = obj.shape
    clause = pick(rng, {
        "striped": (f"make the {s} striped", f"give the {s} stripes", f"cover the {s} in stripes"),
        "dotted": (f"give the {s} polka dots", f"make the {s} polka-dotted", f"cover the {s} in dots"),
        "checked": (f"give the {s} a checkered pattern", f"make the {s} checkered"),
        "solid": (f"make the {s} plain {obj.colour}", f"remove the pattern from the {s}"),
    }[texture])
    return _Change(clause, _with_object(scene, i, replace(obj, texture=texture)))


def _change_background(scene: Scene, rng: np.random.Generator) -> _Change:
    # The new background must not swallow an object of the same colour.
    taken = {o.colour for o in scene.objects}
    while True:
        new = sample_background(rng, exclude=scene.background)
        if not taken & set(new.colours()):
            break
    phrase = describe_background(new, int(rng.integers(2)))
    clause = pick(rng, (f"change the background to {phrase}", f"replace the background with {phrase}",
                         f"swap the background for {phrase}"))
    return _Change(clause, replace(scene, background=new))


def _add_object(scene: Scene, rng: np.random.Generator) -> _Change:
    free = tuple(s for s in SHAPES if s not in scene.shapes())
    obj = sample_object(rng, scene.num_frames, free, object_colours(scene.background))
    if scene.num_frames == 1:
        thing = describe_object(obj)
        clause = pick(rng, (f"add {thing}", f"put {thing} in the picture"))
    else:
        thing = describe_in_scene(scene, obj, "gerund")
        clause = pick(rng, (f"add {thing}", f"put {thing} in the scene"))
    return _Change(clause, replace(scene, objects=scene.objects + (obj,)))


def _remove_object(scene: Scene, rng: np.random.Generator, i: int) -> _Change:
    obj = scene.objects[i]
    name = pick(rng, (f"the {obj.shape}", f"the {obj.colour} {obj.shape}"))
    clause = pick(rng, (f"remove {name}", f"delete {name}", f"erase {name}", f"take out {name}"))
    return _Change(clause, replace(scene, objects=scene.objects[:i] + scene.objects[i + 1:]))


# ----------------------------------------------------------------------------------------------
# The tasks


def _edit(changes: list[_Change]) -> Edit:
    text = join_and([c.clause for c in changes])
    edited = changes[-1].scene
    return Edit(text[0].upper() + text[1:], caption(edited), edited)


def _any_object(scene: Scene, rng: np.random.Generator) -> int:
    return int(rng.integers(len(scene.objects)))


def style(scene: Scene, rng: np.random.Generator) -> Edit:
    return _edit([_restyle(scene, rng)])


def object_(scene: Scene, rng: np.random.Generator) -> Edit:
    return _edit([_change_object(scene, rng, _any_object(scene, rng))])


def background(scene: Scene, rng: np.random.Generator) -> Edit:
    return _edit([_change_background(scene, rng)])


def removal(scene: Scene, rng: np.random.Generator) -> Edit:
    return _edit([_remove_object(scene, rng, _any_object(scene, rng))])


def addition(scene: Scene, rng: np.random.Generator) -> Edit:
    return _edit([_add_object(scene, rng)])


def texture(scene: Scene, rng: np.random.Generator) -> Edit:
    return _edit([_change_texture(scene, rng, _any_object(scene, rng))])


# Order in which "multiple" applies its changes: edits in place first, so that the object indices
# drawn up front stay valid (addition appends, removal comes after it); style is global.
_MULTIPLE_ORDER = ("object", "texture", "background", "addition", "removal", "style")
_PER_OBJECT = ("object", "texture", "removal")


def multiple(scene: Scene, rng: np.random.Generator) -> Edit:
    """Two or three different changes at once, each object touched by at most one of them."""
    n_objects = len(scene.objects)
    while True:
        kinds = set(rng.choice(_MULTIPLE_ORDER, size=int(rng.integers(2, 4)), replace=False).tolist())
        if sum(k in _PER_OBJECT for k in kinds) <= n_objects:
            break
    targets = iter(rng.permutation(n_objects).tolist())
    changes: list[_Change] = []
    current = scene
    for kind in (k for k in _MULTIPLE_ORDER if k in kinds):
        if kind in _PER_OBJECT:
            change = {"object": _change_object, "texture": _change_texture, "removal": _remove_object}[kind](
                current, rng, next(targets))
        else:
            change = {"background": _change_background, "addition": _add_object, "style": _restyle}[kind](current, rng)
        changes.append(change)
        current = change.scene
    return _edit(changes)


TASKS: dict[str, Callable[[Scene, np.random.Generator], Edit]] = {
    "style": style,
    "object": object_,
    "background": background,
    "multiple": multiple,
    "removal": removal,
    "addition": addition,
    "texture": texture,
}
