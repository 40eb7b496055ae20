"""Weights eve-bench trains and ships itself: the small encoders of the synthetic suite.

- `synth-clip/`: a small transformers CLIPModel + CLIP processor, for `ClipEncoder.load(dir, dir)`;
- `synth-viclip/`: a small ViCLIP in `ViCLIP.save_pretrained`'s format, for `load_viclip(dir)`.

They only mean something on the `synth` suite's procedural videos; see docs/synth-encoders.md.
Each folder's TRAINING.md records how it was made.
"""

from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent
SYNTH_CLIP_DIR = WEIGHTS_DIR / "synth-clip"
SYNTH_VICLIP_DIR = WEIGHTS_DIR / "synth-viclip"
