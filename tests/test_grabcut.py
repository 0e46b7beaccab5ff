"""GrabCut baseline on a synthetic image: a red disc on grey stripes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from drc.baselines.grabcut import grabcut_mask, grabcut_masks, rectangle, rectangle_mask, refine_with_grabcut
from drc.metrics import per_image_scores

R = 96


def disc_image(cx: float = 48, cy: float = 50, radius: float = 18) -> tuple[np.ndarray, np.ndarray]:
    """uint8 RGB image (red disc on vertical grey stripes of period 8 px) and the disc's mask."""
    yy, xx = np.mgrid[0:R, 0:R]
    stripes = np.where((xx // 4) % 2 == 0, 70, 190).astype(np.uint8)
    image = np.repeat(stripes[..., None], 3, axis=-1)
    disc = (xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2
    image[disc] = (220, 20, 20)
    return image, disc


def iou(pred: np.ndarray, target: np.ndarray) -> float:
    return float(per_image_scores(pred[None], target[None])[0][0])


def test_grabcut_finds_the_disc_and_beats_the_rectangle() -> None:
    image, disc = disc_image()
    pred = grabcut_mask(image, margin=1 / 8)
    assert pred.shape == disc.shape and pred.dtype == bool
    assert iou(pred, disc) > 0.8
    assert iou(rectangle_mask(R, R, 1 / 8), disc) < 0.5


def test_margin_sets_the_rectangle() -> None:
    assert rectangle(128, 128, 1 / 8) == (16, 16, 96, 96)
    assert rectangle_mask(128, 128, 1 / 8).sum() == 96 * 96
    assert rectangle_mask(128, 128, 1 / 4).sum() == 64 * 64
    # A disc reaching into the border is cut back by a wide margin (those pixels are fixed background).
    image, disc = disc_image(cx=24, radius=16)
    wide, narrow = grabcut_mask(image, margin=0.25), grabcut_mask(image, margin=1 / 32)
    assert not wide[:, : R // 4].any()
    assert iou(narrow, disc) > iou(wide, disc)


def test_batch_matches_single_and_is_deterministic_across_workers() -> None:
    images = np.stack([disc_image(cx=30 + 8 * k)[0] for k in range(4)])
    serial, failed = grabcut_masks(images, workers=1, progress=False)
    parallel, failed2 = grabcut_masks(images, workers=2, progress=False)
    assert failed == failed2 == 0
    np.testing.assert_array_equal(serial, parallel)
    np.testing.assert_array_equal(serial[2], grabcut_mask(images[2]))


def test_grabcut_failure_returns_the_rectangle_and_is_counted() -> None:
    # margin 0 leaves GrabCut no background sample: OpenCV raises, the rectangle (whole image) is used.
    image, _ = disc_image()
    masks, failed = grabcut_masks(image[None], margin=0.0, workers=1, progress=False)
    assert failed == 1 and masks.all()
    assert grabcut_mask(image, margin=0.0).all()


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((R, R, 3), np.float32), "uint8 H x W x 3"),
        (np.zeros((R, R), np.uint8), "uint8 H x W x 3"),
        (np.zeros((R, R, 4), np.uint8), "uint8 H x W x 3"),
        ([[0, 0, 0]], "uint8 H x W x 3"),
    ],
)
def test_bad_image_raises_value_error(bad: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        grabcut_mask(bad)  # type: ignore[arg-type]


def test_bad_batch_and_arguments_raise_value_error() -> None:
    image, _ = disc_image()
    with pytest.raises(ValueError, match="N x H x W x 3"):
        grabcut_masks(image, progress=False)
    with pytest.raises(ValueError, match="margin"):
        grabcut_mask(image, margin=0.5)
    with pytest.raises(ValueError, match="iterations"):
        grabcut_mask(image, iterations=0)


def test_a_band_keeps_grabcut_from_spreading_the_seed_over_far_pixels_of_its_colour() -> None:
    image, disc = disc_image(cx=28, cy=28, radius=12)
    far, _ = disc_image(cx=72, cy=72, radius=12)
    image[far[..., 0] == 220] = (220, 20, 20)  # a second red disc, far from the seed
    seed = disc.copy()
    free = refine_with_grabcut(image, seed)
    banded = refine_with_grabcut(image, seed, band=8)
    assert free[72, 72] and not banded[72, 72]  # unbanded, the seed's colour model takes the far disc too
    assert iou(banded, disc) > 0.95 and not (banded & ~cv2.dilate(seed.astype(np.uint8), np.ones((17, 17)))).any()
    assert refine_with_grabcut(image, seed, band=200).tolist() == free.tolist()  # a band wider than the image
    with pytest.raises(ValueError, match="band must be at least 1 pixel"):
        refine_with_grabcut(image, seed, band=0)
