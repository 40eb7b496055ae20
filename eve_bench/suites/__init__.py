"""Suite registry. A suite loader is `load(data: str | None, **suite_args) -> Suite`.

Add a suite: write a loader, register "name" -> "module:function" here (or from another package
through the `eve_bench.suites` entry-point group)."""

from eve_bench.registry import Registry
from eve_bench.suites.base import Suite

SUITES: Registry = Registry("suite", entry_point_group="eve_bench.suites")
SUITES.register("tgve", "eve_bench.suites.tgve:load_tgve")
SUITES.register("tgve-plus", "eve_bench.suites.tgve_plus:load_tgve_plus")
SUITES.register("synth", "eve_bench.synth.suite:load_synth")


def load_suite(name: str, data: str | None = None, **suite_args) -> Suite:
    return SUITES.get(name)(data, **suite_args)


__all__ = ["SUITES", "Suite", "load_suite"]
