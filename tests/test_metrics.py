"""Scores against ground truth given at another resolution than the model's."""

import numpy as np
import pytest

from drc.fullres import MaskReadout
from drc.metrics import scores_at_target_size

GRABCUT = MaskReadout(refine="grabcut")


def test_scores_at_target_size_upsample_the_soft_mask_like_extract():
    pi_f = np.zeros((2, 8, 8), dtype=np.float32)
    pi_f[:, :, :4] = 1.0  # left half
    left = np.zeros((32, 32), dtype=bool)
    left[:, :16] = True
    iou, dice = scores_at_target_size(pi_f, [left, ~left])
    assert iou.tolist() == [1.0, 0.0] and dice.tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="2 predictions for 1"):
        scores_at_target_size(pi_f, [left])


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
    plain, _ = scores_at_target_size(coarse, [truth])
    refined, _ = scores_at_target_size(coarse, [truth], [image], how=GRABCUT)
    assert plain[0] < 0.9 and refined[0] > 0.95
    half, _ = scores_at_target_size(coarse, [truth[::2, ::2]], [image], how=GRABCUT)  # image brought to 32 px
    assert half[0] > 0.9
    with pytest.raises(ValueError, match="needs the 1 images"):
        scores_at_target_size(coarse, [truth], how=GRABCUT)
