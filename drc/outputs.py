"""Where a command may write: the one place that decides what counts as a command's own earlier output.

A command writes to a path that does not exist yet, into an empty folder, or over its own earlier output,
which it recognises by the marker it wrote there (a prepared dataset's ``meta.json`` format, an extract
folder's manifest, a checkpoint's format key, a scores file's ``results``, a contact sheet its extract
folder's manifest records). Anything else is refused with one line naming ``--force``, which lets the
command write its files into a foreign folder, or over a foreign file the user named, and never deletes
anything else there. A folder is never replaced by a file, with ``--force`` or without, and an output is
never written where the command reads its inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from drc.errors import DRCError

FORCE = "pass --force to write there anyway (nothing else is deleted)"


def output_folder(path: Path, option: str, is_ours: Callable[[Path], bool], what: str, force: bool) -> None:
    """Check that the folder ``path`` (given as ``option``) may receive a command's files: absent, empty,
    the command's own earlier output (``is_ours``, ``what`` names it in the message) or, with ``force``,
    any folder. Raises one line otherwise."""
    if path.exists() and not path.is_dir():
        raise DRCError(f"{option} {path} is a file, not a folder; name a new or empty folder")
    if not path.is_dir() or force or not any(path.iterdir()) or is_ours(path):
        return
    raise DRCError(f"{option} {path} is a folder that is not {what}; choose a new or empty folder, or {FORCE}")


def output_file(path: Path, option: str, is_ours: Callable[[Path], bool], what: str, force: bool) -> None:
    """Check that the file ``path`` (given as ``option``) may be written: absent, the command's own earlier
    output (``is_ours``; ``what`` names it) or, with ``force``, any file. Never a folder."""
    if path.is_dir():
        raise DRCError(f"{option} {path} is a folder; name a file to write (inside it, or elsewhere)")
    if not path.exists() or force or is_ours(path):
        return
    raise DRCError(f"{option} {path} exists and is not {what}; choose another name, or {FORCE}")


def outside_inputs(path: Path, option: str, inputs: Iterable[Path]) -> None:
    """Refuse an output that is one of the input folders (or files): its outputs would lie among the inputs.
    An output folder inside an input folder is fine: the command leaves it out of its scan (``within``)."""
    for item in inputs:
        if Path(item).resolve() == path.resolve():
            raise DRCError(
                f"{option} {path} is the input {item}; write the outputs elsewhere (a new folder inside it is fine)"
            )


def within(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it (both resolved)."""
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents
