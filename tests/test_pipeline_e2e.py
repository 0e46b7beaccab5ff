"""End to end: `dvc repro` of the whole pipeline at the tiny profile in a copy of the repository,
then an ablation with `dvc exp run -S`, whose metrics must differ from the first run's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def sh(cmd: list[str], cwd: Path) -> str:
    env = {
        **os.environ,
        "DVC_NO_ANALYTICS": "1",
        "CI": "true",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def tracked_copy(dst: Path) -> None:
    """Copy what git would commit (tracked and untracked-but-not-ignored files)."""
    files = (
        subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file() and not rel.startswith(("reports/", "data/", "models/")):
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("e2e")
    tracked_copy(dst)
    params = yaml.safe_load((dst / "params.yaml").read_text())
    params["profile"] = "tiny"
    params["data"]["tmdsprites"].update(n_images=160, eval_size=64, heldout={"seed": 1, "n_images": 32})
    params["grabcut"].update(margin_sweep=[0.0625, 0.125], margin_sweep_images=16)
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(["git", "init", "-q"], dst)
    sh(["git", "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A"], dst)
    sh(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "copy"], dst)
    sh(["dvc", "repro"], dst)
    return dst


def test_repro_writes_every_report(repo: Path):
    for rel in [
        "reports/results.csv",
        "reports/tables/table1.md",
        "reports/tables/table2.md",
        "reports/tables/table3.md",
        "reports/tables/table4.md",
        "reports/metrics/drc_tmdsprites.json",
        "reports/metrics/grabcut_tmdsprites.json",
        "reports/metrics/generalise_tmdsprites.json",
        "reports/figures/extractions_tmdsprites.png",
        "reports/figures/worst_tmdsprites.png",
        "reports/figures/iou_hist_tmdsprites.png",
        "reports/figures/grabcut_vs_drc_tmdsprites.png",
        "reports/figures/grabcut_margin_tmdsprites.png",
        "models/tmdsprites/all/model.pt",
    ]:
        assert (repo / rel).is_file(), rel
    results = pd.read_csv(repo / "reports/results.csv")
    assert {"method", "train_data", "eval_data", "split", "iou", "dice", "n_images"} <= set(results.columns)
    rows = {(r.method, r.eval_data, r.split): r for r in results.itertuples()}
    assert ("DRC", "tmdsprites", "train") in rows and ("GrabCut", "tmdsprites", "train") in rows
    assert rows[("DRC", "tmdsprites", "train")].n_images == 64
    table1 = (repo / "reports/tables/table1.md").read_text()
    assert "DRC (this run, profile tiny)" in table1 and "78.8 / 87.5" in table1 and "not run" in table1


def test_ablation_experiment_differs(repo: Path):
    first = json.loads((repo / "reports/metrics/drc_tmdsprites.json").read_text())
    sh(["dvc", "exp", "run", "-S", "profile=tiny", "-S", "train.pseudo_label=0"], repo)
    second = json.loads((repo / "reports/metrics/drc_tmdsprites.json").read_text())
    assert first["results"] != second["results"]
    shown = json.loads(sh(["dvc", "exp", "show", "--json"], repo))
    assert "pseudo_label" in json.dumps(shown)


def test_inference_experiment_rescores_without_retraining(repo: Path):
    """Changing only test-time settings re-runs the scoring stages on the same trained model."""
    curve = repo / "reports/training/tmdsprites-all/live/plots/metrics/loss/recon.tsv"
    rows = curve.read_text()
    steps = ["-S", "profiles.tiny.infer.steps=5"]  # the ablation above left train.pseudo_label=0
    sh(["dvc", "exp", "run", "-S", "profile=tiny", "-S", "train.pseudo_label=0", *steps], repo)
    scored = json.loads((repo / "reports/metrics/drc_tmdsprites.json").read_text())
    assert scored["results"]["tmdsprites/train"]["steps"] == 5
    assert curve.read_text() == rows  # the finished run was continued (nothing to do), not retrained


def test_offline_real_dataset_stops_at_its_download_with_one_clear_line(repo: Path):
    """Runs last: enables Birds with an unreachable host and no local archive."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["datasets"] = ["tmdsprites", "birds"]
    for key in ("images", "segmentations", "split"):
        params["data"]["birds"][f"{key}_url"] = f"http://127.0.0.1:9/{key}.tgz"  # nothing listens on port 9
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run(
        ["dvc", "repro", "prepare@birds"], cwd=repo, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode != 0
    errors = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr[-2000:]
    assert "images_file" in errors[0] and "offline" in errors[0]
    assert "Traceback" not in proc.stderr
    assert not (repo / "data/prepared/birds").exists()
