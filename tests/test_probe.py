"""bench.probe: settings are probed on validation seeds only, with the pipeline's own training and scoring."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import probe
from drc.errors import DRCError
from drc.params import load_params

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A working folder with the project's params.yaml, where the probe writes data/, models/ and its CSV."""
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "spec", ["grey:0", "grey:1", "grey-robust:5", "colour:10", "colour:11", "colour-robust:15", "clevr:0", "clevr:1"]
)
def test_the_pipelines_own_sets_are_refused(spec):
    with pytest.raises(DRCError, match="a set the pipeline scores; probe on validation seeds"):
        probe.generator_settings(spec, 10, load_params(ROOT / "params.yaml"))


@pytest.mark.parametrize("spec", ["grey", "blue:3", "grey:x", "colour-robust", "clevr-robust:3"])
def test_a_malformed_set_is_one_clear_error(spec):
    with pytest.raises(DRCError, match="a set is VARIANT:SEED"):
        probe.generator_settings(spec, 10, load_params(ROOT / "params.yaml"))


def test_validation_sets_are_drawn_like_the_pipelines_variant_from_another_seed():
    params = load_params(ROOT / "params.yaml")
    variant, cfg = probe.generator_settings("colour:13", 20, params)
    assert (variant, cfg.seed, cfg.n_images, cfg.texture_colour) == ("colour", 13, 20, "colour")
    variant, robust = probe.generator_settings("grey-robust:6", 30, params)
    assert (variant, robust.seed, robust.n_images, robust.texture_colour) == ("grey", 6, 30, "grey")
    variant, scenes = probe.generator_settings("clevr:3", 40, params)  # rendered scenes: the renderer's seed
    assert (variant, scenes.seed, scenes.n_scenes, scenes.eval_size, scenes.heldout.seed) == ("clevr", 3, 40, 40, 4)


def test_missed_sprites_are_counted_by_size_and_border():
    truth = np.zeros((1, 60, 60), bool)
    truth[0, 20:32, 20:32] = True  # a sprite of 12 px (< 1/4 of 60 px) in the middle: found
    truth[0, 1:17, 1:17] = True  # a sprite of 16 px (>= 1/4) at the border: missed
    found = np.zeros_like(truth)
    found[0, 20:32, 20:32] = True
    table = probe.missed_by_group(probe.sprite_recall(found, truth))
    assert table.loc[("1/6 to 1/4", ">= 0.18"), "missed"] == 0.0
    assert table.loc[(">= 1/4", "< 0.18"), "missed"] == 100.0
    assert table.loc[("all", "all")].tolist() == [2, 50.0]


def run_probe(*args: str) -> subprocess.CompletedProcess:
    """``python -m bench.probe ARGS`` in the working folder: a process of its own, which pins its kernels first."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "bench.probe", "--threads", "1", *args], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


@pytest.mark.slow
def test_a_probe_trains_on_a_validation_seed_and_scores_as_the_pipeline_does(project):
    trained = run_probe("train", "smoke", "--variant", "colour", "--profile", "tiny")
    assert trained.returncode == 0, trained.stderr
    assert (project / "models/probe/smoke/model.pt").is_file()
    assert (project / "data/probe/colour-s12-n64/meta.json").is_file()  # the tiny profile's 64 training images
    scored = run_probe("score", "smoke", "--images", "6", "--breakdown")
    assert scored.returncode == 0, scored.stderr
    out = scored.stdout
    assert "colour:13: own masks" in out and "colour-robust:16: own masks" in out and "sprites missed" in out
    rows = pd.read_csv(project / "bench/results/probes.csv")
    assert rows["set"].tolist() == ["colour:13", "colour-robust:16"] and (rows["images"] == 6).all()
    assert rows["command"].str.startswith("python -m bench.probe").all()
    (project / "other.csv").write_text("a,b\n1,2\n")
    refused = run_probe("score", "smoke", "--images", "6", "--csv", "other.csv")  # other columns: not appended to
    assert refused.returncode == 2 and "has other columns" in refused.stderr
    assert (project / "other.csv").read_text() == "a,b\n1,2\n"
