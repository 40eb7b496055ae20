"""The one atomic writer of files and folders: write to a hidden temporary name beside the target,
rename into place. A reader never sees half a file or folder; a killed writer leaves only
`.<name>.<random>.tmp<ext>` (or a folder being replaced, `.<name>.old-<pid>`), which
eve_bench/run/folder.py removes."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_file(path: str | os.PathLike, ext: str = "", mode: int = 0o644):
    """Yield a temporary path beside `path`; once the block succeeds it is renamed to `path`
    (readable by all: mkstemp makes files private), and on any error removed. `ext` ends the
    temporary name, for writers that choose a format by extension (".mp4")."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{ext}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically, flushed to disk before the rename."""
    with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


@contextmanager
def atomic_folder(folder: str | os.PathLike):
    """Yield a hidden temporary folder beside `folder`; once the block succeeds it takes the place
    of `folder` (an older one is replaced only then, never left half-written), and on any error it
    is removed and `folder` is as it was."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        yield tmp
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
