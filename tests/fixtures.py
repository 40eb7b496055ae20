"""Small datasets in the real TGVE / TGVE+ layouts, built inside a test's temp dir."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eve_bench.video import Video, write_mp4

CSV_HEADER = "Video name,Our GT caption,Style Change Caption,Object Change Caption,Background Change Caption,Multiple Changes Caption\n"


def moving_square_video(seed: int, frames: int = 6, size: int = 32) -> Video:
    rng = np.random.default_rng(seed)
    bg = rng.integers(0, 256, size=3, dtype=np.uint8)
    fg = 255 - bg
    out = np.empty((frames, size, size, 3), np.uint8)
    for t in range(frames):
        out[t] = bg
        x = 2 + 3 * t
        out[t, 8:16, x : x + 8] = fg
    return Video(out, fps=10.0)


def make_tgve_zip_layout(root: Path, videos: dict[str, list[str]], missing: tuple[str, ...] = ()) -> Path:
    """The official zip layout: CSV with group header rows, <group>/480p_videos/<video>.mp4."""
    root.mkdir(parents=True, exist_ok=True)
    headers = {"DAVIS_480p": "DAVIS Videos:", "youtube_480p": "Youtube Videos:", "videvo_480p": "Videvo Videos:"}
    lines = [CSV_HEADER]
    seed = 0
    for group, names in videos.items():
        lines.append(f"{headers[group]},,,,,\n")
        for name in names:
            seed += 1
            lines.append(f"{name},A {name} video.,A {name} video in van Gogh style.,A {name} robot.,A {name} on the moon.,A {name} robot on the moon.\n")
            if name not in missing:
                write_mp4(moving_square_video(seed), root / group / "480p_videos" / f"{name}.mp4")
        lines.append(",,,,,\n")
    (root / "LOVEU-TGVE-2023_Dataset.csv").write_text("".join(lines))
    return root
