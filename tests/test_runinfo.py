"""The code version a result records: dirty means the code changed, not the outputs a run writes."""

from __future__ import annotations

import subprocess
from pathlib import Path

from drc.runinfo import git_info


def git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=cwd, check=True, capture_output=True
    )


def test_dirty_is_the_code_not_the_pipelines_outputs(tmp_path: Path):
    for rel in ("drc/x.py", "stages/s.py", "reports/r.csv", "dvc.lock", "params.yaml"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("a\n")
    git("init", "-q", cwd=tmp_path)
    git("add", "-A", cwd=tmp_path)
    git("commit", "-qm", "c", cwd=tmp_path)
    assert git_info(tmp_path / "drc") == {"commit": git_info(tmp_path)["commit"], "dirty": False}
    for rel in ("reports/r.csv", "dvc.lock", "params.yaml"):  # what a run writes, and settings recorded apart
        (tmp_path / rel).write_text("b\n")
    assert git_info(tmp_path / "drc")["dirty"] is False
    (tmp_path / "stages/s.py").write_text("b\n")
    assert git_info(tmp_path / "drc")["dirty"] is True
    git("checkout", "stages/s.py", cwd=tmp_path)
    (tmp_path / "drc/x.py").write_text("b\n")
    assert git_info(tmp_path)["dirty"] is True


def test_outside_a_checkout_nothing_is_known(tmp_path: Path):
    assert git_info(tmp_path) == {"commit": None, "dirty": None}
