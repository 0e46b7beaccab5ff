"""Crop geometry against hand-computed boxes, and crop-resize of images and masks."""

import numpy as np
import pytest

from drc.data.crop import crop_resize_image, crop_resize_mask, decode_image, decode_mask, square_crop
from drc.errors import DRCError
from tests.fixtures_real import encode


@pytest.mark.parametrize(
    ("box", "size", "expected"),
    [
        # interior: w 20, h 10 -> r = int(15) = 15, centre (50, 45)
        ((40, 40, 60, 50), (200, 200), (35, 30, 65, 60)),
        # wide box: r = int(0.75 * 40) = 30, centre (30, 30) -> exactly reaches the top-left corner
        ((10, 20, 50, 40), (100, 100), (0, 0, 60, 60)),
        # box at the top-left corner: r = int(22.5) = 22, centre (15, 15) -> clipped at 0
        ((0, 0, 30, 30), (100, 80), (0, 0, 37, 37)),
        # box at the bottom-right corner: r = 22, centre (85, 65) -> clipped at (100, 80)
        ((70, 50, 100, 80), (100, 80), (63, 43, 100, 80)),
        # box covering the whole image: clipped on all four sides
        ((0, 0, 64, 48), (64, 48), (0, 0, 64, 48)),
        # odd extent: centre int(2.5) = 2, r = int(2.25) = 2
        ((1, 1, 4, 4), (10, 10), (0, 0, 4, 4)),
        # truncation, not rounding: r = int(24.75) = 24, centre int(16.5) = 16
        ((0, 0, 33, 10), (100, 100), (0, 0, 40, 29)),
        # centre int(15.5) = 15 (round would give 16), r = int(8.25) = 8
        ((10, 10, 21, 20), (100, 100), (7, 7, 23, 23)),
    ],
)
def test_square_crop_hand_computed(box, size, expected):
    assert square_crop(box, *size, scale=0.75) == expected


def test_square_crop_scale_and_empty():
    assert square_crop((40, 40, 60, 60), 200, 200, scale=1.0) == (30, 30, 70, 70)
    with pytest.raises(ValueError, match="empty crop"):
        square_crop((5, 5, 5, 5), 10, 10, scale=0.75)


def test_crop_resize_image_takes_the_crop():
    image = np.zeros((40, 60, 3), np.uint8)
    image[10:20, 30:50] = 200
    out = crop_resize_image(image, (30, 10, 50, 20), 10)
    assert out.shape == (10, 10, 3) and out.dtype == np.uint8
    assert (out == 200).all()
    # a non-square crop (clipped at a border) is stretched to the square output
    assert crop_resize_image(image, (0, 0, 60, 20), 20).shape == (20, 20, 3)


def test_crop_resize_mask_binarises_at_half():
    soft = np.zeros((20, 20), np.float32)
    soft[:, :10] = 0.6
    soft[:, 10:] = 0.4
    out = crop_resize_mask(soft, (0, 0, 20, 20), 10)
    assert out.dtype == bool and out.shape == (10, 10)
    assert out[:, :5].all() and not out[:, 5:].any()


def test_decode_greyscale_and_mask():
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8)
    rgb = decode_image(encode(grey, "PNG"), "x.png")
    assert rgb.shape == (8, 8, 3) and (rgb[..., 0] == grey).all()
    mask = decode_mask(encode(np.full((4, 4), 255, np.uint8), "PNG"), "m.png")
    assert mask.dtype == np.float32 and (mask == 1.0).all()
    with pytest.raises(DRCError, match="not a readable image"):
        decode_image(b"not an image", "broken.jpg")
