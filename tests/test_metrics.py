"""Scores against ground truth given at another resolution than the model's."""

import numpy as np
import pytest

from drc.metrics import scores_at_target_size


def test_scores_at_target_size_upsample_the_soft_mask_like_extract():
    pi_f = np.zeros((2, 8, 8), dtype=np.float32)
    pi_f[:, :, :4] = 1.0  # left half
    left = np.zeros((32, 32), dtype=bool)
    left[:, :16] = True
    iou, dice = scores_at_target_size(pi_f, [left, ~left])
    assert iou.tolist() == [1.0, 0.0] and dice.tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="2 predictions for 1"):
        scores_at_target_size(pi_f, [left])
