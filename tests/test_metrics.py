"""Scores against ground truth given at another resolution than the model's."""

import numpy as np
import pytest
import torch

from drc.config import ReadoutConfig
from drc.metrics import per_image_scores, resized_scores, score_masks, summarize
from drc.readout import Readout

GRABCUT = Readout(ReadoutConfig(refine="grabcut"))


def test_resized_scores_upsample_the_soft_mask_like_extract():
    pi_f = np.zeros((2, 8, 8), dtype=np.float32)
    pi_f[:, :, :4] = 1.0  # left half
    left = np.zeros((32, 32), dtype=bool)
    left[:, :16] = True
    iou, dice = resized_scores(pi_f, [left, ~left])
    assert iou.tolist() == [1.0, 0.0] and dice.tolist() == [1.0, 0.0]
    assert [a.tolist() for a in Readout().scores(pi_f, [left, ~left])] == [[1.0, 0.0], [1.0, 0.0]]
    with pytest.raises(ValueError, match="2 predictions for 1"):
        resized_scores(pi_f, [left])


def square_scene(size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A red square on a grey background, and its mask."""
    image = np.full((size, size, 3), 128, np.uint8)
    truth = np.zeros((size, size), bool)
    truth[20:44, 20:44] = True
    image[truth] = (220, 30, 30)
    return image, truth


def test_refine_redraws_a_coarse_mask_on_the_image_at_the_ground_truths_size():
    image, truth = square_scene()
    coarse = np.zeros((1, 8, 8), np.float32)
    coarse[0, 2:6, 2:6] = 1.0  # the square, but at 8 px: its edges land 4 px off at 64 px
    coarse[0, 2, 2:6] = 0.0
    plain, _ = resized_scores(coarse, [truth])
    refined, _ = GRABCUT.scores(coarse, [truth], [image])
    assert plain[0] < 0.9 and refined[0] > 0.95
    half, _ = GRABCUT.scores(coarse, [truth[::2, ::2]], [image])  # image brought to 32 px
    assert half[0] > 0.9
    with pytest.raises(ValueError, match="the images they are decided on"):
        GRABCUT.scores(coarse, [truth])


def test_iou_and_dice_of_partial_overlaps_counted_by_hand():
    pred = np.zeros((4, 3, 3), bool)
    target = np.zeros((4, 3, 3), bool)
    pred[0, 0, :2], target[0, :2, 0] = True, True  # 2 and 2 pixels, 1 shared: IoU 1/3, Dice 2 * 1 / 4
    pred[1, :, :2], target[1, :, 1:] = True, True  # 6 and 6, 3 shared: IoU 3/9, Dice 6/12
    pred[2, 1, 1], target[2, 1, 1] = True, True  # one pixel each, the same one: 1 and 1
    pred[3, 2, 2] = True  # one pixel found where there is nothing to find: 0 and 0
    iou, dice = per_image_scores(pred, target)
    assert iou.tolist() == pytest.approx([1 / 3, 1 / 3, 1.0, 0.0])
    assert dice.tolist() == pytest.approx([0.5, 0.5, 1.0, 0.0])


def test_empty_masks_score_one_when_both_are_empty_and_zero_otherwise():
    empty, full = np.zeros((1, 2, 2), bool), np.ones((1, 2, 2), bool)
    assert [s.tolist() for s in per_image_scores(empty, empty)] == [[1.0], [1.0]]  # nothing to find, nothing found
    assert [s.tolist() for s in per_image_scores(empty, full)] == [[0.0], [0.0]]
    assert [s.tolist() for s in per_image_scores(full, empty)] == [[0.0], [0.0]]


def test_scores_are_the_mean_over_images_in_percent_and_take_tensors():
    assert summarize(np.array([0.25, 1.0]), np.array([0.5, 1.0])) == {"iou": 62.5, "dice": 75.0, "n_images": 2}
    pred = torch.tensor([[[1.0, 1.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, 0.0]]], requires_grad=True)
    target = torch.tensor([[[True, False], [True, False]], [[True, False], [False, False]]])
    # image 0: 1 shared of 3 in the union (Dice 2/4); image 1: identical
    scores = score_masks(pred, target)
    assert scores == {"iou": pytest.approx(100 * (1 / 3 + 1) / 2), "dice": pytest.approx(75.0), "n_images": 2}
    with pytest.raises(ValueError, match=r"^prediction \(2, 2, 2\) and target \(1, 2, 2\) differ in shape$"):
        per_image_scores(pred, target[:1])
