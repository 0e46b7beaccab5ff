"""The mask-error bench's measurements (bench/mask_errors.py)."""

import torch

from bench.mask_errors import mean_warp, one_pixel
from drc.model.networks import identity_grid


def test_mean_warp_is_zero_for_the_identity_and_the_shift_for_a_translation():
    grid = identity_grid(8, 8, torch.zeros(1)).repeat(2, 1, 1, 1)
    assert mean_warp(grid) == 0.0
    shifted = grid + torch.tensor([0.3, -0.4])  # every pixel sampled 0.5 of the half-side away
    assert abs(mean_warp(shifted) - 0.5) < 1e-6


def test_one_pixel_grows_and_shrinks_a_square_by_one_pixel_each_side():
    mask = torch.zeros(1, 9, 9, dtype=torch.bool)
    mask[0, 3:6, 3:6] = True
    assert int(one_pixel(mask, grow=True).sum()) == 25 and int(one_pixel(mask, grow=False).sum()) == 1
