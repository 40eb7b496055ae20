"""Encoders behind the learned metrics (CLIP, PickScore, ViCLIP) and their embedding cache."""
