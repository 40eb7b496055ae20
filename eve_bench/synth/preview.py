"""A contact sheet of the synth suite: one row per task with source frames, instruction, ground
truth and edit mask, to see at a glance what the suite asks for (`eve-bench synth preview`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from eve_bench.figures import new_figure, save_png, show_image, text_cell
from eve_bench.sample import TGVE_PLUS_TASKS
from eve_bench.synth.suite import load_synth


def write_contact_sheet(
    path: str | os.PathLike, seed: int = 0, num_frames: int = 16, size: int = 64, frames_shown: int = 4
) -> Path:
    """Write the PNG and return its path. Row k shows task k on video k of the suite, so the
    sheet also shows seven different scenes."""
    suite = load_synth(n_videos=len(TGVE_PLUS_TASKS), seed=seed, num_frames=num_frames, size=size)
    rows = [next(s for s in suite.samples if s.task == task and s.video_id == f"synth-{k:03d}")
            for k, task in enumerate(suite.tasks)]
    shown = np.linspace(0, num_frames - 1, frames_shown).round().astype(int)

    widths = [1.0] * frames_shown + [2.6] + [1.0] * frames_shown + [1.0]
    cell = 1.25  # inches per frame; at 100 dpi a 64-pixel frame is drawn about twice its size
    fig = new_figure(figsize=(cell * sum(widths), cell * (len(rows) + 0.3)), dpi=100)
    grid = fig.add_gridspec(len(rows), len(widths), width_ratios=widths, wspace=0.04, hspace=0.12,
                            left=0.01, right=0.99, top=1 - 0.3 / (len(rows) + 0.3), bottom=0.01)
    for r, sample in enumerate(rows):
        source, truth, mask = sample.load_source().frames, sample.load_ground_truth().frames, sample.load_mask()
        for c, t in enumerate(shown):
            show_image(fig.add_subplot(grid[r, c]), source[t], f"source t={t}" if r == 0 else None)
            show_image(fig.add_subplot(grid[r, frames_shown + 1 + c]), truth[t], f"truth t={t}" if r == 0 else None)
        show_image(fig.add_subplot(grid[r, -1]), mask[shown[-1]], f"mask t={shown[-1]}" if r == 0 else None, grey=True)
        text_cell(fig.add_subplot(grid[r, frames_shown]), sample.task, sample.instruction)
    fig.suptitle(f"eve-bench synth suite v{suite.version}, seed {seed}: one sample per task "
                 f"(source | instruction | ground truth | edit mask)", fontsize=11, y=0.995)

    return save_png(fig, path)
