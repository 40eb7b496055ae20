"""End-to-end smoke run on the tiny preset and the tiny in-memory streams (about 5 minutes on
one CPU thread): trains VAE, text-to-image backbone, edit adapter and video adapter, then runs
the three baselines on held-out clips and prints how close the edited square is to the target
colour vs the source colour, the background error and the mean frame-to-frame difference.

    python -m reference.studies.smoke_tiny --root /tmp/eve_tiny_smoke

This checks that the parts learn and are wired together; it is not a benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class SmokeConfig:
    root: str = "/tmp/eve_tiny_smoke"
    vae_steps: int = 400
    t2i_steps: int = 600
    edit_steps: int = 800
    video_steps: int = 500
    seed: int = 0
    eval_clips: int = 6


def run(cfg: SmokeConfig) -> dict:
    from eve_bench.models.base import EditRequest
    from eve_bench.video import Video
    from reference import baselines, train_backbone, train_edit_adapter, train_video_adapter
    from reference.tiny_streams import COLOURS, TinyClipStream, TinyEditTripletStream, TinyImageCaptionStream

    w = f"{cfg.root}/model"
    common = dict(batch_size=8, checkpoint_every=0, log_every=50, ema_decay=0.99, seed=cfg.seed)
    images = lambda s: TinyImageCaptionStream(seed=s)  # noqa: E731
    train_backbone.train(train_backbone.BackboneTrainConfig(weights=w, preset="tiny", stage="vae", steps=cfg.vae_steps,
                                                            lr=2e-3, model_seed=cfg.seed, **common), images)
    train_backbone.train(train_backbone.BackboneTrainConfig(weights=w, stage="t2i", steps=cfg.t2i_steps, lr=1e-3, **common), images)
    train_edit_adapter.train(train_edit_adapter.EditTrainConfig(weights=w, steps=cfg.edit_steps, lr=1e-3, **common),
                             lambda s: TinyEditTripletStream(seed=s))
    common["batch_size"] = 4
    train_video_adapter.train(train_video_adapter.VideoTrainConfig(weights=w, steps=cfg.video_steps, lr=1e-3, **common),
                              lambda s: TinyClipStream(seed=s, num_frames=4))

    names = list(COLOURS)
    clips = iter(TinyClipStream(seed=10_000 + cfg.seed, num_frames=6))
    source_diff = np.mean([np.abs(np.diff(next(clips)["video"].astype(float), axis=0)).mean() for _ in range(cfg.eval_clips)])
    print(f"source clips: frame diff {source_diff:.1f}")
    report = {"source": dict(frame_diff=source_diff)}
    for name in ("per_frame_edit", "plug_and_play", "video_sdedit"):
        model = getattr(baselines, name)(weights=w, steps=20, guidance_scale=3.0, device="cpu")
        rows = []
        it = iter(TinyClipStream(seed=10_000 + cfg.seed, num_frames=6))
        for i in range(cfg.eval_clips):
            item = next(it)
            vid, cap = item["video"], item["caption"]
            fg, bg = cap.split()[1], cap.split()[-2]
            new = [c for c in names if c not in (fg, bg)][0]
            square = np.all(vid == np.array(COLOURS[fg], np.uint8), axis=-1)
            req = EditRequest(video=Video(frames=vid.copy(), fps=8.0), instruction=f"make the square {new}",
                              source_caption=cap, target_caption=cap.replace(fg, new, 1), task="texture", seed=i)
            out = model.edit(req).frames.astype(float)
            rows.append((
                np.abs(out[square] - np.array(COLOURS[new])).mean(),
                np.abs(out[square] - np.array(COLOURS[fg])).mean(),
                np.abs(out[~square] - vid[~square]).mean(),
                np.abs(np.diff(out, axis=0)).mean(),
            ))
        r = np.array(rows).mean(0)
        report[name] = dict(square_to_target=r[0], square_to_source=r[1], background_error=r[2], frame_diff=r[3])
        print(f"{name}: square->target {r[0]:.1f}  square->source {r[1]:.1f}  background err {r[2]:.1f}  "
              f"frame diff {r[3]:.1f}")
    return report


def main() -> None:
    import tyro

    torch.set_num_threads(1)
    run(tyro.cli(SmokeConfig))


if __name__ == "__main__":
    main()
