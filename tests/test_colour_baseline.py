"""The colour-only baseline: saturation above Otsu's threshold, one threshold per image."""

import numpy as np
import pytest

from drc.baselines.colour import colour_grabcut_masks, colour_mask, colour_masks, saturation
from drc.baselines.grabcut import refine_with_grabcut


def test_saturated_sprites_on_grey_stripes_are_found_exactly():
    yy, xx = np.mgrid[:64, :64]
    grey = (128 + 100 * np.sin(xx / 3.0)).astype(np.uint8)
    image = np.repeat(grey[..., None], 3, axis=-1)
    truth = (yy - 20) ** 2 + (xx - 30) ** 2 < 81
    image[truth] = (200, 40, 40)
    assert np.array_equal(colour_mask(image), truth)


def test_saturation_is_opencvs_and_the_threshold_is_per_image():
    image = np.array([[[255, 0, 0], [128, 128, 128], [200, 100, 100]]], np.uint8)
    assert saturation(image).tolist() == [[255, 0, 127]]  # 255 (max - min) / max, rounded by OpenCV
    # The square of the first image is exactly as saturated as the background of the second: no one
    # threshold finds both squares, one threshold per image does.
    first = np.full((8, 8, 3), (110, 100, 100), np.uint8)
    first[2:5, 2:5] = (160, 100, 100)
    second = np.full((8, 8, 3), (160, 100, 100), np.uint8)
    second[2:5, 2:5] = (250, 0, 0)
    masks = colour_masks(np.stack([first, second]))
    square = np.zeros((8, 8), bool)
    square[2:5, 2:5] = True
    assert np.array_equal(masks[0], square) and np.array_equal(masks[1], square)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="uint8 H x W x 3"):
        colour_mask(np.zeros((4, 4), np.uint8))


def test_grabcut_redraws_each_colour_mask_from_that_mask():
    yy, xx = np.mgrid[:64, :64]
    grey = np.repeat((128 + 100 * np.sin(xx / 3.0)).astype(np.uint8)[..., None], 3, axis=-1)
    truth = (yy - 20) ** 2 + (xx - 30) ** 2 < 81
    grey[truth] = (200, 40, 40)
    coloured = np.where((np.sin(yy / 2.0) > 0)[..., None], (40, 200, 40), (90, 90, 160)).astype(np.uint8)
    coloured[truth] = (230, 30, 30)
    images = np.stack([grey, coloured])
    before = images.copy()
    redrawn = colour_grabcut_masks(images, progress=False)
    assert np.array_equal(images, before)
    assert np.array_equal(redrawn[0], truth)  # a perfect seed stays as it is
    assert np.array_equal(redrawn[1], refine_with_grabcut(coloured, colour_mask(coloured)))
    assert len(colour_grabcut_masks(np.zeros((0, 8, 8, 3), np.uint8), progress=False)) == 0
