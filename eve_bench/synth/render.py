"""Scene -> uint8 frames (T, H, W, 3), vectorised over frames and pixels.

Edges are anti-aliased by signed-distance coverage: a pixel is covered in proportion to how far
its centre lies inside an outline, measured in pixels (a one-pixel linear ramp, close to a box
filter and far cheaper than supersampling). Pixels a shape does not reach get coverage exactly 0,
and compositing with coverage 0 returns the pixel below bit for bit, so an edit provably leaves
everything outside its layers untouched (see masks.py).
"""

from __future__ import annotations

import math

import numpy as np

from eve_bench.synth.motion import object_poses
from eve_bench.synth.palette import mix, pattern_rgb, rgb
from eve_bench.synth.scene import Background, Scene, SceneObject
from eve_bench.synth.shapes import signed_distance
from eve_bench.synth.styles import apply_style

# Surface patterns, in the object's unit frame (radius 1), so they move, turn and scale with it.
_STRIPE_PERIOD = 0.7
_CHECK_PERIOD = 0.8
_DOT_PERIOD, _DOT_RADIUS = 0.7, 0.2

# Landscape materials: (dark, light) colours mixed by a noise field.
_SKY_TOP, _SKY_HORIZON = (96, 160, 230), (186, 216, 242)
_GROUNDS = {
    "grass": ((50, 122, 44), (106, 180, 80)),
    "water": ((30, 84, 164), (112, 166, 220)),
    "sand": ((201, 166, 102), (234, 207, 146)),
    "snow": ((214, 222, 236), (248, 249, 252)),
}


def render_scene(scene: Scene) -> np.ndarray:
    frames = composite(scene)
    if scene.style is not None:
        frames = apply_style(scene.style, frames)
    return to_uint8(frames)


def composite(scene: Scene) -> np.ndarray:
    """Float32 frames (T, H, W, 3) in 0..255, before any style."""
    frames = render_background(scene.background, scene.pan, scene.num_frames, scene.size)
    for obj in scene.objects:
        window = _ObjectWindow(obj, scene.num_frames, scene.size)
        coverage, colour = window.shade(obj)
        alpha = coverage[..., None]
        frames[window.index] = frames[window.index] * (1.0 - alpha) + colour * alpha
    return frames


def to_uint8(frames: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y of pixel centres in frame units, each (1, size, size) float32."""
    c = (np.arange(size, dtype=np.float32) + 0.5) / size
    return c[None, None, :].repeat(size, axis=1), c[None, :, None].repeat(size, axis=2)


# ----------------------------------------------------------------------------------------------
# Objects


def object_coverage(obj: SceneObject, num_frames: int, size: int) -> np.ndarray:
    window = _ObjectWindow(obj, num_frames, size)
    return window.paste(window.coverage(obj.shape))


# Shapes fit in the unit disc except the triangle's corners, at 1.08 units from its centre.
_SHAPE_BOUND = 1.1


class _ObjectWindow:
    """A square of pixels per frame that contains the object, in the object's unit frame.

    Shading and compositing only these pixels (a fifth of the frame for a typical object) is what
    makes rendering fast; pixels outside have coverage exactly 0, so they are left as they are.
    """

    def __init__(self, obj: SceneObject, num_frames: int, size: int) -> None:
        poses = object_poses(obj, num_frames)
        reach = math.ceil(obj.max_extent() * _SHAPE_BOUND * size) + 1
        side = min(size, 2 * reach + 1)
        # Window corners per frame, slid back inside the frame where the object touches an edge.
        left = np.clip(np.floor(poses.x * size).astype(int) - reach, 0, size - side)
        top = np.clip(np.floor(poses.y * size).astype(int) - reach, 0, size - side)
        offsets = np.arange(side)
        self.shape = (num_frames, size, size)
        self.index = (np.arange(num_frames)[:, None, None], (top[:, None] + offsets)[:, :, None],
                      (left[:, None] + offsets)[:, None, :])
        # Same arithmetic as pixel_grid, so a pixel's value does not depend on its window.
        x = (self.index[2] + np.float32(0.5)).astype(np.float32) / np.float32(size)
        y = (self.index[1] + np.float32(0.5)).astype(np.float32) / np.float32(size)
        col = lambda a: np.asarray(a, dtype=np.float32)[:, None, None]  # noqa: E731  (T,) -> (T, 1, 1)
        units = col(obj.radius * poses.scale)
        cos = col([math.cos(a) for a in poses.angle])
        sin = col([math.sin(a) for a in poses.angle])
        dx, dy = x - col(poses.x), y - col(poses.y)
        self.u = (cos * dx + sin * dy) / units
        self.v = (cos * dy - sin * dx) / units
        self.px_per_unit = units * size

    def coverage(self, shape: str) -> np.ndarray:
        return _coverage(signed_distance(shape, self.u, self.v) * self.px_per_unit)

    def shade(self, obj: SceneObject) -> tuple[np.ndarray, np.ndarray]:
        """(coverage (T, side, side), surface colour broadcastable to (T, side, side, 3))."""
        base = np.asarray(rgb(obj.colour), dtype=np.float32)
        if obj.texture == "solid":
            return self.coverage(obj.shape), base
        pattern = _surface_pattern(obj.texture, self.u, self.v, self.px_per_unit)
        return self.coverage(obj.shape), mix(base, np.asarray(pattern_rgb(obj.colour), np.float32), pattern)

    def paste(self, values: np.ndarray) -> np.ndarray:
        """Window values (T, side, side[, C]) placed in a zero frame (T, H, W[, C])."""
        out = np.zeros(self.shape + values.shape[3:], dtype=np.float32)
        out[self.index] = values
        return out


def _surface_pattern(texture: str, u: np.ndarray, v: np.ndarray, px_per_unit: np.ndarray) -> np.ndarray:
    if texture == "striped":
        return band(u + v, _STRIPE_PERIOD * math.sqrt(2.0), px_per_unit / math.sqrt(2.0))
    if texture == "checked":
        a, b = band(u, _CHECK_PERIOD, px_per_unit), band(v, _CHECK_PERIOD, px_per_unit)
        return a + b - 2.0 * a * b  # anti-aliased exclusive or
    if texture == "dotted":
        fu = u / _DOT_PERIOD - np.floor(u / _DOT_PERIOD) - 0.5
        fv = v / _DOT_PERIOD - np.floor(v / _DOT_PERIOD) - 0.5
        return _coverage((np.sqrt(fu * fu + fv * fv) * _DOT_PERIOD - _DOT_RADIUS) * px_per_unit)
    raise ValueError(f"unknown texture {texture!r}")


def band(c: np.ndarray, period: float, px_per_unit) -> np.ndarray:
    """Anti-aliased stripes along c: 1 on the middle half of every period, 0 on the rest."""
    f = c / period - np.floor(c / period)
    return _coverage((np.abs(f - 0.5) - 0.25) * period * px_per_unit)


def _coverage(distance_px: np.ndarray) -> np.ndarray:
    return np.clip(0.5 - distance_px, 0.0, 1.0).astype(np.float32, copy=False)


# ----------------------------------------------------------------------------------------------
# Backgrounds


def render_background(bg: Background, pan: tuple[float, float], num_frames: int, size: int) -> np.ndarray:
    """(T, H, W, 3) float32. The background is an endless plane that the pan scrolls across."""
    x, y = pixel_grid(size)
    if pan != (0.0, 0.0):
        t = np.arange(num_frames, dtype=np.float32)[:, None, None]
        x, y = x + np.float32(pan[0]) * t, y + np.float32(pan[1]) * t
    image = _background_image(bg, x, y, size)
    return np.broadcast_to(image, (num_frames, size, size, 3)).astype(np.float32)


def _background_image(bg: Background, x: np.ndarray, y: np.ndarray, size: int) -> np.ndarray:
    c1, c2 = np.asarray(rgb(bg.colour), np.float32), np.asarray(rgb(bg.colour2), np.float32)
    if bg.kind == "flat":
        return np.broadcast_to(c1, x.shape + (3,))
    if bg.kind == "landscape":
        return _landscape(bg, x, y, size)
    if bg.kind == "gradient":
        c = _directional(bg.orientation, x, y)
        f = np.mod(c, 2.0)
        w = np.where(f > 1.0, 2.0 - f, f)  # mirrored, so a pan never reaches a seam
    elif bg.kind == "stripes":
        w = band(_directional(bg.orientation, x, y), bg.scale, size)
    elif bg.kind == "checks":
        a, b = band(x, bg.scale, size), band(y, bg.scale, size)
        w = a + b - 2.0 * a * b
    elif bg.kind == "noise":
        w = value_noise(bg.seed, x, y, cells=(round(1 / bg.scale), round(1 / bg.scale)))
    else:
        raise ValueError(f"unknown background kind {bg.kind!r}")
    return mix(c1, c2, w)


def _directional(orientation: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The coordinate that varies across horizontal / vertical / diagonal stripes and gradients."""
    if orientation == "horizontal":
        return y
    if orientation == "vertical":
        return x
    return (x + y) / math.sqrt(2.0)


def _landscape(bg: Background, x: np.ndarray, y: np.ndarray, size: int) -> np.ndarray:
    sky_top, sky_horizon = np.asarray(_SKY_TOP, np.float32), np.asarray(_SKY_HORIZON, np.float32)
    sky = mix(sky_top, sky_horizon, np.clip(y / bg.horizon, 0.0, 1.0))
    # Water gets long horizontal ripples; the other grounds a blotchy texture.
    cells = (3, 16) if bg.ground == "water" else (8, 8)
    dark, light = (np.asarray(c, np.float32) for c in _GROUNDS[bg.ground])
    ground = mix(dark, light, value_noise(bg.seed, x, y, cells))
    return mix(sky, ground, _coverage((bg.horizon - y) * size))


def value_noise(seed: int, x: np.ndarray, y: np.ndarray, cells: tuple[int, int]) -> np.ndarray:
    """Smooth noise in [0, 1] that tiles every frame width, from two octaves of random lattices."""
    rng = np.random.default_rng(seed)
    coarse = _lattice_noise(rng.random((cells[1], cells[0]), dtype=np.float32), x, y)
    fine = _lattice_noise(rng.random((2 * cells[1], 2 * cells[0]), dtype=np.float32), x, y)
    return np.clip((0.65 * coarse + 0.35 * fine - 0.5) * 1.8 + 0.5, 0.0, 1.0)


def _lattice_noise(lattice: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ny, nx = lattice.shape
    gx, gy = x * nx, y * ny
    ix, iy = np.floor(gx), np.floor(gy)
    fx, fy = gx - ix, gy - iy
    fx, fy = fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy)  # smoothstep: no grid creases
    x0, y0 = np.mod(ix, nx).astype(np.intp), np.mod(iy, ny).astype(np.intp)
    x1, y1 = (x0 + 1) % nx, (y0 + 1) % ny
    top = lattice[y0, x0] * (1.0 - fx) + lattice[y0, x1] * fx
    bottom = lattice[y1, x0] * (1.0 - fx) + lattice[y1, x1] * fx
    return top * (1.0 - fy) + bottom * fy

