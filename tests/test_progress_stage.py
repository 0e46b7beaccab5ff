"""Stage progress@<dataset>: a bad setting is one line naming it (the stage itself runs end to end in
tests/test_pipeline_e2e.py)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("value", ["many", 0, 2.5])
def test_a_bad_image_count_is_one_line(tmp_path, value):
    (tmp_path / "params.yaml").write_text(f"profile: tiny\nprogress:\n  images: {value!r}\n")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "stages/progress.py"), "tmdsprites", "--profile", "tiny"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert proc.returncode == 2, proc.stderr
    assert "progress.images must be a whole number >= 1" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "reports").exists()
