"""One registry mechanism for models, suites and metrics.

Entries are either objects or lazy "module:attr" strings, so that listing names never imports
torch-heavy code. Third-party packages add entries through a Python entry-point group.
"""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points
from typing import Any, Callable, Generic, TypeVar

from eve_bench.errors import UnknownNameError

T = TypeVar("T")


def import_attr(spec: str) -> Any:
    """Import "package.module:attr" (attr may be dotted) or "package.module"."""
    module_name, _, attr = spec.partition(":")
    module = importlib.import_module(module_name)
    obj = module
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    def __init__(self, kind: str, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._entries: dict[str, T | str] = {}
        self._plugins_loaded = False

    def register(self, name: str, obj: T | str | None = None) -> Callable[[T], T] | None:
        """`registry.register("name", obj_or_"module:attr")`, or as a decorator `@registry.register("name")`."""
        if obj is not None:
            self._add(name, obj)
            return None

        def decorator(target: T) -> T:
            self._add(name, target)
            return target

        return decorator

    def _add(self, name: str, obj: T | str) -> None:
        existing = self._entries.get(name)
        if existing is not None and existing is not obj and existing != obj:
            raise ValueError(f"{self.kind} {name!r} is already registered ({existing!r})")
        self._entries[name] = obj

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        self._load_plugins()
        return name in self._entries

    def get(self, name: str) -> T:
        self._load_plugins()
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}. Known: {', '.join(sorted(self._entries)) or '(none)'}.{hint}"
            )
        entry = self._entries[name]
        if isinstance(entry, str):
            entry = import_attr(entry)
            self._entries[name] = entry
        return entry

    def _load_plugins(self) -> None:
        if self._plugins_loaded or self.entry_point_group is None:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self.entry_point_group):
            self._entries.setdefault(ep.name, ep.value)
