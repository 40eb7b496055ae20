"""The reference checkpoints this folder ships (`synth/`, with the command and logs that made it in
its TRAINING.md), and where a reference model's weights come from: an explicit `weights=` directory
(or a hub id in the local Hugging Face cache, through eve-bench's one local-weights resolver), the
environment variable EVE_REFERENCE_WEIGHTS, or the shipped checkpoint of a preset here."""

from __future__ import annotations

import os
from pathlib import Path

from eve_bench.encoders.local_weights import local_folder
from eve_bench.errors import ModelNotReadyError

SHIPPED_DIR = Path(__file__).resolve().parent
ENV_VAR = "EVE_REFERENCE_WEIGHTS"
DEFAULT_PRESET = "synth"

HOW_TO_TRAIN = (
    "train them with `python -m reference.train_backbone --stage vae`, then `--stage t2i`, then "
    "`python -m reference.train_edit_adapter` and `python -m reference.train_video_adapter` "
    "(issue 5; see docs/reference.md), or build an sd15 checkpoint from local SD1.5 + "
    "control_v11e_sd15_ip2p + AnimateDiff directories with reference.checkpoint.load_sd15"
)


def resolve_weights(weights: str | os.PathLike | None, needs: tuple[str, ...], model_name: str) -> Path:
    """The checkpoint directory to load, or ModelNotReadyError naming what is missing and how to get it."""
    if weights is None:
        env = os.environ.get(ENV_VAR)
        if env:
            weights = env
        elif (SHIPPED_DIR / DEFAULT_PRESET / "eve_config.json").is_file():
            weights = SHIPPED_DIR / DEFAULT_PRESET
        else:
            raise ModelNotReadyError(
                f"{model_name}: no reference weights. Pass weights=<EVE checkpoint dir> (model args), set "
                f"{ENV_VAR}, or put a checkpoint at {SHIPPED_DIR / DEFAULT_PRESET} (where the shipped one lives). "
                f"The model needs: backbone, {', '.join(needs)}. To make them, {HOW_TO_TRAIN}."
            )
    path = local_folder(str(weights)) or Path(weights).expanduser()
    if not (path / "eve_config.json").is_file():
        raise ModelNotReadyError(
            f"{model_name}: {path} is not an EVE reference checkpoint (no eve_config.json). "
            f"Expected <dir>/eve_config.json, <dir>/backbone/, and {', '.join(needs)}; {HOW_TO_TRAIN}."
        )
    return path
