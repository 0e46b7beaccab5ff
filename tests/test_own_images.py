"""Your own images end to end: a folder in every awkward form -> drc prepare -> a tiny drc train run from
another directory -> drc extract (sizes, mirrored paths, bad files, resume, contact sheet, GrabCut edges)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from drc.cli import app
from drc.extraction import MANIFEST
from tests.photo_folder import write_photo_folder

runner = CliRunner()
pytestmark = pytest.mark.slow


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("own")
    seen = write_photo_folder(root / "photos", root / "masks")
    prepared = run(
        "prepare", root / "photos", "--out", root / "prepared", "--resolution", "32", "--masks", root / "masks"
    )
    assert prepared.exit_code == 1, prepared.output  # some files were skipped (each named), the rest prepared
    unlabelled = run("prepare", root / "photos", "--out", root / "unlabelled", "--resolution", "32", "--fit", "pad")
    assert unlabelled.exit_code == 1 and "without masks" in unlabelled.output
    args = [
        "--dataset",
        root / "prepared",
        "--out",
        root / "model.pt",
        "--profile",
        "tiny",
        "--set",
        "train.iterations=2",
    ]
    trained = run("train", *args)
    assert trained.exit_code == 0, trained.output
    return root, seen


def test_prepare_counts_what_it_kept_and_skipped(trained):
    root, seen = trained
    meta = json.loads((root / "prepared/meta.json").read_text())
    assert meta["stats"]["kept"] == len(seen) - 1 and meta["stats"]["skipped"] == 4  # broken, empty, HEIC, no mask
    assert json.loads((root / "unlabelled/meta.json").read_text())["stats"]["skipped"] == 3  # broken, empty, HEIC
    assert run("prepare", root / "photos", "--out", root / "x", "--fit", "stretch").exit_code == 2


def test_train_runs_from_any_directory_and_says_how_many_images(trained, tmp_path, monkeypatch):
    root, seen = trained
    monkeypatch.chdir(tmp_path)  # no params.yaml here: the packaged profile is enough
    args = ["--dataset", root / "prepared", "--out", tmp_path / "model.pt", "--profile", "tiny"]
    result = run("train", *args, "--set", "train.iterations=2", "--set", "train.checkpoint_every=2")
    assert result.exit_code == 0, result.output
    assert f"training on {len(seen) - 1} images of folder, split all" in result.output
    unlabelled = run("train", "--dataset", root / "unlabelled", "--out", tmp_path / "u.pt", "--profile", "tiny",
                     "--set", "train.iterations=1")  # fmt: skip
    assert unlabelled.exit_code == 0, unlabelled.output  # no masks: trains, without the IoU monitor
    no_masks = run("evaluate", tmp_path / "u.pt", "--dataset", root / "unlabelled", "--split", "all")
    assert no_masks.exit_code == 2 and "has no masks to score against" in no_masks.output


def test_extract_mirrors_the_folders_at_each_images_own_size_and_resumes(trained, tmp_path):
    root, seen = trained
    out, sheet = tmp_path / "out", tmp_path / "sheet.png"
    args = ["extract", root / "model.pt", root / "photos", "--out", out, "--preview", sheet]
    first = run(*args)
    assert first.exit_code == 1  # three files could not be read
    assert "c/broken.jpg" in first.output and "c/empty.png" in first.output and "Traceback" not in first.output
    assert "c/phone.HEIC: .heic images are not read here" in first.output
    for rel, (h, w) in seen.items():
        stem = rel.rsplit(".", 1)[0]
        mask = np.asarray(Image.open(out / f"{stem}_mask.png"))
        cut = np.asarray(Image.open(out / f"{stem}_cutout.png"))
        assert mask.shape == (h, w) and set(np.unique(mask)) <= {0, 255}, rel
        assert cut.shape == (h, w, 4) and np.array_equal(cut[..., 3] > 0, mask > 0), rel
    assert (out / "a/x_mask.png").is_file() and (out / "b/x_mask.png").is_file()  # same stem, two folders
    with Image.open(sheet) as picture:
        # 10 images: two rows of 6 columns of 3 tiles, their names under them, a legend on the left
        assert picture.format == "PNG" and (picture.width, picture.height) == (76 + 6 * 168, 2 * (3 * 168 + 18))
    before = np.asarray(Image.open(out / "a/plain_mask.png")) > 0

    again = run(*args)
    assert f"0 image(s) to {out}; {len(seen)} already up to date" in again.output
    (out / "a/plain_mask.png").unlink()  # a missing output is written again, and only it
    for bad in ("broken.jpg", "empty.png", "phone.HEIC"):
        (root / "photos/c" / bad).unlink()
    third = run(*args)
    assert third.exit_code == 0 and f"1 image(s) to {out}; {len(seen) - 1} already up to date" in third.output
    after = np.asarray(Image.open(out / "a/plain_mask.png")) > 0  # its own random stream: the same mask, up to
    union = (before | after).sum()  # the rounding of a smaller batch (two empty masks are the same mask)
    assert union == 0 or (before & after).sum() / union > 0.9
    assert json.loads((out / MANIFEST).read_text().splitlines()[0])["checkpoint_sha256"]


def test_other_settings_redo_everything_and_grabcut_redraws_the_edges(trained, tmp_path):
    root, seen = trained
    out = tmp_path / "refined"
    plain = run("extract", root / "model.pt", root / "photos/a", "--out", out, "--refine", "none")
    assert plain.exit_code == 0, plain.output
    refined = run("extract", root / "model.pt", root / "photos/a", "--out", out)  # the tiny profile's: grabcut
    assert refined.exit_code == 0 and "2 image(s)" in refined.output and "0 already up to date" in refined.output
    bad = run("extract", root / "model.pt", root / "photos/a", "--out", out, "--refine", "magic")
    assert bad.exit_code == 2 and "readout.refine must be none | grabcut" in bad.output
