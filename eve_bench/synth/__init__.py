"""Procedural videos with exact ground truth for the seven TGVE+ edit tasks.

Modules, in dependency order: palette (named colours), scene (frozen scene dataclasses and their
sampling), motion (per-frame poses), shapes (signed distances), styles (global looks), render
(scene -> uint8 frames), masks (ground-truth edit masks), captions, tasks (the seven edits),
suite (the `synth` evaluation suite), streams (torch training streams), preview (contact sheet),
train_encoders (the trainer of the small CLIP and ViCLIP encoders the suite ships).

Import the submodules directly; this package imports nothing, so `eve_bench.synth.suite` loads
without torch.
"""
