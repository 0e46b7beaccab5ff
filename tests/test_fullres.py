"""The full-resolution read-out (readout.full_resolution, drc/fullres.py): eq. 7 per pixel of the image."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from drc.config import ReadoutConfig
from drc.errors import DRCError
from drc.fullres import MaskReadout, Renderings, full_resolution_mask, of_image
from drc.imageio import mask_at, soft_mask_at
from drc.metrics import scores_at_target_size

RED, BLUE = np.array([1.0, -1.0, -1.0]), np.array([-1.0, -1.0, 1.0])


def flat(colour: np.ndarray, side: int = 4) -> np.ndarray:
    return np.broadcast_to(colour[:, None, None], (3, side, side)).astype(np.float32)


def decided(sigma: float = 0.5, threshold: float = 0.5, **kwargs) -> MaskReadout:
    """The read-out deciding masks per pixel (readout.full_resolution) with these settings."""
    return MaskReadout(full_resolution=True, sigma=sigma, threshold=threshold, **kwargs)


def image_of(rgb: np.ndarray) -> np.ndarray:
    """uint8 image whose model range ([-1, 1]) values are ``rgb`` (H x W x 3)."""
    return np.rint((rgb + 1.0) * 127.5).astype(np.uint8)


def test_each_pixel_goes_to_the_region_whose_colour_it_has_not_to_the_resized_ramp():
    # a 4 px model, a 16 px image: the sprite's edge falls inside a model pixel (column 6 of 16)
    rgb = np.broadcast_to(BLUE, (16, 16, 3)).copy()
    rgb[:, :6] = RED
    soft = np.full((4, 4), 0.5, np.float32)
    mask = full_resolution_mask(soft, image_of(rgb), Renderings(flat(RED), flat(BLUE)), decided())
    expected = np.zeros((16, 16), bool)
    expected[:, :6] = True
    assert np.array_equal(mask, expected)
    assert not np.array_equal(soft_mask_at(soft, 16, 16), expected)  # what resizing alone would give


@pytest.mark.parametrize(("soft", "threshold", "foreground"), [(0.9, 0.8, True), (0.7, 0.8, False), (0.6, 0.5, True)])
def test_where_both_regions_explain_a_pixel_equally_the_read_out_decides_at_the_threshold(soft, threshold, foreground):
    same = flat(RED)
    mask = full_resolution_mask(
        np.full((4, 4), soft, np.float32),
        image_of(np.broadcast_to(BLUE, (8, 8, 3))),
        Renderings(same, same),
        decided(threshold=threshold),
    )
    assert mask.shape == (8, 8) and bool(mask.all()) is foreground and bool(mask.any()) is foreground


def test_the_decision_is_eq7_with_the_resized_read_out_as_prior():
    rng = np.random.default_rng(0)
    soft = rng.uniform(0.05, 0.95, (4, 4)).astype(np.float32)
    fg, bg = (rng.uniform(-1, 1, (3, 4, 4)).astype(np.float32) for _ in range(2))
    image = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)  # same size: nothing is resized
    sigma, threshold = 0.5, 0.8
    x = image.astype(np.float64).transpose(2, 0, 1) / 127.5 - 1.0
    pf = soft * np.exp(-np.abs(fg - x).sum(0) / (2 * sigma**2))
    pb = (1 - soft) * np.exp(-np.abs(bg - x).sum(0) / (2 * sigma**2))
    gamma = pf / (pf + pb)
    mask = full_resolution_mask(soft, image, Renderings(fg, bg), decided(sigma, threshold))
    clear = np.abs(gamma - threshold) > 1e-4  # away from float32 rounding at the boundary
    assert clear.sum() > 10 and np.array_equal(mask[clear], (gamma > threshold)[clear])


def test_mask_at_and_scores_take_the_renderings_and_need_the_images():
    soft = np.full((2, 4, 4), 0.5, np.float32)
    rgb = np.broadcast_to(BLUE, (2, 8, 8, 3)).copy()
    rgb[:, :, :3] = RED
    images = image_of(rgb)
    renderings = Renderings(np.stack([flat(RED)] * 2), np.stack([flat(BLUE)] * 2))
    targets = np.zeros((2, 8, 8), bool)
    targets[:, :, :3] = True
    assert np.array_equal(mask_at(soft[0], images[0], decided(), renderings[0]), targets[0])
    iou, _ = scores_at_target_size(torch.from_numpy(soft), targets, images, decided(), renderings)
    assert np.allclose(iou, 1.0)
    with pytest.raises(ValueError, match="needs the 2 images"):
        scores_at_target_size(soft, targets, None, decided(), renderings)


def test_renderings_only_under_full_resolution():
    fg = torch.zeros(2, 3, 4, 4)
    assert MaskReadout.of(ReadoutConfig(), 0.5).renderings(fg, fg) is None and of_image(None, 1) is None
    how = MaskReadout.of(ReadoutConfig(full_resolution=True, refine="grabcut", threshold=0.7), 0.25)
    assert (how.refine, how.full_resolution, how.sigma, how.threshold) == ("grabcut", True, 0.25, 0.7)
    r = how.renderings(fg, fg + 1)
    assert isinstance(r.fg, np.ndarray) and r.fg.shape == (2, 3, 4, 4)
    assert of_image(r, 1).bg.shape == (3, 4, 4) and float(of_image(r, 1).bg.max()) == 1.0
    assert math.isclose(MaskReadout.of(ReadoutConfig(), 0.5).threshold, 0.5)
    with pytest.raises(ValueError, match="needs the likelihood scale"):
        MaskReadout.of(ReadoutConfig(full_resolution=True), None).renderings(fg, fg)
    with pytest.raises(ValueError, match="needs the likelihood scale"):  # and when deciding, however it was reached
        full_resolution_mask(np.zeros((4, 4)), image_of(flat(RED).transpose(1, 2, 0)), r[0], MaskReadout())


def _logit(p):
    return np.log(p / (1 - p))


def read_out(responsibility: np.ndarray, threshold: float) -> np.ndarray:
    """drc.inference.soft_mask: the read-out recentred on its threshold."""
    return (1 / (1 + np.exp(-(_logit(responsibility) - _logit(threshold))))).astype(np.float32)


def test_the_seed_is_the_mask_the_read_out_gives_at_the_seed_threshold():
    rng = np.random.default_rng(1)
    responsibility = rng.uniform(0.02, 0.98, (4, 4))
    renderings = Renderings(*(rng.uniform(-1, 1, (3, 4, 4)).astype(np.float32) for _ in range(2)))
    image = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    soft = read_out(responsibility, 0.8)
    at_seed = full_resolution_mask(read_out(responsibility, 0.5), image, renderings, decided(threshold=0.5))
    seeded = decided(threshold=0.8, refine="grabcut", seed_threshold=0.5)
    seed = full_resolution_mask(soft, image, renderings, seeded)
    own = full_resolution_mask(soft, image, renderings, seeded.unrefined())
    assert np.array_equal(seed, at_seed)
    assert np.array_equal(own, full_resolution_mask(soft, image, renderings, decided(threshold=0.8)))
    assert (seed & ~own).any() and not (own & ~seed).any()  # a lower threshold only adds pixels


def test_the_resized_seed_is_the_resized_mask_the_read_out_gives_at_the_seed_threshold():
    responsibility = np.random.default_rng(2).uniform(0.02, 0.98, (4, 4))
    seeded = MaskReadout(refine="grabcut", threshold=0.8, seed_threshold=0.4)
    at_seed = soft_mask_at(read_out(responsibility, 0.4), 4, 4)  # at the model's size: nothing is resized
    seed = soft_mask_at(read_out(responsibility, 0.8), 4, 4, cut=seeded.resized_cut())
    assert np.array_equal(seed, at_seed) and seed.sum() > soft_mask_at(read_out(responsibility, 0.8), 4, 4).sum()
    own, seed = (soft_mask_at(read_out(responsibility, 0.8), 16, 16, cut) for cut in (0.5, seeded.resized_cut()))
    assert (seed & ~own).any() and not (own & ~seed).any()  # resized, a lower threshold only adds pixels too
    assert seeded.unrefined().resized_cut() == 0.5 and MaskReadout(refine="grabcut").resized_cut() == 0.5


@pytest.mark.parametrize("full_resolution", [True, False])
def test_grabcut_is_seeded_at_the_seed_threshold_and_own_masks_stay_at_the_threshold(monkeypatch, full_resolution):
    seeds = []
    monkeypatch.setattr("drc.imageio.refine_with_grabcut", lambda image, mask, band: seeds.append(mask) or mask)
    same = flat(RED)  # both regions explain every pixel equally: the read-out alone decides
    renderings = Renderings(same, same) if full_resolution else None
    image = image_of(np.broadcast_to(BLUE, (8, 8, 3)))
    soft = np.full((4, 4), 0.5, np.float32)  # the read-out recentred on 0.8: responsibility 0.8
    seeded = MaskReadout(full_resolution=full_resolution, sigma=0.5, threshold=0.8, seed_threshold=0.65)
    assert not mask_at(soft, image, seeded, renderings).any()  # own mask: 0.5 recentred on 0.8 is not above it
    grabcut = replace(seeded, refine="grabcut")
    assert mask_at(soft, image, grabcut, renderings).all() and seeds[0].all()  # recentred on 0.65: above it
    mask_at(soft, image, replace(grabcut, seed_threshold=None), renderings)
    assert not seeds[1].any()  # no seed threshold: GrabCut's seed is the own mask


def test_seed_threshold_travels_with_the_read_out_and_is_checked():
    how = MaskReadout.of(ReadoutConfig(full_resolution=True, refine="grabcut", seed_threshold=0.65), 0.5)
    assert how.seed_threshold == 0.65 and how.decision_threshold() == 0.65
    assert how.unrefined().decision_threshold() == 0.5 and ReadoutConfig().seed_threshold is None
    with pytest.raises(DRCError, match=r"readout.seed_threshold must be in \(0, 1\)"):
        ReadoutConfig(full_resolution=True, seed_threshold=1.0)
    resized = MaskReadout.of(ReadoutConfig(refine="grabcut", seed_threshold=0.65), None)  # seeds the resized mask
    assert math.isclose(resized.resized_cut(), 0.65)  # recentred on the threshold 0.5: the soft mask is the read-out


def test_grabcuts_band_is_counted_in_model_pixels_and_reaches_grabcut(monkeypatch):
    bands = []
    monkeypatch.setattr("drc.imageio.refine_with_grabcut", lambda image, mask, band: bands.append(band) or mask)
    banded = MaskReadout(refine="grabcut", grabcut_band=6)
    assert banded.band_pixels(32, 128, 128) == 24 and banded.band_pixels(32, 96, 200) == 38  # the longer side
    assert banded.band_pixels(128, 16, 16) == 1 and MaskReadout(refine="grabcut").band_pixels(32, 128, 128) is None
    soft = np.zeros((4, 4), np.float32)
    soft[1:3, 1:3] = 1.0
    image = image_of(np.broadcast_to(BLUE, (16, 16, 3)))
    mask_at(soft, image, banded)
    mask_at(soft, image, replace(banded, grabcut_band=None))
    assert bands == [24, None]  # 6 model pixels of a 4 px model are 24 pixels of a 16 px image
    assert MaskReadout.of(ReadoutConfig(refine="grabcut", grabcut_band=3), 0.5).grabcut_band == 3
    with pytest.raises(DRCError, match="grabcut_band must be at least 1 model pixel"):
        ReadoutConfig(grabcut_band=0)
