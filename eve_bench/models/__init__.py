"""Model registry and resolution of `--model` specs.

`--model` accepts a registered short name (built-in or from the `eve_bench.models` entry-point
group), `package.module` (its `load(**kwargs)` factory is called) or `package.module:Name` (a class
or factory called with the model args). Add a model: write a module with `load(**kwargs)` returning
an object with `edit(request) -> Video`, then either pass its import path or register a short name.
"""

from __future__ import annotations

import importlib
import inspect

from eve_bench.errors import UnknownNameError
from eve_bench.models.base import EditRequest, VideoEditor
from eve_bench.registry import Registry, import_attr

MODELS: Registry = Registry("model", entry_point_group="eve_bench.models")
MODELS.register("identity", "eve_bench.models.identity:IdentityEditor")
# The reference models (per_frame_edit, video_sdedit, plug_and_play, eve) come through the
# eve_bench.models entry points in pyproject.toml, as any other package's models do.
# Public weights through diffusers (eve_bench/models/diffusers_pipeline.py; docs/baselines.md).
MODELS.register("diffusers", "eve_bench.models.diffusers_pipeline:load")
for _name in ("instruct_pix2pix", "animatediff_sdedit", "wan_sdedit", "lucy_edit"):
    MODELS.register(_name, f"eve_bench.models.diffusers_pipeline:{_name}")

# One line each for `eve-bench list models` (kept here so that listing imports no model code;
# the reference models' lines too, though their names come from entry points).
DESCRIPTIONS = {
    "identity": "returns the source video: the floor every leaderboard shows",
    "per_frame_edit": "reference edit teacher (backbone + ControlNet) on every frame; shipped synth weights",
    "video_sdedit": "reference video teacher re-noising the source to strength 0.75 (SDEdit); shipped synth weights",
    "plug_and_play": "reference adapters stacked without alignment (EVE's w/o-alignment ablation)",
    "eve": "reference EVE student aligned by FDD (shipped synth student; variant=... for its ablations)",
    "diffusers": "any local diffusers editing pipeline: path=DIR[,pipeline=ClassName] (docs/baselines.md)",
    "instruct_pix2pix": "InstructPix2Pix on every frame (timbrooks/instruct-pix2pix)",
    "animatediff_sdedit": "SDEdit at strength 0.75 with AnimateDiff on SD-1.5 (EVE's SDEdit baseline)",
    "wan_sdedit": "SDEdit at strength 0.75 with Wan 2.1 T2V 1.3B (Wan-AI/Wan2.1-T2V-1.3B-Diffusers)",
    "lucy_edit": "Lucy-Edit-Dev instruction-guided video editing (decart-ai/Lucy-Edit-Dev)",
}


def resolve_factory(spec: str):
    """The callable that builds the model named by `spec`."""
    if spec in MODELS:
        return MODELS.get(spec)
    if ":" in spec:
        try:
            return import_attr(spec)
        except (ImportError, AttributeError) as e:
            raise UnknownNameError(f"cannot import model {spec!r}: {e}") from e
    try:
        module = importlib.import_module(spec)
    except ImportError as e:
        known = ", ".join(MODELS.names())
        raise UnknownNameError(
            f"unknown model {spec!r}: not a registered name ({known}) and not importable ({e})"
        ) from e
    factory = getattr(module, "load", None)
    if not callable(factory):
        raise UnknownNameError(
            f"module {spec!r} has no load(**kwargs) factory; name the class with {spec}:ClassName"
        )
    return factory


def load_model(spec: str, model_args: dict | None = None, device: str | None = None) -> VideoEditor:
    """Build the model; `device` is passed to factories that name a `device` parameter or take
    **kwargs (the reference baselines forward theirs to a constructor that takes it), unless the
    model args set it."""
    factory = resolve_factory(spec)
    kwargs = dict(model_args or {})
    if device is not None and "device" not in kwargs and _accepts(factory, "device"):
        kwargs["device"] = device
    model = factory(**kwargs)
    if not callable(getattr(model, "edit", None)):
        raise TypeError(f"model {spec!r} built a {type(model).__name__}, which has no edit(request) method")
    return model


def _accepts(factory, name: str) -> bool:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


__all__ = [
    "DESCRIPTIONS",
    "MODELS",
    "EditRequest",
    "VideoEditor",
    "load_model",
    "resolve_factory",
]
