"""Figures without pyplot: an Agg-backed matplotlib Figure, written atomically as a PNG.

pyplot keeps global state and picks a GUI backend; the harness only ever writes files, so every
plot (leaderboards, the validity heatmap, contact sheets) goes through these helpers instead."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np

from eve_bench.atomic import atomic_file


def new_figure(**kwargs):
    """A matplotlib Figure with an Agg canvas attached (so tight_layout and saving work)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def save_png(fig, path: str | os.PathLike, dpi: float | None = None) -> Path:
    """Write `fig` to `path` through a temporary file and a rename: a reader never sees half a PNG."""
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=dpi or fig.dpi, format="png")
    return Path(path)


def show_image(ax, image: np.ndarray, title: str | None = None, grey: bool = False, fontsize: float = 9) -> None:
    """Draw a uint8 RGB frame (or a {0, 1} mask with grey=True) pixel-exact, without axes."""
    ax.imshow(image, interpolation="nearest", cmap="gray" if grey else None, vmin=0, vmax=1 if grey else None)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=fontsize)


def text_cell(ax, title: str, body: str, width: int = 34, fontsize: float = 9) -> None:
    """A cell of a contact sheet that holds words: a bold title over wrapped body text."""
    ax.axis("off")
    ax.text(0.04, 0.92, title, fontsize=fontsize + 3, fontweight="bold", va="top", transform=ax.transAxes)
    ax.text(0.04, 0.72, textwrap.fill(body, width), fontsize=fontsize, va="top", transform=ax.transAxes)
