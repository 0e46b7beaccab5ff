"""Scores against ground truth given at another resolution than the model's."""

import numpy as np
import pytest

from drc.config import ReadoutConfig
from drc.metrics import resized_scores
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
