"""The mask read-out (drc/readout.py): the per-pixel decision (eq. 7 per pixel of the image), GrabCut's seed and
band, and scores at the ground truth's size."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from drc.config import ReadoutConfig, SamplerConfig, TrainConfig
from drc.errors import DRCError
from drc.imageio import resize_soft_mask
from drc.readout import Readout, Renderings, of_image

RED, BLUE = np.array([1.0, -1.0, -1.0]), np.array([-1.0, -1.0, 1.0])


def flat(colour: np.ndarray, side: int = 4) -> np.ndarray:
    return np.broadcast_to(colour[:, None, None], (3, side, side)).astype(np.float32)


def decided(sigma: float = 0.5, threshold: float = 0.5, **kwargs) -> Readout:
    """The read-out deciding masks per pixel (readout.full_resolution) with these settings."""
    return readout(full_resolution=True, threshold=threshold, sigma=sigma, **kwargs)


def readout(sigma: float | None = None, **settings) -> Readout:
    return Readout(ReadoutConfig(**settings), sigma)


def soft_mask_at(soft: np.ndarray, height: int, width: int, cut: float = 0.5) -> np.ndarray:
    return resize_soft_mask(soft, height, width) > cut


def image_of(rgb: np.ndarray) -> np.ndarray:
    """uint8 image whose model range ([-1, 1]) values are ``rgb`` (H x W x 3)."""
    return np.rint((rgb + 1.0) * 127.5).astype(np.uint8)


def test_each_pixel_goes_to_the_region_whose_colour_it_has_not_to_the_resized_ramp():
    # a 4 px model, a 16 px image: the sprite's edge falls inside a model pixel (column 6 of 16)
    rgb = np.broadcast_to(BLUE, (16, 16, 3)).copy()
    rgb[:, :6] = RED
    soft = np.full((4, 4), 0.5, np.float32)
    mask = decided().seed(soft, image_of(rgb), Renderings(flat(RED), flat(BLUE)))
    expected = np.zeros((16, 16), bool)
    expected[:, :6] = True
    assert np.array_equal(mask, expected)
    assert not np.array_equal(soft_mask_at(soft, 16, 16), expected)  # what resizing alone would give


@pytest.mark.parametrize(("soft", "threshold", "foreground"), [(0.9, 0.8, True), (0.7, 0.8, False), (0.6, 0.5, True)])
def test_where_both_regions_explain_a_pixel_equally_the_read_out_decides_at_the_threshold(soft, threshold, foreground):
    same = flat(RED)
    mask = decided(threshold=threshold).seed(
        np.full((4, 4), soft, np.float32), image_of(np.broadcast_to(BLUE, (8, 8, 3))), Renderings(same, same)
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
    mask = decided(sigma, threshold).seed(soft, image, Renderings(fg, bg))
    clear = np.abs(gamma - threshold) > 1e-4  # away from float32 rounding at the boundary
    assert clear.sum() > 10 and np.array_equal(mask[clear], (gamma > threshold)[clear])


def test_masks_and_scores_take_the_renderings_and_need_the_images():
    soft = np.full((2, 4, 4), 0.5, np.float32)
    rgb = np.broadcast_to(BLUE, (2, 8, 8, 3)).copy()
    rgb[:, :, :3] = RED
    images = image_of(rgb)
    renderings = Renderings(np.stack([flat(RED)] * 2), np.stack([flat(BLUE)] * 2))
    targets = np.zeros((2, 8, 8), bool)
    targets[:, :, :3] = True
    assert np.array_equal(decided().mask(soft[0], images[0], renderings[0]), targets[0])
    assert np.array_equal(decided().masks(torch.from_numpy(soft), images, renderings), targets)
    iou, _ = decided().scores(torch.from_numpy(soft), targets, images, renderings)
    assert np.allclose(iou, 1.0)
    with pytest.raises(ValueError, match="the images they are decided on"):
        decided().scores(soft, targets, None, renderings)


def test_renderings_only_under_full_resolution():
    fg = torch.zeros(2, 3, 4, 4)
    assert readout(0.5).renderings(fg, fg) is None and of_image(None, 1) is None
    how = readout(0.25, full_resolution=True, refine="grabcut", threshold=0.7)
    r = how.renderings(fg, fg + 1)
    assert isinstance(r.fg, np.ndarray) and r.fg.shape == (2, 3, 4, 4)
    assert of_image(r, 1).bg.shape == (3, 4, 4) and float(of_image(r, 1).bg.max()) == 1.0
    with pytest.raises(ValueError, match="needs the likelihood scale"):
        readout(full_resolution=True).renderings(fg, fg)
    with pytest.raises(ValueError, match="needs the likelihood scale"):  # and when deciding, however it was reached
        readout().seed(np.zeros((4, 4)), image_of(flat(RED).transpose(1, 2, 0)), r[0])


def _logit(p):
    return np.log(p / (1 - p))


def read_out(responsibility: np.ndarray, threshold: float) -> np.ndarray:
    """Readout.soft: the read-out recentred on its threshold."""
    return (1 / (1 + np.exp(-(_logit(responsibility) - _logit(threshold))))).astype(np.float32)


def test_the_seed_is_the_mask_the_read_out_gives_at_the_seed_threshold():
    rng = np.random.default_rng(1)
    responsibility = rng.uniform(0.02, 0.98, (4, 4))
    renderings = Renderings(*(rng.uniform(-1, 1, (3, 4, 4)).astype(np.float32) for _ in range(2)))
    image = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    soft = read_out(responsibility, 0.8)
    at_seed = decided(threshold=0.5).seed(read_out(responsibility, 0.5), image, renderings)
    seeded = decided(threshold=0.8, refine="grabcut", seed_threshold=0.5)
    seed = seeded.seed(soft, image, renderings)
    own = seeded.own.seed(soft, image, renderings)
    assert np.array_equal(seed, at_seed)
    assert np.array_equal(own, decided(threshold=0.8).seed(soft, image, renderings))
    assert (seed & ~own).any() and not (own & ~seed).any()  # a lower threshold only adds pixels


def test_the_resized_seed_is_the_resized_mask_the_read_out_gives_at_the_seed_threshold():
    responsibility = np.random.default_rng(2).uniform(0.02, 0.98, (4, 4))
    seeded = readout(refine="grabcut", threshold=0.8, seed_threshold=0.4)
    small, large = np.zeros((4, 4, 3), np.uint8), np.zeros((16, 16, 3), np.uint8)
    at_seed = soft_mask_at(read_out(responsibility, 0.4), 4, 4)  # at the model's size: nothing is resized
    seed = seeded.seed(read_out(responsibility, 0.8), small)
    assert np.array_equal(seed, at_seed) and seed.sum() > soft_mask_at(read_out(responsibility, 0.8), 4, 4).sum()
    own, seed = (how.seed(read_out(responsibility, 0.8), large) for how in (seeded.own, seeded))
    assert np.array_equal(own, soft_mask_at(read_out(responsibility, 0.8), 16, 16))
    assert (seed & ~own).any() and not (own & ~seed).any()  # resized, a lower threshold only adds pixels too
    plain = readout(refine="grabcut")  # no seed threshold: the seed is the own mask, cut at 0.5
    assert np.array_equal(
        plain.seed(read_out(responsibility, 0.5), large), soft_mask_at(read_out(responsibility, 0.5), 16, 16)
    )


@pytest.mark.parametrize("full_resolution", [True, False])
def test_grabcut_is_seeded_at_the_seed_threshold_and_own_masks_stay_at_the_threshold(monkeypatch, full_resolution):
    seeds = []
    monkeypatch.setattr("drc.readout.refine_with_grabcut", lambda image, mask, band: seeds.append(mask) or mask)
    same = flat(RED)  # both regions explain every pixel equally: the read-out alone decides
    renderings = Renderings(same, same) if full_resolution else None
    image = image_of(np.broadcast_to(BLUE, (8, 8, 3)))
    soft = np.full((4, 4), 0.5, np.float32)  # the read-out recentred on 0.8: responsibility 0.8
    seeded = readout(0.5, full_resolution=full_resolution, threshold=0.8, seed_threshold=0.65)
    assert not seeded.mask(soft, image, renderings).any()  # own mask: 0.5 recentred on 0.8 is not above it
    grabcut = readout(0.5, full_resolution=full_resolution, threshold=0.8, seed_threshold=0.65, refine="grabcut")
    assert grabcut.mask(soft, image, renderings).all() and seeds[0].all()  # recentred on 0.65: above it
    replace(grabcut, config=replace(grabcut.config, seed_threshold=None)).mask(soft, image, renderings)
    assert not seeds[1].any()  # no seed threshold: GrabCut's seed is the own mask


def test_seed_threshold_is_checked_and_cuts_the_resized_read_out_there():
    assert ReadoutConfig().seed_threshold is None
    with pytest.raises(DRCError, match=r"readout.seed_threshold must be in \(0, 1\)"):
        ReadoutConfig(full_resolution=True, seed_threshold=1.0)
    resized = readout(refine="grabcut", seed_threshold=0.65)  # seeds the resized mask
    soft = np.array([[0.64, 0.66]], np.float32)  # recentred on the threshold 0.5: the soft mask is the read-out
    assert resized.seed(soft, np.zeros((1, 2, 3), np.uint8)).tolist() == [[False, True]]


def test_grabcuts_band_is_counted_in_model_pixels_and_reaches_grabcut(monkeypatch):
    bands = []
    monkeypatch.setattr("drc.readout.refine_with_grabcut", lambda image, mask, band: bands.append(band) or mask)
    banded = readout(refine="grabcut", grabcut_band=6)

    def band_at(how: Readout, model_side: int, height: int, width: int) -> int | None:
        soft = np.zeros((model_side, model_side), np.float32)
        soft[1:3, 1:3] = 1.0
        how.mask(soft, np.zeros((height, width, 3), np.uint8))
        return bands.pop()

    assert band_at(banded, 4, 16, 16) == 24  # 6 model pixels of a 4 px model are 24 pixels of a 16 px image
    assert band_at(banded, 32, 128, 128) == 24 and band_at(banded, 32, 96, 200) == 38  # the longer side
    assert band_at(banded, 128, 16, 16) == 1 and band_at(readout(refine="grabcut"), 32, 128, 128) is None
    with pytest.raises(DRCError, match="grabcut_band must be at least 1 model pixel"):
        ReadoutConfig(grabcut_band=0)


def test_one_likelihood_scale_for_the_chains_the_responsibilities_and_the_per_pixel_decision():
    """sampler.sigma, where it is set, is the scale of everything the read-out computes; else train.sigma."""
    config = ReadoutConfig(full_resolution=True, source="responsibility")
    sharp = Readout.resolve(config, SamplerConfig(sigma=0.25), TrainConfig(sigma=0.5))
    assert sharp.sigma == 0.25 and Readout.resolve(config, SamplerConfig(), TrainConfig(sigma=0.5)).sigma == 0.5
    rng = np.random.default_rng(3)
    soft = np.full((4, 4), 0.5, np.float32)
    renderings = Renderings(flat(RED), flat(BLUE))
    image = image_of(np.broadcast_to(np.array([0.4, -1.0, 0.2]), (4, 4, 3)) + rng.normal(0, 0.01, (4, 4, 3)))
    # |x - red| summed = 0.6 + 1.2 = 1.8 and |x - blue| = 1.4 + 0.8 = 2.2 in each pixel: a log-likelihood ratio of
    # 0.4 / (2 sigma^2), 0.8 at sigma 0.5 and 3.2 at 0.25; decided at threshold 0.8 (log odds 1.39) on a prior
    # recentred on it, the pixel is foreground at the sharper scale only.
    at = replace(sharp, config=replace(config, threshold=0.8))
    assert at.seed(soft, image, renderings).all()
    assert not replace(at, sigma=0.5).seed(soft, image, renderings).any()
