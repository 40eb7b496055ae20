"""The scene model: frozen dataclasses describing a procedural video, and how to sample them.

Geometry is in frame units: x runs left to right and y top to bottom over [0, 1], whatever the
pixel resolution, so one scene renders at any size. Times are frame indices. Object motions are in
screen space (as if the camera follows the action): a camera pan scrolls only the background, so no
object is ever pushed out of frame and every edit stays visible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from eve_bench.synth.palette import COLOURS

SHAPES = ("circle", "square", "triangle", "star", "diamond", "hexagon", "cross")
TEXTURES = ("solid", "striped", "dotted", "checked")
MOTIONS = ("linear", "bouncing", "circular", "scaling", "rotating")
BACKGROUND_KINDS = ("flat", "gradient", "stripes", "checks", "noise", "landscape")
ORIENTATIONS = ("horizontal", "vertical", "diagonal")
GROUNDS = ("grass", "water", "sand", "snow")  # what lies below the horizon of a landscape

# Colours an object must not take on a landscape, or it would vanish into the sky or the ground.
_SKY_COLOURS = ("blue", "cyan")
_GROUND_COLOURS = {"grass": ("green",), "water": ("blue", "cyan"), "sand": ("yellow", "orange"), "snow": ("white",)}


@dataclass(frozen=True)
class Background:
    kind: str  # one of BACKGROUND_KINDS
    colour: str = "white"  # flat colour, gradient start, first pattern colour
    colour2: str = "black"  # gradient end, second pattern colour
    orientation: str = "horizontal"  # gradients and stripes
    scale: float = 0.25  # pattern period or noise feature size, in frame widths
    ground: str = "grass"  # landscapes only; the sky is always above
    horizon: float = 0.5  # landscapes only: height of the horizon from the top
    seed: int = 0  # noise lattice

    def colours(self) -> tuple[str, ...]:
        """Named colours that dominate this background (objects avoid them to stay visible)."""
        if self.kind == "landscape":
            return _SKY_COLOURS + _GROUND_COLOURS[self.ground]
        if self.kind == "flat":
            return (self.colour,)
        return (self.colour, self.colour2)


@dataclass(frozen=True)
class Motion:
    kind: str  # one of MOTIONS
    velocity: tuple[float, float] = (0.0, 0.0)  # linear, bouncing: frame widths per frame
    orbit: float = 0.0  # circular: orbit radius
    rate: float = 0.0  # circular, rotating, scaling: radians per frame
    amplitude: float = 0.0  # scaling: relative size change
    phase: float = 0.0  # circular: starting angle on the orbit


@dataclass(frozen=True)
class SceneObject:
    shape: str  # one of SHAPES
    colour: str  # a key of palette.COLOURS
    texture: str  # one of TEXTURES
    radius: float  # half extent, frame widths
    position: tuple[float, float]  # start point, or orbit centre for circular motion
    motion: Motion
    angle: float = 0.0  # initial rotation, radians

    def max_extent(self) -> float:
        return self.radius * (1.0 + self.motion.amplitude)


@dataclass(frozen=True)
class Scene:
    background: Background
    objects: tuple[SceneObject, ...]  # drawn in order: later objects occlude earlier ones
    num_frames: int = 16
    size: int = 64
    pan: tuple[float, float] = (0.0, 0.0)  # background scroll, frame widths per frame
    style: str | None = None  # a key of styles.STYLES, applied after rendering
    caption_seed: int = 0  # picks the wording of captions, shared by a scene and its edits

    def shapes(self) -> tuple[str, ...]:
        return tuple(o.shape for o in self.objects)


# ----------------------------------------------------------------------------------------------
# Sampling


def sample_background(rng: np.random.Generator, exclude: Background | None = None) -> Background:
    """A random background; with `exclude`, one a viewer would call different from it."""
    while True:
        bg = _sample_background(rng)
        if exclude is None or _looks_different(bg, exclude):
            return bg


# The Background fields each kind uses; the others keep their defaults, so equal-looking
# backgrounds compare equal.
_BACKGROUND_FIELDS = {
    "flat": ("colour",),
    "gradient": ("colour", "colour2", "orientation"),
    "stripes": ("colour", "colour2", "orientation", "scale"),
    "checks": ("colour", "colour2", "scale"),
    "noise": ("colour", "colour2", "scale", "seed"),
    "landscape": ("ground", "horizon", "seed"),
}


def _sample_background(rng: np.random.Generator) -> Background:
    kind = pick(rng, BACKGROUND_KINDS)
    colour, colour2 = (str(c) for c in rng.choice(list(COLOURS), size=2, replace=False))
    # Every field is drawn whatever the kind, so that the stream of draws is the same for all kinds.
    drawn = {
        "colour": colour,
        "colour2": colour2,
        "orientation": pick(rng, ORIENTATIONS),
        "scale": float(rng.uniform(0.125, 0.25)),
        "ground": pick(rng, GROUNDS),
        "horizon": float(rng.uniform(0.35, 0.6)),
        "seed": int(rng.integers(2**31)),
    }
    return Background(kind, **{k: drawn[k] for k in _BACKGROUND_FIELDS[kind]})


def _looks_different(a: Background, b: Background) -> bool:
    if a.kind != b.kind:
        return True
    if a.kind == "landscape":
        return a.ground != b.ground
    return set(a.colours()) != set(b.colours())


def sample_motion(rng: np.random.Generator) -> Motion:
    kind = pick(rng, MOTIONS)
    direction = float(rng.uniform(0, 2 * math.pi))
    speed = float(rng.uniform(0.03, 0.06))
    sign = 1.0 if rng.random() < 0.5 else -1.0
    if kind == "bouncing":
        return Motion(kind, velocity=(speed * math.cos(direction), speed * math.sin(direction)))
    if kind == "circular":
        return Motion(kind, orbit=float(rng.uniform(0.1, 0.2)), rate=sign * float(rng.uniform(0.2, 0.4)),
                      phase=direction)
    if kind == "scaling":
        return Motion(kind, rate=float(rng.uniform(0.3, 0.6)), amplitude=float(rng.uniform(0.25, 0.45)))
    if kind == "rotating":
        return Motion(kind, rate=sign * float(rng.uniform(0.1, 0.3)))
    return Motion(kind)  # linear: the velocity depends on where the object starts, see sample_object


def sample_object(
    rng: np.random.Generator,
    num_frames: int,
    shapes: tuple[str, ...] = SHAPES,
    colours: tuple[str, ...] = tuple(COLOURS),
) -> SceneObject:
    """An object whose whole trajectory stays inside the frame."""
    motion = sample_motion(rng)
    radius = float(rng.uniform(0.12, 0.19))
    margin = radius * (1.0 + motion.amplitude) + 0.02
    low, high = margin + motion.orbit, 1.0 - margin - motion.orbit
    position = (float(rng.uniform(low, high)), float(rng.uniform(low, high)))
    if motion.kind == "linear":
        # Pick the end point too, far enough away that the drift is plain to see.
        while True:
            end = (float(rng.uniform(low, high)), float(rng.uniform(low, high)))
            if math.dist(position, end) > 0.3:
                break
        steps = max(num_frames - 1, 1)
        motion = Motion("linear", velocity=((end[0] - position[0]) / steps, (end[1] - position[1]) / steps))
    return SceneObject(
        shape=pick(rng, shapes),
        colour=pick(rng, colours),
        texture=pick(rng, TEXTURES),
        radius=radius,
        position=position,
        motion=motion,
        angle=float(rng.uniform(0, 2 * math.pi)) if motion.kind == "rotating" else 0.0,
    )


def object_colours(background: Background) -> tuple[str, ...]:
    """Colours that stand out against `background`."""
    return tuple(c for c in COLOURS if c not in background.colours())


def sample_scene(
    rng: np.random.Generator,
    num_frames: int = 16,
    size: int = 64,
    n_objects: int | None = None,
) -> Scene:
    """One to three objects with distinct shapes (so "the star" always names one object)."""
    background = sample_background(rng)
    n = int(rng.integers(1, 4)) if n_objects is None else n_objects
    objects: list[SceneObject] = []
    for _ in range(n):
        free_shapes = tuple(s for s in SHAPES if s not in {o.shape for o in objects})
        objects.append(sample_object(rng, num_frames, free_shapes, object_colours(background)))
    pan = (0.0, 0.0)
    if rng.random() < 0.3:
        speed = float(rng.uniform(0.006, 0.015)) * (1.0 if rng.random() < 0.5 else -1.0)
        # Landscapes pan sideways only: a vertical pan would move the horizon.
        vertical = background.kind != "landscape" and rng.random() < 0.3
        pan = (0.0, speed) if vertical else (speed, 0.0)
    return Scene(
        background=background,
        objects=tuple(objects),
        num_frames=num_frames,
        size=size,
        pan=pan,
        caption_seed=int(rng.integers(2**31)),
    )


def pick(rng: np.random.Generator, options: Iterable[str]) -> str:
    """One of `options`, uniformly."""
    options = tuple(options)
    return options[int(rng.integers(len(options)))]
