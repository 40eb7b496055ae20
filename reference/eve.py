"""The reference EVE student as an eve-bench model (spec `reference.eve`).

The student (backbone + frozen edit and video adapters + LoRA θ_align trained by Factorized
Diffusion Distillation) is not trained yet, so `load` refuses to run instead of returning a
stand-in edit. Until then use the baselines in `reference.baselines`.
"""

from __future__ import annotations

from eve_bench.models.base import ModelNotReadyError


def load(**kwargs):
    raise ModelNotReadyError(
        "the reference EVE student is not trained yet: it needs LoRA weights (θ_align) aligned by "
        "Factorized Diffusion Distillation on top of a reference checkpoint (backbone, edit adapter, "
        "video adapter), and the FDD trainer is not part of this release. The checkpoint parts are "
        "trained with `bash reference/train_synth.sh` (see docs/reference.md). Meanwhile evaluate the "
        "same stack without alignment: --model reference.baselines:plug_and_play --model-args weights=DIR"
    )
