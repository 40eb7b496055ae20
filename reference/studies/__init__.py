"""Studies and tools run on a checkpoint, each a command (`python -m reference.studies.<name>`):
preview (a checkpoint's contact sheet), vae_ceiling (the best a reference model can score through
its VAE), edit_diagnostics (where the edit adapter's loss comes from) and smoke_tiny (every part
trained on tiny data, end to end). They use the model parts and trainers; nothing imports them."""
