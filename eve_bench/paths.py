"""Names read from data that become parts of paths: each must be one plain path component.

Video names, groups and edit ids come from dataset files (a CSV, a parquet, YAML file names) and
become folders under `--data`, under `--out` and under an `eval` submission. A name such as
`../../x` would make a run write (and its atomic folder swap delete) outside those roots, so such
names are refused: by the suites where they read the data (naming the row), and again by `Sample`,
which every suite, built-in or plug-in, must go through.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from eve_bench.errors import INVISIBLE

MAX_NAME = 200  # file systems allow 255 bytes; leave room for the writers' temporary suffixes


class UnsafeNameError(ValueError):
    """A name from the data cannot be used as a file or folder name."""


def name_problem(name: object) -> str | None:
    """Why `name` is not a safe single path component, or None when it is."""
    if not isinstance(name, str) or not name.strip():
        return "it is empty"
    if "/" in name or "\\" in name:
        return "it contains a path separator"
    if name.startswith("."):
        # Covers "." and ".."; hidden names are also reserved for the writers' temporary files.
        return "it starts with '.'"
    # Control characters (C0 and C1, newline included), bidi overrides and line separators break
    # the one-line messages and tables names end up in, or make a name read as another one.
    if any(unicodedata.category(c) in INVISIBLE for c in name):
        return "it contains a control character, or another invisible one (format, line separator)"
    if len(name.encode()) > MAX_NAME:
        return f"it is longer than {MAX_NAME} bytes"
    return None


def check_name(name: object, what: str) -> str:
    """`name`, or UnsafeNameError saying which field (`what`) is unusable and why."""
    problem = name_problem(name)
    if problem:
        raise UnsafeNameError(f"{what} {name!r} cannot be used as a file name: {problem}")
    return name  # type: ignore[return-value]


def is_within(path: str | os.PathLike, root: str | os.PathLike) -> bool:
    """Whether `path` lies inside `root` once every symbolic link in either is resolved: a link
    out of a submission or a run folder must not make eve-bench read or list what it points at."""
    return Path(path).resolve().is_relative_to(Path(root).resolve())
