"""A contact sheet of a reference checkpoint: what each trained part does, at a glance.

Three panels on samples of the synth suite (everything seeded: one checkpoint, one sheet):
  backbone samples  text-to-image from the suite's source captions (the frozen backbone alone)
  per-frame edits   the edit teacher as evaluated (`reference.baselines:per_frame_edit`), one
                    sample per task: source frames | instruction | edited frames | ground truth,
                    and, where the checkpoint has a trained student (align/), the EVE student's
                    edit of the same sample (`reference.eve`) beside it
  video teacher     clips from the video adapter: plain text-to-video from a caption, and the
                    same caption conditioned on the source's clean first frame (how EVE uses it)

    python -m reference.studies.preview --weights reference/weights/synth --out docs/reference_synth_sheet.png
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from eve_bench.figures import new_figure, save_png, show_image, text_cell
from eve_bench.models.base import EditRequest
from eve_bench.sample import TGVE_PLUS_TASKS
from eve_bench.synth.suite import load_synth
from reference import sampling
from reference.baselines import PerFrameEdit


@dataclass
class PreviewConfig:
    """Draw the contact sheet of a reference checkpoint: backbone samples, the per-frame edit
    teacher on one synth sample per task, and video-teacher clips."""

    weights: str | None = None
    """EVE checkpoint directory (default: $EVE_REFERENCE_WEIGHTS or the shipped synth weights)"""
    out: str = "docs/reference_synth_sheet.png"
    seed: int = 0
    """sampling seed"""
    suite_seed: int = 0
    """seed of the synth suite the samples are drawn from"""
    steps: int = 20
    """DDIM steps for every panel"""
    frames_shown: int = 4
    device: str | None = None


def _uint8(model, latents: torch.Tensor) -> np.ndarray:
    """Scaled latents (N, C, h, w) -> uint8 frames (N, R, R, 3)."""
    r = model.config.resolution
    return sampling.tensor_to_frames(model.backbone.decode_latents(latents), (r, r))


@torch.inference_mode()
def write_reference_sheet(model, path, seed: int = 0, suite_seed: int = 0, steps: int = 20,
                          frames_shown: int = 4, title: str = "", student=None) -> Path:
    """Render the three panels for `model` (an EVEModel with both adapters) and write the PNG;
    `student`: an eve-bench editor (the EVE student) whose edits join the per-frame panel."""
    cfg = model.config
    n_tasks = len(TGVE_PLUS_TASKS)
    suite = load_synth(n_videos=n_tasks, seed=suite_seed, num_frames=cfg.num_frames, size=cfg.resolution)
    samples = [next(s for s in suite.samples if s.task == task and s.video_id == f"synth-{k:03d}")
               for k, task in enumerate(suite.tasks)]
    shown = np.linspace(0, cfg.num_frames - 1, frames_shown).round().astype(int)
    gen = torch.Generator("cpu").manual_seed(seed)
    backbone = _uint8(model, sampling.generate_images(model, [s.source_caption for s in samples], gen, steps=steps))
    editor = PerFrameEdit(model=model, steps=steps, device=str(model.backbone.device))

    cell = 1.2  # inches per frame
    edit_widths = [1.0] * frames_shown + [2.6] + [1.0] * frames_shown * (2 if student else 1) + [1.0]
    n_video = 3
    video_widths = [2.6] + [1.0] * cfg.num_frames
    width = cell * max(sum(edit_widths), sum(video_widths), n_tasks)
    head = 0.6  # room (in cells) for a panel's heading and its column titles
    heights = [0.35, 1.0 + 2 * head, n_tasks + head, 2 * n_video + head]
    fig = new_figure(figsize=(width, cell * sum(heights)), dpi=100)
    banner, top, mid, bottom = fig.subfigures(4, 1, height_ratios=heights)
    banner.text(0.5, 0.5, title or f"reference checkpoint: synth suite seed {suite_seed}, sampling seed {seed}, "
                f"{steps} DDIM steps", fontsize=12, ha="center", va="center")

    top.suptitle("backbone: text-to-image from the source caption", fontsize=11, x=0.01, ha="left")
    axes = top.subplots(1, n_tasks, gridspec_kw=dict(wspace=0.05, left=0.01, right=0.99, bottom=0.02, top=1.0 / heights[1]))
    for ax, image, s in zip(np.atleast_1d(axes), backbone, samples):
        show_image(ax, image, textwrap.fill(s.source_caption, 30), fontsize=6)

    mid.suptitle("edit teacher, per frame (reference.baselines:per_frame_edit): source | instruction | edit | "
                 + ("EVE student (reference.eve) | " if student else "") + "truth", fontsize=11, x=0.01, ha="left")
    grid = mid.add_gridspec(n_tasks, len(edit_widths), width_ratios=edit_widths, wspace=0.04, hspace=0.1,
                            left=0.01, right=0.99, top=1 - head / heights[2], bottom=0.01)
    for r, s in enumerate(samples):
        source, truth = s.load_source(), s.load_ground_truth().frames
        request = EditRequest(video=source, instruction=s.instruction, source_caption=s.source_caption,
                              target_caption=s.target_caption, task=s.task, seed=seed + r)
        edited = editor.edit(request).frames
        aligned = student.edit(request).frames if student else None
        for c, t in enumerate(shown):
            show_image(mid.add_subplot(grid[r, c]), source.frames[t], f"source t={t}" if r == 0 else None)
            show_image(mid.add_subplot(grid[r, frames_shown + 1 + c]), edited[t], f"edit t={t}" if r == 0 else None)
            if student:
                show_image(mid.add_subplot(grid[r, 2 * frames_shown + 1 + c]), aligned[t],
                           f"EVE t={t}" if r == 0 else None)
        show_image(mid.add_subplot(grid[r, -1]), truth[shown[-1]], f"truth t={shown[-1]}" if r == 0 else None)
        text_cell(mid.add_subplot(grid[r, frames_shown]), s.task, s.instruction, fontsize=8)

    bottom.suptitle("video teacher: text-to-video, then the same caption from the source's first frame",
                    fontsize=11, x=0.01, ha="left")
    grid = bottom.add_gridspec(2 * n_video, len(video_widths), width_ratios=video_widths, wspace=0.04, hspace=0.1,
                               left=0.01, right=0.99, top=1 - head / heights[3], bottom=0.01)
    bb = model.backbone
    for k, s in enumerate(samples[:n_video]):
        first = bb.encode_images(sampling.frames_to_tensor(s.load_source().frames[:1], cfg.resolution, bb.device, bb.dtype))[0]
        for j, (label, ff) in enumerate((("text-to-video", None), ("first frame given", first))):
            lat = sampling.generate_video(model, cfg.num_frames, s.source_caption, gen, steps=steps, first_frame=ff)
            clip = _uint8(model, sampling.frames_to_batch(lat))
            r = 2 * k + j
            text_cell(bottom.add_subplot(grid[r, 0]), label, s.source_caption, fontsize=8)
            for t in range(cfg.num_frames):
                show_image(bottom.add_subplot(grid[r, 1 + t]), clip[t], f"t={t}" if r == 0 else None)
    return save_png(fig, path)


def main() -> None:
    import tyro

    from reference.checkpoint import EVEModel
    from reference.weights import resolve_weights

    cfg = tyro.cli(PreviewConfig)
    path = resolve_weights(cfg.weights, ("edit_adapter", "video_adapter"), "reference.studies.preview")
    from reference.eve import EVEStudent
    from reference.student import LORA_FILE, student_folder

    model = EVEModel.from_pretrained(path, require=("edit_adapter", "video_adapter"))
    device = cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model.to(torch.device(device))
    has_student = (path / student_folder() / LORA_FILE).is_file()
    student = EVEStudent(weights=path, device=device, steps=cfg.steps) if has_student else None
    out = write_reference_sheet(model, cfg.out, seed=cfg.seed, suite_seed=cfg.suite_seed, steps=cfg.steps,
                                frames_shown=cfg.frames_shown,
                                title=f"reference checkpoint {path}: synth suite seed {cfg.suite_seed}, "
                                      f"sampling seed {cfg.seed}, {cfg.steps} DDIM steps",
                                student=student)
    print(out)


if __name__ == "__main__":
    main()
