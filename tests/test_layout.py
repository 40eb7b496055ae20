"""The layout rules (ARCHITECTURE.md): eve_bench's folders are layers that import only downwards,
with no cycles; the harness never imports the reference implementation; no module imports
another's private names; nothing but the commands themselves imports the reference studies."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# eve_bench's modules and packages, lowest layer first; each may import only from its own layer
# or lower ones (and never in a circle).
LAYERS = (
    {"errors", "tables", "questions", "paths", "hashing", "atomic", "registry", "figures", "video", "sample"},
    {"encoders", "weights"},
    {"models", "suites", "synth"},
    {"metrics"},
    {"run"},
    {"reports"},
    {"human"},
    {"cli", "__main__"},
)
LAYER = {unit: i for i, units in enumerate(LAYERS) for unit in units}

# Imports of private names in files another session is rewriting; remove an entry with its import.
def _python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def _imports(path: Path) -> list[tuple[str, str | None]]:
    """(module, name) for every absolute import in `path`, in functions too; name None for `import module`."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            out += [(alias.name, None) for alias in node.names]
    return out


def _unit(module: str) -> str:
    """The layer unit of an eve_bench module: its top-level module or package."""
    return module.split(".")[1]


def test_no_module_imports_a_private_name_of_another():
    found = []
    for path in _python_files("eve_bench", "reference", "tests", "benchmarks"):
        rel = path.relative_to(ROOT).as_posix()
        for module, name in _imports(path):
            if name and name.startswith("_") and not name.startswith("__"):
                found.append(f"{rel}: from {module} import {name}")
    assert not found, "private names imported across modules:\n" + "\n".join(found)


def test_the_harness_never_imports_the_reference():
    found = [f"{path.relative_to(ROOT)}: {module}" for path in _python_files("eve_bench")
             for module, _ in _imports(path) if module == "reference" or module.startswith("reference.")]
    assert not found, found


def test_layers_import_only_downwards_and_never_in_a_circle():
    edges: dict[str, set[str]] = defaultdict(set)
    for path in _python_files("eve_bench"):
        rel = path.relative_to(ROOT / "eve_bench")
        source = rel.parts[0].removesuffix(".py")
        if source == "__init__":
            continue  # the package itself (its version) sits above every layer
        assert source in LAYER, f"eve_bench/{rel.parts[0]} has no layer in LAYERS (and ARCHITECTURE.md)"
        for module, name in _imports(path):
            if module == "eve_bench" or not module.startswith("eve_bench."):
                continue  # `from eve_bench import __version__`, or another package
            target = _unit(module)
            if target != source:
                assert LAYER[target] <= LAYER[source], f"eve_bench/{rel} (layer {LAYER[source]}) imports {module} (layer {LAYER[target]})"
                edges[source].add(target)

    def visit(unit: str, path: tuple[str, ...]) -> None:
        for target in edges[unit]:
            assert target not in path, "import circle: " + " -> ".join(path + (target,))
            visit(target, path + (target,))

    for unit in list(edges):
        visit(unit, (unit,))


def test_only_the_commands_import_the_reference_studies():
    found = [f"{path.relative_to(ROOT)}: {module}" for path in _python_files("eve_bench", "reference", "benchmarks")
             if "studies" not in path.parts
             for module, name in _imports(path)
             if module.startswith("reference.studies") or (module == "reference" and name == "studies")]
    assert not found, found
