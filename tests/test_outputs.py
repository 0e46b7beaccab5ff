"""Writing outputs: nothing replaces a folder, nothing replaces a file its writer does not own, and the
ownership rules of drc/outputs.py in one line each."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from drc.atomic import atomic_files, atomic_path, write_text
from drc.errors import DRCError
from drc.outputs import output_file, output_folder, outside_inputs, within


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a folder)."""
    return {p.relative_to(root).as_posix(): None if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


def test_atomic_path_never_replaces_a_folder_even_when_told_it_may_replace(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models/a.pt").write_bytes(b"one")
    before = tree(tmp_path)
    for replace in (False, True):
        with pytest.raises(DRCError, match="models is a folder; it was left as it is"):
            write_text(tmp_path / "models", "x", replace=replace)
    assert tree(tmp_path) == before  # no temporary left either


def test_atomic_path_replaces_a_file_only_when_the_caller_owns_it(tmp_path):
    path = tmp_path / "scores.json"
    path.write_text("theirs")
    with pytest.raises(DRCError, match="already exists and was left as it is"):
        write_text(path, "ours")
    assert path.read_text() == "theirs"
    write_text(path, "ours", replace=True)
    assert path.read_text() == "ours" and tree(tmp_path) == {"scores.json": b"ours"}


def test_a_new_folder_appears_whole_but_never_over_an_existing_one(tmp_path):
    with atomic_path(tmp_path / "new") as tmp:
        tmp.mkdir()
        (tmp / "f").write_text("x")
    assert tree(tmp_path) == {"new": None, "new/f": b"x"}

    def folder_over(target: Path, replace: bool) -> None:
        with atomic_path(target, replace=replace) as tmp:
            tmp.mkdir()

    (tmp_path / "file").write_text("kept")
    for target in (tmp_path / "new", tmp_path / "file"):
        with pytest.raises(DRCError):
            folder_over(target, replace=True)
    assert tree(tmp_path) == {"file": b"kept", "new": None, "new/f": b"x"}


def test_atomic_files_moves_its_files_in_and_leaves_the_others(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    (folder / "a.npy").write_text("old")
    with atomic_files(folder, last="meta.json") as tmp:
        (tmp / "a.npy").write_text("new")
        (tmp / "meta.json").write_text("{}")
    assert tree(folder) == {"a.npy": b"new", "meta.json": b"{}", "notes.txt": b"mine"}
    with pytest.raises(OSError, match="disk full"), atomic_files(folder) as tmp:
        (tmp / "a.npy").write_text("half")
        raise OSError("disk full")
    assert tree(folder) == {"a.npy": b"new", "meta.json": b"{}", "notes.txt": b"mine"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no temporary left


def test_atomic_files_holds_a_signal_until_every_file_is_in_place(tmp_path, monkeypatch):
    moved = []
    real_replace = os.replace

    def replace_then_interrupt(src, dst):  # a Ctrl-C arrives between the first and the second rename
        real_replace(src, dst)
        moved.append(Path(dst).name)
        if len(moved) == 1:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(os, "replace", replace_then_interrupt)
    # Ctrl-C's Python handler, whatever pytest inherited (a shell starts background jobs with SIGINT ignored).
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), atomic_files(tmp_path / "set", last="meta.json") as tmp:
            for name in ("a.npy", "b.npy", "meta.json"):
                (tmp / name).write_text(name)
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert moved == ["a.npy", "b.npy", "meta.json"]  # delivered after the last
    assert tree(tmp_path / "set") == {"a.npy": b"a.npy", "b.npy": b"b.npy", "meta.json": b"meta.json"}


def test_an_output_folder_must_be_new_empty_ours_or_forced(tmp_path):
    def claim(path: Path, force: bool = False) -> None:
        output_folder(path, "--out", lambda p: (p / "ours").is_file(), "an output of this", force)

    claim(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    claim(tmp_path / "empty")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine/ours").write_text("")
    claim(tmp_path / "mine")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos/cat.jpg").write_text("")
    with pytest.raises(DRCError) as refused:
        claim(tmp_path / "photos")
    assert str(refused.value) == (
        f"--out {tmp_path / 'photos'} is a folder that is not an output of this; choose a new or empty folder, or "
        "pass --force to write there anyway (nothing else is deleted)"
    )
    claim(tmp_path / "photos", force=True)
    with pytest.raises(DRCError, match="is a file, not a folder"):
        claim(tmp_path / "photos/cat.jpg", force=True)


def test_an_output_file_must_be_new_ours_or_forced_and_never_a_folder(tmp_path):
    def claim(path: Path, force: bool = False) -> None:
        output_file(path, "--json", lambda p: p.read_text() == "ours", "a scores file", force)

    (tmp_path / "ours.json").write_text("ours")
    (tmp_path / "theirs.json").write_text("theirs")
    claim(tmp_path / "new.json")
    claim(tmp_path / "ours.json")
    with pytest.raises(
        DRCError, match="theirs.json exists and is not a scores file; choose another name, or pass --force"
    ):
        claim(tmp_path / "theirs.json")
    claim(tmp_path / "theirs.json", force=True)
    with pytest.raises(DRCError, match="is a folder; name a file"):
        claim(tmp_path, force=True)


def test_an_output_is_never_an_input_but_may_lie_inside_one(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    with pytest.raises(DRCError, match="is the input"):
        outside_inputs(tmp_path / "photos/../photos", "--out", [photos])
    outside_inputs(photos / "cutouts", "--out", [photos])
    assert within(photos / "cutouts/a.png", photos / "cutouts") and within(photos, photos)
    assert not within(tmp_path / "photos2", photos)
