"""End to end, in a copy of the repository as a fresh clone has it: `dvc exp run -S profile=tiny` (the
smoke profile brings its own data sizes; GrabCut's margin sweep on 16 images), an ablation and an
inference-only experiment, what `dvc status` marks changed after edits, and a real dataset that cannot be
downloaded. Each test starts from the smoke run's state."""

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

from tests.photo_folder import write_photo_folder

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


ONE_MORE_SEED = ["-S", "seeds.datasets=[tmdsprites]", "-S", "seeds.train=[1]"]  # the spread's stages, small


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
    sh(["git", "init", "-q"], dst)
    sh(["git", "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A"], dst)
    sh(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "copy"], dst)
    sh(["dvc", "exp", "run", "-S", "profile=tiny", "-S", "++grabcut.margin_sweep_images=16", *ONE_MORE_SEED], dst)
    return dst


@pytest.fixture(autouse=True)
def as_set_up(repo: Path, tmp_path: Path):
    """Each test starts from the smoke run: its params, lock and outputs are put back after the test (the
    uncached outputs, all under reports/, from a copy; the cached ones by `dvc checkout`)."""
    saved = {name: (repo / name).read_text() for name in ("params.yaml", "dvc.lock")}
    shutil.copytree(repo / "reports", tmp_path / "reports-as-set-up")
    yield
    for name, text in saved.items():
        (repo / name).write_text(text)
    shutil.rmtree(repo / "reports")
    shutil.copytree(tmp_path / "reports-as-set-up", repo / "reports")
    sh(["dvc", "checkout", "--force", "--quiet"], repo)


def test_the_smoke_profile_writes_every_report(repo: Path):
    for rel in [
        "reports/results.csv",
        "reports/summary.json",
        "reports/tables/table1.md",
        "reports/tables/table2.md",
        "reports/tables/table3.md",
        "reports/tables/table4.md",
        "reports/metrics/drc_tmdsprites.json",
        "reports/metrics/drc_tmdsprites_colour.json",
        "reports/metrics/grabcut_tmdsprites.json",
        "reports/metrics/colour_tmdsprites_colour.json",
        "reports/metrics/grabcut_heldout_tmdsprites_colour.json",
        "reports/metrics/generalise_tmdsprites.json",
        "reports/metrics/drc_paper_readout_tmdsprites.json",
        "reports/seeds/drc_tmdsprites_seed1.json",
        "reports/figures/extractions_tmdsprites.png",
        "reports/figures/worst_tmdsprites.png",
        "reports/figures/iou_hist_tmdsprites.png",
        "reports/figures/grabcut_vs_drc_tmdsprites.png",
        "reports/figures/grabcut_margin_tmdsprites.png",
        "models/tmdsprites/all/model.pt",
    ]:
        assert (repo / rel).is_file(), rel
    results = pd.read_csv(repo / "reports/results.csv")
    assert {"method", "train_data", "eval_data", "split", "iou", "dice", "n_images", "source"} <= set(results.columns)
    rows = {(r.method, r.eval_data, r.split): r for r in results.itertuples()}
    assert ("DRC", "tmdsprites", "train") in rows and ("GrabCut", "tmdsprites", "train") in rows
    assert rows[("DRC", "tmdsprites", "train")].n_images == 64  # the tiny profile's data sizes
    assert rows[("DRC", "tmdsprites-heldout", "test")].n_images == 32
    assert rows[("DRC", "tmdsprites_colour-robust", "test")].n_images == 32  # the second generator's images
    assert rows[("Colour", "tmdsprites", "train")].iou == 100.0  # grey gratings: colour alone decides
    assert rows[("Colour", "tmdsprites_colour", "train")].iou < 80  # coloured gratings: it often fails
    assert rows[("Colour+GrabCut", "tmdsprites-robust", "test")].iou == 100.0  # the same masks, redrawn
    table1 = (repo / "reports/tables/table1.md").read_text()
    assert "DRC (this run, profile tiny), the paper's read-out" in table1 and "78.8 / 87.5" in table1
    assert ("DRC-paper-readout", "tmdsprites", "train") in rows and ("DRC+GrabCut", "tmdsprites", "train") in rows
    spread = pd.read_csv(repo / "reports/seeds.csv", dtype={"seeds": str})  # seed 0 (train@) and seed 1
    assert set(spread.seeds) == {"0 1"} and set(spread.eval_data) == {"tmdsprites", "tmdsprites-heldout",
                                                                     "tmdsprites-robust"}  # fmt: skip
    seed1 = json.loads((repo / "reports/seeds/drc_tmdsprites_seed1.json").read_text())
    assert seed1["model"]["train"]["seed"] == 1 and seed1["model"]["path"] == "models/tmdsprites/all-seed1/model.pt"
    assert "| Colour threshold (this run) |" in table1 and "TM-dSprites, coloured gratings" in table1
    progress = pd.read_csv(repo / "reports/progress/tmdsprites.csv")  # the scored IoU along the training run
    assert progress.iteration.tolist() == [0, 6, 12] and progress.images.tolist() == [64] * 3  # 0: untrained
    assert (repo / "models/tmdsprites/all/snapshots/iteration_0000006.pt").is_file()
    scores = json.loads((repo / "reports/metrics/drc_tmdsprites.json").read_text())
    steps = yaml.safe_load((repo / "params.yaml").read_text())["sampler"].get("steps") or 3  # else the profile's
    assert scores["model"]["profile"] == "tiny" and scores["results"]["tmdsprites/train"]["sampler"]["steps"] == steps
    summary = json.loads((repo / "reports/summary.json").read_text())
    assert summary["tmdsprites"]["drc"]["iou"] == pytest.approx(rows[("DRC", "tmdsprites", "train")].iou, abs=1e-3)


def changed_stages(repo: Path) -> set[str]:
    """The stages `dvc status` lists as changed."""
    status = json.loads(sh(["dvc", "status", "--json"], repo))
    return set(status)


def test_dvc_status_marks_exactly_what_an_edit_changes(repo: Path):
    assert changed_stages(repo) == set()
    other = repo / "drc/profiles/cpu/sampler.yaml"  # a profile this run does not use
    text = other.read_text()
    other.write_text(text + "steps: 1\n")
    assert changed_stages(repo) == set()
    other.write_text(text)

    params = yaml.safe_load((repo / "params.yaml").read_text())
    saved = (repo / "params.yaml").read_text()
    params["sampler"]["seed"] = 1  # an inference setting: the scores change, the model does not
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    scoring = {
        f"{stage}@{ds}"
        for stage, key in (
            ("evaluate", "datasets"),
            ("progress", "datasets"),
            ("generalise", "generalise_datasets"),
            ("generalise_heldout_only", "heldout_datasets"),
            ("extract", "folder_datasets"),
            ("score_folder", "folder_datasets"),
        )
        for ds in params.get(key) or []
    }
    seeds = [f"{ds}-{seed}" for ds in params["seeds"]["datasets"] for seed in params["seeds"]["train"]]
    scoring |= {f"seed_evaluate@{run}" for run in seeds}
    assert changed_stages(repo) == scoring
    (repo / "params.yaml").write_text(saved)

    sampler_code = repo / "drc/langevin.py"  # the sampler's code: training and every score
    code = sampler_code.read_text()
    sampler_code.write_text(code + "\n# edited\n")
    training = {f"train@{ds}" for ds in params["datasets"]} | {f"train_folder@{ds}" for ds in params["folder_datasets"]}
    training |= {f"seed_train@{run}" for run in seeds}
    assert changed_stages(repo) == scoring | training
    sampler_code.write_text(code)
    assert changed_stages(repo) == set()


ONE_DATASET = ["-S", "datasets=[tmdsprites]", "-S", "generalise_datasets=[tmdsprites]"]  # half the time


def test_ablation_experiment_differs(repo: Path):
    first = json.loads((repo / "reports/metrics/drc_tmdsprites.json").read_text())  # pseudo_label 0.1
    sh(["dvc", "exp", "run", "-S", "profile=tiny", *ONE_DATASET, "-S", "train.pseudo_label=0"], repo)
    second = json.loads((repo / "reports/metrics/drc_tmdsprites.json").read_text())
    assert first["results"]["tmdsprites/train"]["iou"] != second["results"]["tmdsprites/train"]["iou"]
    assert second["model"]["train"]["pseudo_label"] == 0
    shown = json.loads(sh(["dvc", "exp", "show", "--json"], repo))
    assert "pseudo_label" in json.dumps(shown)


def test_inference_experiment_rescores_without_retraining(repo: Path):
    """Changing only test-time settings re-runs the scoring stages on the same trained model."""
    model = (repo / "models/tmdsprites/all/model.pt").read_bytes()  # the smoke run's, at its profile's 3 steps
    sh(["dvc", "exp", "run", "-S", "profile=tiny", *ONE_DATASET, "-S", "++sampler.steps=5"], repo)
    scored = json.loads((repo / "reports/metrics/drc_tmdsprites.json").read_text())
    assert scored["results"]["tmdsprites/train"]["sampler"]["steps"] == 5
    assert (repo / "models/tmdsprites/all/model.pt").read_bytes() == model  # the train stage did not run
    rerun = subprocess.run(
        [sys.executable, "-m", "drc.cli", "evaluate", "--from", "reports/metrics/generalise_tmdsprites.json"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert rerun.returncode == 0 and "reproduced" in rerun.stdout, rerun.stdout + rerun.stderr


def test_a_folder_of_own_images_is_prepared_trained_on_extracted_and_scored(repo: Path, tmp_path: Path):
    photos, masks = tmp_path / "photos", tmp_path / "masks"
    seen = write_photo_folder(photos, masks)
    folder = ["-S", "folder_datasets=[folder]", "-S", "folder_profile=tiny", "-S", f"data.folder.path={photos}"]
    sh(["dvc", "exp", "run", "-S", "profile=tiny", *ONE_DATASET, *folder, "-S", f"data.folder.masks={masks}"], repo)
    extracted = repo / "data/extracted/folder"
    assert {p.relative_to(extracted).as_posix() for p in extracted.rglob("*_mask.png")} == {
        rel.rsplit(".", 1)[0] + "_mask.png" for rel in seen
    }
    assert (repo / "reports/extract/folder_sheet.png").is_file()
    scores = json.loads((repo / "reports/metrics/drc_folder.json").read_text())
    assert scores["results"]["folder/train"]["n_images"] == len(seen) - 1  # c/no_mask.png has no mask
    results = pd.read_csv(repo / "reports/results.csv")
    assert ((results.eval_data == "folder") & (results.method == "DRC")).any()


def test_offline_real_dataset_stops_at_its_download_with_one_clear_line(repo: Path):
    """Enables Birds with an unreachable host and no local archive (params.yaml is restored after)."""
    saved = (repo / "params.yaml").read_text()
    params = yaml.safe_load(saved)
    params["datasets"] = ["tmdsprites", "birds"]
    for key in ("images", "segmentations", "split"):
        params["data"]["birds"][f"{key}_url"] = f"http://127.0.0.1:9/{key}.tgz"  # nothing listens on port 9
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    try:
        proc = subprocess.run(
            ["dvc", "repro", "prepare@birds"], cwd=repo, env=env, capture_output=True, text=True, timeout=600
        )
    finally:
        (repo / "params.yaml").write_text(saved)
    assert proc.returncode != 0
    errors = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr[-2000:]
    assert "images_file" in errors[0] and "offline" in errors[0]
    assert "Traceback" not in proc.stderr
    assert not (repo / "data/prepared/birds").exists()
