"""Signed distance to each shape, in the shape's own unit frame (negative inside).

Shapes fit in the unit disc. Polygons share one exact signed distance (nearest edge, sign from
an even-odd crossing test), so a new shape is just a list of vertices. Only +, -, *, sqrt and
comparisons touch pixels, all correctly rounded in IEEE arithmetic, so renders are byte-identical
on every machine.
"""

from __future__ import annotations

import math

import numpy as np

CIRCLE_RADIUS = 0.9


def _regular(n: int, radius: float, start: float = -math.pi / 2) -> tuple[tuple[float, float], ...]:
    return tuple(
        (radius * math.cos(start + 2 * math.pi * k / n), radius * math.sin(start + 2 * math.pi * k / n))
        for k in range(n)
    )


def _star(points: int, outer: float, inner: float) -> tuple[tuple[float, float], ...]:
    tips = _regular(points, outer)
    notches = _regular(points, inner, start=-math.pi / 2 + math.pi / points)
    return tuple(v for pair in zip(tips, notches) for v in pair)


_ARM = 0.32  # half width of the cross's arms
POLYGONS: dict[str, tuple[tuple[float, float], ...]] = {
    "square": ((-0.78, -0.78), (0.78, -0.78), (0.78, 0.78), (-0.78, 0.78)),
    "triangle": tuple((x, y + 0.15) for x, y in _regular(3, 1.0)),  # centred on its area
    "star": _star(5, 1.0, 0.45),
    "diamond": ((0.0, -1.0), (0.68, 0.0), (0.0, 1.0), (-0.68, 0.0)),
    "hexagon": _regular(6, 0.92, start=0.0),
    "cross": (
        (-_ARM, -0.95), (_ARM, -0.95), (_ARM, -_ARM), (0.95, -_ARM), (0.95, _ARM), (_ARM, _ARM),
        (_ARM, 0.95), (-_ARM, 0.95), (-_ARM, _ARM), (-0.95, _ARM), (-0.95, -_ARM), (-_ARM, -_ARM),
    ),
}


def signed_distance(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Distance from (u, v) to the shape's outline, negative inside; same shape as u."""
    if shape == "circle":
        return np.sqrt(u * u + v * v) - CIRCLE_RADIUS
    return _polygon_distance(POLYGONS[shape], u, v)


def _polygon_distance(vertices, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    # All edges at once, along a new leading axis: a few large numpy calls rather than many small ones.
    a = np.asarray(vertices, dtype=np.float64)
    e = np.roll(a, -1, axis=0) - a
    edge = lambda column: column.astype(np.float32).reshape((-1,) + (1,) * u.ndim)  # noqa: E731
    ax, ay, ex, ey = edge(a[:, 0]), edge(a[:, 1]), edge(e[:, 0]), edge(e[:, 1])
    wx, wy = u - ax, v - ay
    h = np.clip((wx * ex + wy * ey) / edge((e * e).sum(axis=1)), 0.0, 1.0)
    dx, dy = wx - ex * h, wy - ey * h
    distance = np.sqrt((dx * dx + dy * dy).min(axis=0))
    # Even-odd rule: count the edges a ray from the point towards +u crosses. The intersection
    # test is multiplied out by ey (keeping its sign) rather than divided by it, as horizontal
    # edges have ey = 0; they never straddle the ray anyway.
    straddles = (ay > v) != ((ay + ey) > v)
    left_of_edge = (wx * ey - wy * ex) * edge(np.sign(e[:, 1])) < 0
    inside = np.logical_xor.reduce(straddles & left_of_edge, axis=0)
    return np.where(inside, -distance, distance)
