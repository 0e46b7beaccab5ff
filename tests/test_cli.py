import json

import cv2
import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from drc.cli import app
from tests.helpers import squares_on_stripes, tiny_checkpoint

runner = CliRunner()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


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


def test_evaluate_prints_scores_and_writes_them_with_what_made_them(checkpoint, image_folder, tmp_path):
    img_dir, mask_dir = image_folder
    result = run("evaluate", checkpoint, "--images", img_dir, "--masks", mask_dir, "--json", tmp_path / "s.json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    scores = json.loads((tmp_path / "s.json").read_text())
    (record,) = scores["results"].values()
    assert printed == {k: record[k] for k in ("iou", "dice", "n_images", "refined")} and record["n_images"] == 3
    assert record["sampler"]["steps"] == 3 and record["sampler"]["init"] == "noise"  # the tiny profile's
    assert record["readout"] == {
        "source": "pi_f",
        "threshold": 0.5,
        "combine": "lowest_energy",
        "full_resolution": True,
        "refine": "grabcut",
        "seed_threshold": 0.35,
        "grabcut_band": 6,
    }
    assert record["data"]["images"] == str(img_dir) and len(record["data"]["sha256"]) == 64
    assert scores["model"]["profile"] == "tiny" and scores["model"]["iteration"] == 2
    assert {"drc", "source_sha256", "git_commit", "git_dirty"} <= set(scores["code"])

    rerun = run("evaluate", "--from", tmp_path / "s.json")
    assert rerun.exit_code == 0, rerun.output
    assert f"{img_dir.name}: IoU {printed['iou']:.2f}" in rerun.output and "reproduced" in rerun.output


def test_evaluate_takes_settings_through_set(checkpoint, image_folder, tmp_path):
    img_dir, mask_dir = image_folder
    args = ["--set", "sampler.steps=1", "--set", "sampler.restarts=2", "--set", "sampler.settle_steps=3"]
    args += ["--set", "sampler.settle=every", "--set", "readout.source=responsibility"]
    args += [
        "--set",
        "readout.threshold=0.7",
        "--set",
        "readout.combine=mean_mask",
        "--set",
        "readout.full_resolution=false",
    ]
    result = run("evaluate", checkpoint, "--images", img_dir, "--masks", mask_dir, "--json", tmp_path / "s.json", *args)
    assert result.exit_code == 0, result.output
    (record,) = json.loads((tmp_path / "s.json").read_text())["results"].values()
    assert (record["sampler"]["steps"], record["sampler"]["restarts"], record["sampler"]["settle_steps"]) == (1, 2, 3)
    assert record["readout"] == {
        "source": "responsibility",
        "threshold": 0.7,
        "combine": "mean_mask",
        "full_resolution": False,
        "refine": "grabcut",
        "seed_threshold": 0.35,  # the profile's: GrabCut's seed is the resized mask at 0.35
        "grabcut_band": 6,
    }


def test_evaluate_scores_a_prepared_dataset(checkpoint, tmp_path):
    from drc.data.prepared import write_prepared

    images, masks = squares_on_stripes(n=4, res=32, seed=2)
    ids = [f"i{k}" for k in range(4)]
    data = write_prepared(tmp_path / "d", name="d", images=images, masks=masks, ids=ids, splits={}, source={})
    result = run("evaluate", checkpoint, "--dataset", data, "--split", "all", "--json", tmp_path / "s.json")
    assert result.exit_code == 0, result.output
    assert list(json.loads((tmp_path / "s.json").read_text())["results"]) == ["d/all"]
    assert_clean_error(run("evaluate", checkpoint, "--dataset", data, "--images", data), "either --images")


IGNORED = ["sampler.restarts=2", "sampler.settle_steps=2", "readout.combine=mean_mask"]  # settle=kept is ignored


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["readout.source=gamma"], "readout.source must be pi_f | responsibility, got 'gamma'"),
        (["sampler.stepz=3"], "unknown sampler setting(s) ['stepz']"),
        (["steps=3"], "--set takes SECTION.KEY=VALUE"),
        (IGNORED, "sampler.settle=kept would be ignored"),
    ],
)
def test_a_bad_setting_is_one_clear_line(checkpoint, image_folder, tmp_path, options, fragment):
    args = [part for option in options for part in ("--set", option)]
    result = run("extract", checkpoint, image_folder[0], "--out", tmp_path / "o", *args)
    assert_clean_error(result, fragment)
    assert not (tmp_path / "o").exists()


def test_settings_prints_the_resolved_settings_and_every_field():
    result = run("settings", "--profile", "cpu", "--set", "sampler.steps=7")
    assert result.exit_code == 0, result.output
    resolved = yaml.safe_load(result.output)
    assert resolved["sampler"]["steps"] == 7 and resolved["model"]["zb_dim"] == 3
    listed = run("settings", "--fields").output
    assert "readout.source: pi_f | responsibility (default 'pi_f')" in listed
    assert "train.max_images: integer or none (default None)" in listed
    assert "readout.source: pi_f" in run("extract", "--help").output


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


def test_an_unreadable_image_is_named_and_skipped_and_the_rest_are_written(checkpoint, image_folder, tmp_path):
    img_dir, _ = image_folder
    (img_dir / "zz_broken.png").write_bytes(b"\x89PNG garbage")
    out = tmp_path / "o"
    result = run("extract", checkpoint, img_dir, "--out", out)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "skipped" in result.output and "zz_broken.png" in result.output
    assert sorted(p.name for p in out.glob("*_mask.png")) == ["im0_mask.png", "im1_mask.png", "im2_mask.png"]
    assert not list(out.glob("zz_broken*")) and not list(out.glob(".*.tmp"))


def test_image_without_mask(checkpoint, image_folder):
    img_dir, mask_dir = image_folder
    (mask_dir / "im1.png").unlink()
    result = run("evaluate", checkpoint, "--images", img_dir, "--masks", mask_dir)
    assert_clean_error(result, "1 image(s) have no mask of the same relative path and stem")
    assert "im1.jpg" in result.output


def test_empty_folder(checkpoint, tmp_path):
    (tmp_path / "empty").mkdir()
    assert_clean_error(run("extract", checkpoint, tmp_path / "empty", "--out", tmp_path / "o"), "no images")


def tree(root):
    """Every path under ``root`` with its bytes (None for a folder)."""
    return {p.relative_to(root).as_posix(): None if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


@pytest.fixture()
def workspace(tmp_path, checkpoint, image_folder, monkeypatch):
    """Photos with masks, a prepared dataset, a folder and a file of the user's, a checkpoint cut short."""
    from tests.helpers import write_squares

    monkeypatch.chdir(tmp_path)  # no params.yaml here (drc report)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "a.pt").write_bytes(b"a checkpoint of two days")
    (theirs / "b.pt").write_bytes(b"and another")
    (tmp_path / "notes.txt").write_text("the user's notes")
    (tmp_path / "cut.pt").write_bytes(checkpoint.read_bytes()[:200])
    write_squares(tmp_path, n=4, splits={})
    return {
        "ckpt": checkpoint,
        "photos": image_folder[0],
        "masks": image_folder[1],
        "prepared": tmp_path / "squares",
        "theirs": theirs,
        "notes": tmp_path / "notes.txt",
        "cut": tmp_path / "cut.pt",
        "missing": tmp_path / "nowhere",
        "new": tmp_path / "new",
    }


TRAIN = ["train", "--dataset", "{prepared}", "--out", "{new}.pt", "--profile", "tiny"]
EXTRACT = ["extract", "{ckpt}", "{photos}", "--out", "{new}"]
EVALUATE = ["evaluate", "{ckpt}", "--dataset", "{prepared}", "--split", "all"]
BAD = [
    (["prepare", "{missing}", "--out", "{new}"], "is not a folder"),
    (["prepare", "{photos}", "--out", "{photos}"], "is the input"),
    (["prepare", "{photos}", "--out", "{notes}"], "is a file, not a folder"),
    (["prepare", "{photos}", "--out", "{theirs}"], "is a folder that is not a prepared dataset"),
    (["prepare", "{photos}", "--out", "{new}", "--resolution", "0"], "--resolution must be 16 to 1024 px, got 0"),
    (["prepare", "{photos}", "--out", "{new}", "--resolution", "-3"], "--resolution must be 16 to 1024 px, got -3"),
    (["prepare", "{photos}", "--out", "{new}", "--resolution", "3"], "--resolution must be 16 to 1024 px, got 3"),
    (["prepare", "{photos}", "--out", "{new}", "--resolution", "5000"], "--resolution must be 16 to 1024 px"),
    (["prepare", "{photos}", "--out", "{new}", "--fit", "stretch"], "--fit must be crop or pad"),
    (["prepare", "{photos}", "--out", "{new}", "--masks", "{missing}"], "mask folder"),
    (
        [*TRAIN[:2], "{photos}", *TRAIN[3:]],
        "is not a prepared dataset (no meta.json); for a folder of images run `drc prepare",
    ),
    ([*TRAIN[:2], "{missing}", *TRAIN[3:]], "does not exist; pass a prepared dataset"),
    ([*TRAIN[:4], "{theirs}", *TRAIN[5:]], "is a folder; name a checkpoint file"),
    (
        [*TRAIN[:4], "{notes}", *TRAIN[5:]],
        "exists and is not a readable DRC checkpoint; choose another name, or pass --force",
    ),
    ([*TRAIN[:4], "{cut}", *TRAIN[5:]], "exists and is not a readable DRC checkpoint"),
    ([*TRAIN[:6], "nosuch"], "unknown profile 'nosuch'"),
    ([*TRAIN, "--params", "{missing}"], "params file"),
    ([*TRAIN, "--set", "train.lr_generator=-1"], "train.lr_generator must be positive, got -1.0"),
    ([*TRAIN, "--set", "train.lr_lebm=0"], "train.lr_lebm must be positive"),
    ([*TRAIN, "--set", "train.iterations=-1"], "train.iterations must be >= 0"),
    ([*TRAIN, "--set", "train.checkpoint_every=0"], "train.checkpoint_every must be >= 1"),
    ([*TRAIN, "--set", "train.device=gpu"], "train.device must be auto, cpu, cuda or cuda:N"),
    ([*TRAIN, "--set", "model.zf_dim=0"], "model latent sizes and category counts must be positive"),
    ([*TRAIN, "--set", "model.base_channels=0"], "model.base_channels must be >= 1"),
    ([*TRAIN, "--set", "sampler.steps=3"], "drc train reads only the model and train settings"),
    ([*TRAIN, "--set", "readout.refine=none"], "so --set readout.refine=none would be ignored"),
    ([*TRAIN, "--set", "nosuch.x=1"], "--set takes SECTION.KEY=VALUE"),
    ([*TRAIN, "--split", "nosuch"], "has no split 'nosuch'"),
    ([*TRAIN, "--live-dir", "{theirs}"], "--live-dir"),
    ([*TRAIN, "--live-dir", "{notes}"], "is a file, not a folder"),
    (["extract", "{missing}.pt", "{photos}", "--out", "{new}"], "does not exist"),
    (["extract", "{cut}", "{photos}", "--out", "{new}"], "is unreadable (RuntimeError): damaged, cut short"),
    (["extract", "{ckpt}", "{missing}", "--out", "{new}"], "does not exist; pass image files"),
    ([*EXTRACT[:4], "{notes}"], "is a file, not a folder"),
    ([*EXTRACT[:4], "{photos}"], "is the input"),
    ([*EXTRACT[:4], "{theirs}"], "is a folder that is not an output folder of drc extract"),
    ([*EXTRACT, "--preview", "{theirs}"], "is a folder; name a file"),
    ([*EXTRACT, "--preview", "{notes}"], "is not a contact sheet drc extract wrote from this --out folder"),
    ([*EXTRACT, "--refine", "magic"], "readout.refine must be none | grabcut, got 'magic'"),
    ([*EXTRACT, "--set", "train.iterations=3"], "drc extract reads only the sampler and readout settings"),
    ([*EXTRACT, "--set", "model.kf=3"], "model settings apply to drc train"),
    ([*EXTRACT, "--set", "sampler.steps=-1"], "sampler.steps and sampler.settle_steps must be >= 0"),
    ([*EXTRACT, "--set", "sampler.step_size=0"], "sampler.step_size must be positive"),
    ([*EXTRACT, "--set", "readout.threshold=2"], "readout.threshold must be in (0, 1)"),
    ([*EXTRACT, "--params", "{missing}"], "params file"),
    (["evaluate", "{ckpt}", "--images", "{photos}", "--masks", "{missing}"], "mask folder"),
    (["evaluate", "{ckpt}", "--images", "{missing}", "--masks", "{masks}"], "is not a folder"),
    (["evaluate", "{ckpt}", "--dataset", "{missing}"], "does not exist"),
    ([*EVALUATE[:-1], "nosuch"], "has no split 'nosuch'"),
    ([*EVALUATE, "--json", "{theirs}"], "is a folder; name a file"),
    ([*EVALUATE, "--json", "{notes}"], "exists and is not a scores file; choose another name, or pass --force"),
    ([*EVALUATE, "--set", "train.lr_lebm=1"], "drc evaluate reads only the sampler and readout settings"),
    ([*EVALUATE, "--params", "{missing}"], "params file"),
    (["evaluate", "--from", "{notes}"], "is not a scores file"),
    (["settings", "--profile", "nosuch"], "unknown profile 'nosuch'"),
    (["settings", "--dataset", "nosuch"], "unknown dataset 'nosuch'"),
    (["settings", "--set", "sampler.seed=-1"], "sampler.seed must be in [0, 2**63)"),
    (["settings", "--set", "train.beta1=1"], "train.beta1 and train.beta2 must be in [0, 1)"),
    (["settings", "--params", "{missing}"], "params file"),
    (["report"], "params file params.yaml not found"),
]


@pytest.mark.parametrize(("template", "fragment"), BAD, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_every_option_with_a_bad_value_is_one_error_line_and_writes_nothing(workspace, template, fragment):
    args = [part.format(**workspace) for part in template]
    root = workspace["theirs"].parent
    before = tree(root)
    result = run(*args)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert fragment in lines[0]
    assert tree(root) == before  # nothing written, nothing of the user's touched


def test_the_exit_status_rule_is_in_the_help_of_prepare_train_and_extract():
    for command in ("prepare", "train", "extract"):
        text = " ".join(run(command, "--help").output.split())
        assert "Exit status: 0 every input processed; 1 some inputs skipped" in text, command


def test_prepare_names_what_it_skipped_and_exits_1(image_folder, tmp_path):
    img_dir, _ = image_folder
    (img_dir / "zz_broken.png").write_bytes(b"\x89PNG garbage")
    (img_dir / "phone.heic").write_bytes(b"heic")
    result = run("prepare", img_dir, "--out", tmp_path / "p", "--resolution", "16")
    assert result.exit_code == 1 and "prepared 3 of 5 image(s)" in result.output and "2 skipped" in result.output
    assert "skipped zz_broken.png" in result.output and "skipped phone.heic" in result.output
    assert (tmp_path / "p/meta.json").is_file()
    assert run("prepare", img_dir, "--out", tmp_path / "p", "--resolution", "16").exit_code == 1  # its own: again


def test_another_runs_checkpoint_is_refused_unless_fresh_and_the_same_command_resumes(tmp_path):
    from tests.helpers import write_squares

    data = write_squares(tmp_path, n=4, splits={})
    args = ["train", "--dataset", data, "--out", tmp_path / "m.pt", "--profile", "tiny", "--set", "train.iterations=1"]
    assert run(*args).exit_code == 0
    before = (tmp_path / "m.pt").read_bytes()
    other = run(*args, "--set", "train.lr_generator=5e-4")
    lines = other.output.strip().splitlines()
    assert other.exit_code == 2 and lines[-1] == (
        f"error: {tmp_path / 'm.pt'} is another run's checkpoint (train.lr_generator 0.001 -> 0.0005); the same "
        "settings resume it: pass --fresh to train afresh over it, or choose another --out"
    )
    assert (tmp_path / "m.pt").read_bytes() == before
    longer = run(*args[:-1], "train.iterations=2")
    assert longer.exit_code == 0 and "trained 2 iterations" in longer.output  # resumed at 1
    fresh = run(*args, "--set", "train.lr_generator=5e-4", "--fresh")
    assert fresh.exit_code == 0 and "--fresh: training afresh over" in fresh.output
