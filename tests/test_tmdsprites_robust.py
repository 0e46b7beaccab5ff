"""The second TM-dSprites generator: exact masks, every sprite inside and apart, its own readings."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from drc.config import RobustConfig, TMDSpritesConfig
from drc.data.prepared import Prepared
from drc.data.tmdsprites import texture_bank
from drc.data.tmdsprites_robust import prepare_robust, render, robust_bank
from drc.errors import DRCError

CFG = RobustConfig(n_images=40, seed=3)


@pytest.fixture(scope="module")
def rendered():
    return [render(CFG, i) for i in range(CFG.n_images)]


def test_masks_are_exactly_the_sprite_pixels_and_sprites_never_touch(rendered):
    for image, labels in rendered:
        k = labels.max()
        assert 2 <= k <= 3
        for j in range(1, k + 1):  # each sprite is one colour, and its pixels are those of its label
            colours = np.unique(image[labels == j].reshape(-1, 3), axis=0)
            assert len(colours) == 1 and (labels == j).sum() > 20
        for j in range(1, k + 1):  # pixels of two sprites are at least min_gap_px = 2 apart
            near = cv2.dilate((labels == j).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            assert not (near & (labels > 0) & (labels != j)).any()


def test_it_reads_the_open_choices_another_way(rendered):
    fractions = [(labels > 0).mean() for _, labels in rendered]
    assert min(fractions) < 0.04 and max(fractions) > 0.2  # sizes from 0.12 to 0.4 of the side
    edge = [labels[0].any() or labels[-1].any() or labels[:, 0].any() or labels[:, -1].any() for _, labels in rendered]
    assert any(edge)  # placed anywhere a sprite fits, up to the border
    first = TMDSpritesConfig(n_images=1, eval_size=1)
    assert not np.array_equal(robust_bank(CFG)[0], texture_bank(first)[0])  # its own bank of gratings
    contrast = [np.ptp(robust_bank(CFG)[t].astype(int)) for t in range(CFG.n_textures)]
    assert min(contrast) < 200 <= max(contrast)  # gratings of lower contrast too


def test_colour_variant_colours_the_gratings_and_bytes_repeat():
    colour = RobustConfig(n_images=4, seed=3, texture_colour="colour")
    bank = robust_bank(colour)
    assert (bank[..., 0] != bank[..., 1]).any()
    assert all((robust_bank(CFG)[..., 0] == robust_bank(CFG)[..., c]).all() for c in (1, 2))
    a, b = render(colour, 2), render(colour, 2)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_prepared_and_bad_configs(tmp_path):
    out = prepare_robust(RobustConfig(n_images=5, seed=1), tmp_path / "robust", name="x-robust")
    prepared = Prepared.open(out)
    assert prepared.name == "x-robust" and len(prepared) == 5 and prepared.split("eval").tolist() == list(range(5))
    assert prepared.meta["source"]["generator"] == "drc.data.tmdsprites_robust"
    with pytest.raises(DRCError, match="robust"):
        RobustConfig(size_range=(0.5, 0.9))
    with pytest.raises(DRCError, match="texture_contrast_range"):
        RobustConfig(texture_contrast_range=(0.5, 1.5))
