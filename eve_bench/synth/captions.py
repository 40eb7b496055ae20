"""Captions and the noun phrases instructions share with them, all derived from the scene.

Wording varies between scenes but not within one: every choice comes from `scene.caption_seed`,
which edits inherit, so a source caption and its target caption differ only where the edit does
("a red star drifts left over grass" -> "a blue star drifts left over grass").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from eve_bench.synth.scene import Background, Scene, SceneObject

TEXTURE_WORDS = {"solid": "", "striped": "striped", "dotted": "polka-dot", "checked": "checkered"}

# (present tense, gerund) paraphrases per motion; "{dir}" is the drift direction.
MOTION_PHRASES = {
    "linear": (("drifts {dir}", "drifting {dir}"), ("moves {dir}", "moving {dir}"), ("slides {dir}", "sliding {dir}")),
    "bouncing": (("bounces around", "bouncing around"), ("bounces off the edges", "bouncing off the edges"),
                 ("ricochets around the frame", "ricocheting around the frame")),
    "circular": (("circles around", "circling around"), ("moves in a circle", "moving in a circle"),
                 ("loops around", "looping around")),
    "scaling": (("grows and shrinks", "growing and shrinking"), ("pulses", "pulsing"),
                ("swells and shrinks", "swelling and shrinking")),
    "rotating": (("spins in place", "spinning in place"), ("rotates", "rotating"), ("turns slowly", "turning slowly")),
}
_DIRECTIONS = ("right", "up and to the right", "up", "up and to the left",
               "left", "down and to the left", "down", "down and to the right")

BACKGROUND_PHRASES = {
    "flat": ("a plain {c} background", "a solid {c} backdrop"),
    "gradient": ("a {c}-to-{c2} gradient", "a background fading from {c} to {c2}"),
    "stripes": ("{c} and {c2} {o} stripes", "a background of {o} {c} and {c2} stripes"),
    "checks": ("a {c} and {c2} checkerboard", "a checkered {c} and {c2} background"),
    "noise": ("a mottled {c} and {c2} texture", "a cloudy {c} and {c2} background"),
}
LANDSCAPE_PHRASES = {
    "grass": ("a blue sky over green grass", "a grassy meadow under a blue sky"),
    "water": ("a blue sky over the sea", "calm water under a blue sky"),
    "sand": ("a blue sky over sand dunes", "a sandy desert under a blue sky"),
    "snow": ("a blue sky over a snowfield", "snowy ground under a blue sky"),
}
STYLE_PHRASES = {
    "sketch": ("drawn as a pencil sketch", "in a pencil sketch style"),
    "pixel_art": ("as 8-bit pixel art", "in a retro pixel-art style"),
    "sepia": ("in sepia tones", "as an old sepia photograph"),
    "inverted": ("with inverted colours", "as a colour negative"),
    "posterised": ("as a posterised print", "in flat poster colours"),
    "blur": ("in a hazy soft focus", "blurred like a dream"),
}
_PREPOSITIONS = ("in front of", "over", "against")
_PAN_PHRASES = (", as the camera pans {d}", ", while the camera pans {d}")


@dataclass(frozen=True)
class Wording:
    """Which paraphrase to use for each part of a caption (indices, taken modulo the options)."""

    template: int
    background: int
    motion: int
    preposition: int
    extras: int  # pan and style phrases

    @classmethod
    def of(cls, scene: Scene) -> "Wording":
        return cls(*(int(i) for i in np.random.default_rng(scene.caption_seed).integers(0, 1 << 16, size=5)))


def caption(scene: Scene) -> str:
    wording = Wording.of(scene)
    bg = describe_background(scene.background, wording.background)
    moving = scene.num_frames > 1
    template = wording.template % 3
    if not scene.objects:
        body = bg
    elif template == 1:
        things = [describe_object(o, _variant(o, wording), "gerund" if moving else None) for o in scene.objects]
        body = f"{bg} with {join_and(things)}"
    else:
        tense = ("present" if template == 0 else "gerund") if moving else None
        things = [describe_object(o, _variant(o, wording), tense) for o in scene.objects]
        # Avoid "over a blue sky over the sea".
        prepositions = [p for p in _PREPOSITIONS if f" {p} " not in f" {bg} "]
        body = f"{join_and(things)} {prepositions[wording.preposition % len(prepositions)]} {bg}"
    if moving and scene.pan != (0.0, 0.0):
        body += _PAN_PHRASES[wording.extras % 2].format(d=_pan_direction(scene.pan))
    if scene.style is not None:
        body += ", " + style_phrase(scene.style, wording.extras)
    return body


def _variant(obj: SceneObject, wording: Wording) -> int:
    # Keyed on the object's size, which no edit changes, so that an object keeps its wording when
    # another one is added, removed or changed.
    return wording.motion + int(obj.radius * 10_000)


def describe_in_scene(scene: Scene, obj: SceneObject, tense: str | None = None) -> str:
    """describe_object worded as `scene`'s captions would word it."""
    return describe_object(obj, _variant(obj, Wording.of(scene)), tense)


def describe_object(obj: SceneObject, variant: int = 0, tense: str | None = None) -> str:
    """'a red striped star', plus its motion ('drifts left' or 'drifting left') when tense is given."""
    words = " ".join(w for w in (obj.colour, TEXTURE_WORDS[obj.texture], obj.shape) if w)
    phrase = with_article(words)
    if tense is None:
        return phrase
    options = MOTION_PHRASES[obj.motion.kind]
    present, gerund = options[variant % len(options)]
    verb = present if tense == "present" else gerund
    if obj.motion.kind == "linear":
        verb = verb.format(dir=_direction(obj.motion.velocity))
    return f"{phrase} {verb}"


def describe_background(bg: Background, variant: int = 0) -> str:
    if bg.kind == "landscape":
        options = LANDSCAPE_PHRASES[bg.ground]
    else:
        options = BACKGROUND_PHRASES[bg.kind]
    phrase = options[variant % len(options)].format(c=bg.colour, c2=bg.colour2, o=bg.orientation)
    return re.sub(r"^a (?=[aeiou])", "an ", phrase)  # "a {c} checkerboard" with c = "orange"


def style_phrase(style: str, variant: int = 0) -> str:
    options = STYLE_PHRASES[style]
    return options[variant % len(options)]


def with_article(words: str) -> str:
    return ("an " if words[0] in "aeiou" else "a ") + words


def join_and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _direction(velocity: tuple[float, float]) -> str:
    angle = math.atan2(-velocity[1], velocity[0])  # y grows downwards; "up" is negative y
    return _DIRECTIONS[round(angle / (math.pi / 4)) % 8]


def _pan_direction(pan: tuple[float, float]) -> str:
    # The background plane slides opposite to the camera: a positive x offset is a pan to the right.
    if pan[0] != 0.0:
        return "right" if pan[0] > 0 else "left"
    return "down" if pan[1] > 0 else "up"
