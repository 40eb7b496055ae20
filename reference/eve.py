"""The reference EVE student as an eve-bench model (spec `reference.eve`).

The student is the checkpoint's backbone with both adapters and the LoRA θ_align trained by
Factorized Diffusion Distillation (`python -m reference.train_fdd`), stored in the checkpoint as
`align/` (the ablations of the paper's Table 2 as `align_<variant>/`). It edits the first frame
with the edit adapter, then samples the clip with the student, DDIM with 3-way guidance, in
windows of the video adapter's length chained through their first frame, exactly as
plug-and-play does without the LoRA.

Model args: those of the reference baselines (weights, steps, guidance_scale,
image_guidance_scale, first_frame_steps, device, precision), `variant`: eve (default), random_init,
no_sds, no_disc, no_kbin, and `seed`: the training seed (default 0, the default students; others
live in `align*_seed<N>/`). Sampling settings not given come from the checkpoint's `sampling` entry under "eve",
else the flat keys, else `reference.checkpoint.SAMPLING_DEFAULTS`.
"""

from __future__ import annotations

from eve_bench.errors import ModelNotReadyError
from reference import baselines
from reference.baselines import PlugAndPlay
from reference.student import LORA_FILE, load_student, student_folder


class EVEStudent(PlugAndPlay):
    name = "reference.eve"
    key = "eve"
    align = True

    def __init__(self, variant: str = "eve", seed: int = 0, **kwargs):
        try:
            folder = student_folder(variant, int(seed))
        except ValueError as e:
            raise ValueError(f"reference.eve: {e}") from None
        super().__init__(**kwargs)
        self.variant = variant
        directory = self.model_dir / folder if self.model_dir else None
        if directory is None or not (directory / LORA_FILE).is_file():
            flags = {"eve": "", "random_init": " --random-init", "no_sds": " --no-sds", "no_disc": " --no-adversarial",
                     "no_kbin": " --no-kbin"}[variant]
            raise ModelNotReadyError(
                f"reference.eve: the checkpoint {self.weights} has no trained student {folder}/ ({LORA_FILE}). "
                f"Train it by Factorized Diffusion Distillation: python -m reference.train_fdd --weights {self.weights} "
                f"--name {folder}{flags}{f' --seed {int(seed)}' if int(seed) else ''} (docs/fdd.md). The same adapters "
                f"without alignment: --model plug_and_play"
            )
        self.model = load_student(self.model, directory).to(self.device)
        self.name += ("" if variant == "eve" else f":{variant}") + (f":seed{int(seed)}" if int(seed) else "")


def load(**kwargs) -> EVEStudent:
    return EVEStudent(**kwargs)


def reads(variant: str = "eve", seed: int = 0, **kwargs) -> dict:
    """What the student loads: plug-and-play's parts and its own folder (`baselines.reads`), so
    its cached results outlive the other students trained into the same checkpoint."""
    parts = baselines.reads(**kwargs)
    try:
        folder = student_folder(variant, int(seed))
    except ValueError:  # loading says what is wrong
        return parts
    for files in parts.values():
        files["student"] = files["eve_config.json"].parent / folder
    return parts


load.reads = reads
