"""Scoring a checkpoint: chains from the persistent chains or from noise, provenance, and re-running a score."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from drc.atomic import write_json
from drc.checkpoint import read_checkpoint, train_config_of
from drc.config import ReadoutConfig, SamplerConfig
from drc.data.prepared import Prepared
from drc.errors import DRCError
from drc.provenance import drc_scores, prepared_record, score_record
from drc.readout import Readout
from drc.scoring import evaluate_prepared, inference_settings, rerun_scores
from drc.trainrun import train_model
from tests.helpers import tiny_model_config, tiny_train_config, write_squares


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scoring")
    data = write_squares(tmp)
    ckpt = tmp / "m.pt"
    train_model(
        data, "train", tiny_model_config(), tiny_train_config(iterations=2), ckpt, profile="tiny", progress=False
    )
    return data, ckpt


def test_evaluate_from_persistent_chains_and_from_noise(trained):
    data, ckpt = trained
    persistent = SamplerConfig(init="persistent", steps=2, batch_size=4)
    summary, iou, out = evaluate_prepared(ckpt, data, "train", persistent, ReadoutConfig(), progress=False)
    assert summary["n_images"] == 8 and iou.shape == (8,) and out.mask.shape == (8, 32, 32)
    with pytest.raises(DRCError, match="not trained on"):
        evaluate_prepared(ckpt, data, "test", persistent, ReadoutConfig(), progress=False)
    noise = SamplerConfig(steps=5, batch_size=4)
    summary, _, out = evaluate_prepared(ckpt, data, "test", noise, ReadoutConfig(), progress=False)
    assert summary["n_images"] == 2 and np.isfinite(summary["iou"])
    torch.randn(10)  # a scoring run repeats whatever the process did before (sampler.seed)
    _, _, again = evaluate_prepared(ckpt, data, "test", noise, ReadoutConfig(), progress=False)
    assert torch.equal(out.z, again.z)


@pytest.mark.parametrize("full_resolution", [False, True])
def test_a_refined_score_records_the_models_own_masks_beside_it(trained, full_resolution):
    data, ckpt = trained
    noise = SamplerConfig(steps=2, batch_size=4)
    own = ReadoutConfig(full_resolution=full_resolution)
    plain, plain_iou, _ = evaluate_prepared(ckpt, data, "train", noise, own, progress=False)
    refined, _, _ = evaluate_prepared(ckpt, data, "train", noise, replace(own, refine="grabcut"), progress=False)
    _, _, out = evaluate_prepared(ckpt, data, "train", noise, own, progress=False)
    prepared = Prepared.open(data)
    rows = prepared.split("train")
    how = Readout.resolve(own, noise, train_config_of(read_checkpoint(ckpt)))  # the masks as `drc extract` reads them
    masks, images = np.asarray(prepared.labelled_masks()[rows]), np.asarray(prepared.images[rows])
    decided = how.renderings(out.fg, out.bg)
    assert np.allclose(plain_iou, how.scores(out.soft_mask, masks, images, decided)[0])
    assert "refined" not in plain
    # The headline score is the model's own masks; GrabCut's redrawing is recorded beside it.
    assert (refined["iou"], refined["dice"]) == (pytest.approx(plain["iou"]), pytest.approx(plain["dice"]))
    redrawn = replace(how, config=replace(own, refine="grabcut")).scores(out.soft_mask, masks, images, decided)
    expected = {"iou": pytest.approx(100 * redrawn[0].mean()), "dice": pytest.approx(100 * redrawn[1].mean())}
    assert refined["refined"] == expected
    assert refined["n_images"] == plain["n_images"] == len(plain_iou)


def test_inference_follows_the_profile_the_model_was_trained_under(trained):
    _, ckpt = trained
    sampler, readout = inference_settings(read_checkpoint(ckpt))
    assert (sampler.steps, sampler.batch_size, readout) == (
        3,
        64,
        ReadoutConfig(full_resolution=True, refine="grabcut", seed_threshold=0.35, grabcut_band=6),
    )  # profiles/tiny
    sampler, _ = inference_settings(read_checkpoint(ckpt), overrides={"sampler": {"steps": 9}})
    assert sampler.steps == 9


def test_a_scores_file_re_runs_to_the_same_numbers_and_refuses_other_inputs(trained, tmp_path):
    data, ckpt = trained
    sampler, readout = SamplerConfig(steps=3, restarts=2, batch_size=4, seed=5), ReadoutConfig(threshold=0.6)
    summary, _, _ = evaluate_prepared(ckpt, data, "test", sampler, readout, progress=False)
    prepared = Prepared.open(data)
    record = score_record(summary, prepared_record(prepared, "test"), sampler, readout)
    scores = drc_scores({"squares/test": record}, ckpt, read_checkpoint(ckpt))
    assert scores["model"]["profile"] == "tiny" and scores["model"]["train"]["iterations"] == 2
    assert scores["results"]["squares/test"]["sampler"]["restarts"] == 2
    assert len(scores["code"]["source_sha256"]) == 64
    write_json(tmp_path / "scores.json", scores)
    ((key, recorded, now),) = rerun_scores(tmp_path / "scores.json", progress=False)
    assert key == "squares/test" and (now["iou"], now["dice"]) == (recorded["iou"], recorded["dice"])

    scores["model"]["sha256"] = "0" * 64
    (tmp_path / "other.json").write_text(json.dumps(scores))
    with pytest.raises(DRCError, match="is not the checkpoint that was scored"):
        list(rerun_scores(tmp_path / "other.json"))
    (tmp_path / "broken.json").write_text("{}")
    with pytest.raises(DRCError, match="is not a scores file"):
        list(rerun_scores(tmp_path / "broken.json"))
