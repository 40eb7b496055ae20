"""Model registry and resolution of `--model` specs.

`--model` accepts a registered short name (built-in or from the `eve_bench.models` entry-point
group), `package.module` (its `load(**kwargs)` factory is called) or `package.module:Name` (a class
or factory called with the model args). Add a model: write a module with `load(**kwargs)` returning
an object with `edit(request) -> Video`, then either pass its import path or register a short name.
"""

from __future__ import annotations

import importlib
import inspect

from eve_bench.models.base import EditRequest, ModelNotReadyError, VideoEditor, parse_kv_args
from eve_bench.registry import Registry, UnknownNameError, import_attr

MODELS: Registry = Registry("model", entry_point_group="eve_bench.models")
MODELS.register("identity", "eve_bench.models.identity:IdentityEditor")
# The reference baselines (reference/, trained by the project; shipped synth weights by default).
for _name in ("per_frame_edit", "video_sdedit", "plug_and_play"):
    MODELS.register(_name, f"reference.baselines:{_name}")
MODELS.register("eve", "reference.eve:load")  # the EVE student, aligned by FDD


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
    """Build the model; `device` is passed along only to factories with a `device` parameter."""
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
    # Only an explicit parameter: a bare **kwargs often forwards to a constructor that rejects it.
    return name in params


__all__ = [
    "MODELS",
    "EditRequest",
    "ModelNotReadyError",
    "VideoEditor",
    "load_model",
    "parse_kv_args",
    "resolve_factory",
]
