"""Named colours of the synthetic world.

Every colour a caption can name lives here, so captions and pixels cannot disagree. No channel
value sits on the quantisation levels of the pixel-art or poster styles, so those styles visibly
change flat regions too (a style edit should change nearly every pixel).
"""

from __future__ import annotations

import numpy as np

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (214, 46, 38),
    "orange": (244, 139, 29),
    "yellow": (242, 211, 43),
    "green": (58, 166, 73),
    "cyan": (41, 189, 201),
    "blue": (39, 87, 199),
    "purple": (131, 61, 169),
    "pink": (236, 118, 173),
    "white": (243, 242, 237),
    "black": (31, 30, 36),
}

# Second colour of striped / dotted / checked surfaces: light on dark colours, dark on light ones.
_LIGHT_PATTERN = (247, 246, 240)
_DARK_PATTERN = (52, 48, 58)


def rgb(name: str) -> tuple[int, int, int]:
    return COLOURS[name]


def pattern_rgb(name: str) -> tuple[int, int, int]:
    r, g, b = COLOURS[name]
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    return _DARK_PATTERN if luma > 165 else _LIGHT_PATTERN


def mix(a, b, w):
    """Blend colour (or image) a towards b by weight w in [0, 1]; w broadcasts over channels."""
    w = np.asarray(w, np.float32)[..., None]
    return a * (1.0 - w) + b * w
