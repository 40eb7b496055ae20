"""Reference implementation of EVE (Emu Video Edit) and its baselines, on diffusers."""
