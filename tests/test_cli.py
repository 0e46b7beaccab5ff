import json

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from drc.cli import app
from drc.training import Trainer
from tests.helpers import images_to_tensor, squares_on_stripes, tiny_model_config, tiny_train_config

runner = CliRunner()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    images, _ = squares_on_stripes(n=8)
    trainer = Trainer(
        tiny_model_config(),
        tiny_train_config(iterations=2),
        images_to_tensor(images),
        infer_config={"steps": 2, "batch_size": 4},
    )
    trainer.run(progress=False)
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    trainer.save(path)
    return path


@pytest.fixture()
def image_folder(tmp_path):
    images, masks = squares_on_stripes(n=3, res=48, seed=5)
    img_dir, mask_dir = tmp_path / "images", tmp_path / "masks"
    img_dir.mkdir()
    mask_dir.mkdir()
    for i, (im, m) in enumerate(zip(images, masks, strict=True)):
        cv2.imwrite(str(img_dir / f"im{i}.jpg"), cv2.cvtColor(im, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(mask_dir / f"im{i}.png"), m.astype(np.uint8) * 255)
    return img_dir, mask_dir


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_clean_error(result, fragment):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    assert fragment in result.output


def test_extract_writes_mask_and_cutout_at_original_size(checkpoint, image_folder, tmp_path):
    img_dir, _ = image_folder
    out = tmp_path / "out"
    result = run("extract", checkpoint, img_dir, "--out", out)
    assert result.exit_code == 0, result.output
    mask = cv2.imread(str(out / "im0_mask.png"), cv2.IMREAD_UNCHANGED)
    cut = cv2.imread(str(out / "im0_cutout.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (48, 48) and set(np.unique(mask)) <= {0, 255}
    assert cut.shape == (48, 48, 4)
    assert np.array_equal(cut[..., 3] > 0, mask > 0)


def test_evaluate_prints_and_writes_scores(checkpoint, image_folder, tmp_path):
    img_dir, mask_dir = image_folder
    result = run("evaluate", checkpoint, "--images", img_dir, "--masks", mask_dir, "--json", tmp_path / "s.json")
    assert result.exit_code == 0, result.output
    scores = json.loads((tmp_path / "s.json").read_text())
    assert scores["n_images"] == 3 and 0 <= scores["iou"] <= 100 and 0 <= scores["dice"] <= 100
    assert json.loads(result.stdout.strip().splitlines()[-1]) == scores
    assert (scores["steps"], scores["restarts"], scores["settle_steps"]) == (2, 1, 0)  # the model's settings
    assert (scores["mask_from"], scores["mask_threshold"], scores["combine_restarts"]) == ("pi_f", 0.5, "lowest_energy")


def test_evaluate_takes_inference_options(checkpoint, image_folder):
    img_dir, mask_dir = image_folder
    args = (
        "--steps",
        "1",
        "--restarts",
        "2",
        "--settle-steps",
        "3",
        "--mask-from",
        "responsibility",
        "--mask-threshold",
        "0.7",
        "--combine-restarts",
        "mean_mask",
    )
    result = run("evaluate", checkpoint, "--images", img_dir, "--masks", mask_dir, *args)
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    assert (scores["steps"], scores["restarts"], scores["settle_steps"]) == (1, 2, 3)
    assert (scores["mask_from"], scores["mask_threshold"], scores["combine_restarts"]) == (
        "responsibility",
        0.7,
        "mean_mask",
    )


def test_unknown_mask_source_is_one_clear_line(checkpoint, image_folder, tmp_path):
    img_dir, _ = image_folder
    result = run("extract", checkpoint, img_dir, "--out", tmp_path / "o", "--mask-from", "gamma")
    assert_clean_error(result, "infer.mask_from")
    assert not (tmp_path / "o").exists()


def test_missing_checkpoint(image_folder, tmp_path):
    assert_clean_error(run("extract", tmp_path / "nope.pt", image_folder[0], "--out", tmp_path / "o"), "does not exist")
    assert not (tmp_path / "o").exists()


def test_corrupt_checkpoint(image_folder, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert_clean_error(run("extract", bad, image_folder[0], "--out", tmp_path / "o"), "unreadable")
    torch.save({"something": 1}, tmp_path / "other.pt")
    assert_clean_error(
        run("extract", tmp_path / "other.pt", image_folder[0], "--out", tmp_path / "o"), "not a DRC checkpoint"
    )
    assert not (tmp_path / "o").exists()


def test_checkpoint_config_mismatch(checkpoint, image_folder, tmp_path):
    ckpt = torch.load(checkpoint, weights_only=False)
    ckpt["model_config"]["up_channels"] = [8, 8, 8]
    torch.save(ckpt, tmp_path / "mismatch.pt")
    assert_clean_error(
        run("extract", tmp_path / "mismatch.pt", image_folder[0], "--out", tmp_path / "o"),
        "does not match its model config",
    )


def test_unreadable_image_leaves_no_output(checkpoint, image_folder, tmp_path):
    img_dir, _ = image_folder
    (img_dir / "zz_broken.png").write_bytes(b"\x89PNG garbage")
    out = tmp_path / "o"
    assert_clean_error(run("extract", checkpoint, img_dir, "--out", out), "cannot read image")
    assert not out.exists()


def test_image_without_mask(checkpoint, image_folder):
    img_dir, mask_dir = image_folder
    (mask_dir / "im1.png").unlink()
    assert_clean_error(run("evaluate", checkpoint, "--images", img_dir, "--masks", mask_dir), "im1.jpg")


def test_empty_folder(checkpoint, tmp_path):
    (tmp_path / "empty").mkdir()
    assert_clean_error(run("extract", checkpoint, tmp_path / "empty", "--out", tmp_path / "o"), "no images")
