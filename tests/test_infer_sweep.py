"""bench.infer_sweep: its plans, its images, and the refined score it prints is the one `drc extract --refine`
writes."""

import numpy as np
import pytest
import torch

from bench.infer_sweep import append_row, check_columns, grabcut_readouts, parse_plan, refined_iou
from bench.inputs import generator_config, tmdsprites_with_originals
from drc.config import ReadoutConfig, RobustConfig
from drc.data.prepared import Prepared
from drc.data.tmdsprites_robust import prepare_robust
from drc.errors import DRCError
from drc.fullres import MaskReadout
from drc.imageio import cutout

GRABCUT = MaskReadout(refine="grabcut")


def test_a_plan_reads_start_restarts_steps_and_settling():
    assert parse_plan("encoder:3x40x10") == ("encoder", 3, 40, 10)
    with pytest.raises(DRCError, match="START:RxSxT"):
        parse_plan("noise:3x40")
    with pytest.raises(DRCError, match="noise or encoder"):
        parse_plan("persistent:3x40x10")


def test_each_varied_value_scores_the_same_read_out_with_another_grabcut_setting():
    readout = ReadoutConfig(threshold=0.8, full_resolution=True, refine="grabcut", seed_threshold=0.65)
    assert grabcut_readouts(readout, [], refine=True) == [readout]
    seeded = grabcut_readouts(readout, ["seed_threshold=0.5,0.8"], refine=True)
    assert [r.seed_threshold for r in seeded] == [0.5, 0.8] and {r.threshold for r in seeded} == {0.8}
    assert readout.seed_threshold == 0.65
    grid = grabcut_readouts(readout, ["seed_threshold=0.5,0.8", "grabcut_band=null,6"], refine=True)
    assert [(r.seed_threshold, r.grabcut_band) for r in grid] == [(0.5, None), (0.5, 6), (0.8, None), (0.8, 6)]
    with pytest.raises(DRCError, match="needs --refine"):
        grabcut_readouts(readout, ["seed_threshold=0.5"], refine=False)
    with pytest.raises(DRCError, match="KEY one of seed_threshold, grabcut_band"):
        grabcut_readouts(readout, ["threshold=0.5"], refine=True)  # read by the chains' soft masks: a run each
    with pytest.raises(DRCError, match="grabcut_band must be at least 1"):
        grabcut_readouts(readout, ["grabcut_band=0"], refine=True)
    resized = grabcut_readouts(ReadoutConfig(refine="grabcut"), ["seed_threshold=0.5"], refine=True)
    assert [(r.full_resolution, r.seed_threshold) for r in resized] == [(False, 0.5)]  # seeds the resized mask


def test_the_refined_score_is_that_of_the_written_masks():
    rng = np.random.default_rng(0)
    images = np.full((2, 32, 32, 3), 100, np.uint8)
    images[:, 8:24, 8:24] = (230, 20, 20)
    truth = np.zeros((2, 32, 32), bool)
    truth[:, 8:24, 8:24] = True
    soft = torch.from_numpy(rng.uniform(0.3, 0.7, (2, 8, 8)).astype(np.float32))
    soft[:, 2:6, 2:6] = 1.0
    written = np.stack([cutout(image, s, GRABCUT)[0] for image, s in zip(images, soft.numpy(), strict=True)])
    expected = 100 * np.mean([(w & t).sum() / (w | t).sum() for w, t in zip(written, truth, strict=True)])
    assert refined_iou(images, soft, truth, MaskReadout(), None) == pytest.approx(expected)


def test_robust_validation_images_are_drawn_as_the_robustness_set_is(tmp_path):
    """--robust scores images of the second generator exactly as prepare_heldout draws the robustness set."""
    cfg = generator_config(3, 6, ["texture_colour=colour"], robust=True)
    assert cfg == RobustConfig(seed=6, n_images=3, texture_colour="colour")
    x, masks, originals = tmdsprites_with_originals(cfg, 32)
    prepared = Prepared.open(prepare_robust(cfg, tmp_path, "robust"))
    np.testing.assert_array_equal(originals, prepared.images)
    np.testing.assert_array_equal(masks, prepared.masks)
    assert x.shape == (3, 3, 32, 32) and x.min() >= -1 and x.max() <= 1


def test_rows_are_appended_only_under_their_own_header(tmp_path):
    path = tmp_path / "rows.csv"
    append_row(path, {"a": 1, "b": 2})
    append_row(path, {"a": 3, "b": 4})
    assert path.read_text().splitlines() == ["a,b", "1,2", "3,4"]
    with pytest.raises(DRCError, match="has other columns"):
        append_row(path, {"a": 5, "b": 6, "c": 7})
    assert path.read_text().splitlines()[-1] == "3,4"


def test_columns_are_checked_before_any_row_is_written(tmp_path):
    path = tmp_path / "rows.csv"
    check_columns(path, ["a", "b"])  # no file yet: any columns will do
    append_row(path, {"a": 1, "b": 2})
    check_columns(path, ["a", "b"])
    with pytest.raises(DRCError, match="has other columns"):
        check_columns(path, ["a", "c"])
