"""Atomic writes: an output either appears complete or not at all, and never takes the place of anything
its caller does not own.

Nothing here removes or replaces a folder. A file is replaced only when the caller passes
``replace=True``, its word that the file is its own earlier output (drc/outputs.py decides that for the
command line; a DVC stage owns its declared outputs).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from drc.errors import DRCError


def check_writable(path: Path, replace: bool) -> None:
    """Refuse a target that is a folder, or an existing file the caller does not own."""
    if path.is_dir() and not path.is_symlink():
        raise DRCError(f"{path} is a folder; it was left as it is (name a file to write)")
    if not replace and (path.exists() or path.is_symlink()):
        raise DRCError(f"{path} already exists and was left as it is; choose another name")


@contextlib.contextmanager
def atomic_path(path: str | Path, *, replace: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling path; on success it is renamed onto ``path``, on error removed.

    The caller writes a file at the yielded path, or creates a new folder there (a folder target must
    not exist yet). ``replace=True``: an existing file at ``path`` is the caller's own and is replaced.
    """
    path = Path(path)
    check_writable(path, replace)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)) / "out"
    try:
        yield tmp
        check_writable(path, replace and not tmp.is_dir())  # again: it may have appeared meanwhile
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)


@contextlib.contextmanager
def atomic_files(folder: str | Path, last: str | None = None) -> Iterator[Path]:
    """Yield a temporary folder beside ``folder``; the files the caller writes there are moved into
    ``folder`` (created if absent) on success, replacing files of the same names, and nothing is moved
    on error. Other files in ``folder`` are left alone.

    The caller owns those names in ``folder`` (drc/outputs.py). ``last`` is moved after the others (the
    file that marks the set complete, e.g. a prepared dataset's meta.json), and SIGINT / SIGTERM wait
    until every file is in place, so an interrupt never leaves half of a set.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise DRCError(f"{folder} is a file; it was left as it is (name a folder to write)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        yield tmp
        names = sorted(p.name for p in tmp.iterdir())
        if any((tmp / name).is_dir() for name in names):
            raise ValueError("atomic_files moves files only")
        ordered = [n for n in names if n != last] + [n for n in names if n == last]
        for name in ordered:
            check_writable(folder / name, replace=True)
        folder.mkdir(exist_ok=True)
        with signals_held():
            for name in ordered:
                os.replace(tmp / name, folder / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM that arrive inside the block (a few renames) take effect when it ends."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread handles signals
        yield
        return
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for signum in caught:
            signal.raise_signal(signum)


def write_text(path: str | Path, text: str, *, replace: bool = False) -> None:
    with atomic_path(path, replace=replace) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, obj: Any, *, replace: bool = False) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n", replace=replace)
