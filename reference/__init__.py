"""Reference implementation of EVE (Emu Video Edit) and its baselines, on diffusers.

Parts (see docs/reference.md): `presets`, `tokenizer`, `backbone` (frozen text-to-image model),
`edit_adapter` (ControlNet θ_edit), `video_adapter` (temporal layers θ_video), `checkpoint`
(EVEModel: one directory for all parts, sd15 loading), `sampling` (DDIM teachers and the
plug-and-play stack), `train_backbone` / `train_edit_adapter` / `train_video_adapter`
(accelerate entry points), `baselines` and `eve` (eve-bench models).
"""
