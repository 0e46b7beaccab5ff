"""Properties of the TM-dSprites generator (small n; the full set is timed in bench/bench_tmdsprites.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from drc.config import TMDSpritesConfig, from_dict, to_dict
from drc.data import tmdsprites
from drc.data.tmdsprites import (
    SHAPES,
    draw_labels,
    generate,
    generate_with_labels,
    sample_layout,
    sample_sheet,
    texture_bank,
)
from drc.errors import DRCError

N = 48


@pytest.fixture(scope="module")
def cfg() -> TMDSpritesConfig:
    return TMDSpritesConfig(n_images=N, eval_size=16, seed=7)


@pytest.fixture(scope="module")
def data(cfg: TMDSpritesConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return generate_with_labels(cfg)


def test_shapes_and_dtypes(cfg: TMDSpritesConfig) -> None:
    images, masks, backgrounds = generate(cfg)
    r = cfg.resolution
    assert images.shape == backgrounds.shape == (N, r, r, 3)
    assert images.dtype == backgrounds.dtype == np.uint8
    assert masks.shape == (N, r, r) and masks.dtype == bool


def test_mask_is_exactly_the_sprite_pixels(cfg: TMDSpritesConfig, data) -> None:
    images, labels, backgrounds = data
    for i in range(N):
        layout = sample_layout(cfg, i)
        np.testing.assert_array_equal(labels[i], draw_labels(layout.sprites, cfg.resolution))
        for j, sprite in enumerate(layout.sprites, start=1):
            pixels = images[i][labels[i] == j]
            assert len(pixels) > 0
            assert (pixels == sprite.rgb).all()
        bg = labels[i] == 0
        np.testing.assert_array_equal(images[i][bg], backgrounds[i][bg])


def test_mask_agrees_with_colours_alone(data) -> None:
    """Independent of the label map: grey backgrounds have R = G = B, sprites are fully saturated
    (one channel 255, one 0), so the foreground is exactly the set of saturated pixels."""
    images, labels, backgrounds = data
    spread = images.max(-1).astype(int) - images.min(-1)
    np.testing.assert_array_equal(labels > 0, spread == 255)
    assert (backgrounds.max(-1) == backgrounds.min(-1)).all()
    assert (images != backgrounds).any(-1)[labels > 0].all()  # no sprite pixel is invisible


def test_sprites_do_not_overlap_or_touch(cfg: TMDSpritesConfig) -> None:
    kernel = np.ones((3, 3), np.uint8)
    for i in range(N):
        sprites = sample_layout(cfg, i).sprites
        alone = [draw_labels([sp], cfg.resolution) > 0 for sp in sprites]
        together = draw_labels(sprites, cfg.resolution)
        for j, mask in enumerate(alone, start=1):
            np.testing.assert_array_equal(together == j, mask)  # nothing drawn over it
            grown = cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)
            others = (together > 0) & (together != j)
            assert not (grown & others).any()  # at least one background pixel in between
        for a in range(len(sprites)):
            for b in range(a + 1, len(sprites)):
                sa, sb = sprites[a], sprites[b]
                need = (sa.size + sb.size) / 2 + cfg.min_gap_px
                assert abs(sa.cx - sb.cx) >= need or abs(sa.cy - sb.cy) >= need


def test_sprite_counts_shapes_colours_and_positions(cfg: TMDSpritesConfig, data) -> None:
    _, labels, _ = data
    counts = labels.reshape(N, -1).max(1)
    assert set(counts.tolist()) == {2, 3}
    layouts = [sample_layout(cfg, i) for i in range(N)]
    sprites = [sp for lay in layouts for sp in lay.sprites]
    assert {sp.shape for sp in sprites} == set(SHAPES)
    top = cfg.resolution - 1
    lo, hi = cfg.size_range
    for sp in sprites:
        assert lo * cfg.resolution <= sp.size <= hi * cfg.resolution
        for c in (sp.cx, sp.cy):
            assert sp.size / 2 <= c <= top - sp.size / 2  # wholly inside the image
            assert cfg.position_range[0] * top - 1e-9 <= c <= cfg.position_range[1] * top + 1e-9
        assert sorted(sp.rgb)[0] == 0 and sorted(sp.rgb)[2] == 255  # saturation = value = 1
    assert len({sp.rgb for sp in sprites}) > len(sprites) // 2  # hues vary continuously
    assert len({(sp.cx, sp.cy) for sp in sprites}) == len(sprites)


def test_backgrounds_are_shifted_crops_of_the_bank(cfg: TMDSpritesConfig, data) -> None:
    _, _, backgrounds = data
    bank = texture_bank(cfg)
    r = cfg.resolution
    assert bank.shape == (cfg.n_textures, 2 * r, 2 * r, 3)
    assert (bank[..., 0] == bank[..., 2]).all()  # grey
    for i in range(N):
        lay = sample_layout(cfg, i)
        y, x = lay.offset
        np.testing.assert_array_equal(backgrounds[i], bank[lay.texture, y : y + r, x : x + r])
    used = {sample_layout(cfg, i).texture for i in range(N)}
    assert len(used) > 10
    # Gratings differ: no two bank textures are equal.
    flat = bank[..., 0].reshape(cfg.n_textures, -1)
    assert len({row.tobytes() for row in flat}) == cfg.n_textures


def test_colour_textures() -> None:
    cfg = TMDSpritesConfig(n_images=4, eval_size=4, texture_colour="colour")
    bank = texture_bank(cfg)
    assert (bank[..., 0] != bank[..., 1]).any()
    images, masks, backgrounds = generate(cfg)
    np.testing.assert_array_equal(images[~masks], backgrounds[~masks])


def test_same_seed_same_bytes_different_seed_different(cfg: TMDSpritesConfig, data) -> None:
    again = generate_with_labels(cfg)
    for a, b in zip(data, again, strict=True):
        assert a.tobytes() == b.tobytes()
    other = generate_with_labels(TMDSpritesConfig(n_images=N, eval_size=16, seed=8))
    assert (other[0] != data[0]).any(axis=(1, 2, 3)).all()  # every image differs


def test_worker_count_and_chunking_do_not_change_output(
    cfg: TMDSpritesConfig, data, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tmdsprites, "_CHUNK", 10)  # 5 chunks, the last one partial
    parallel = generate_with_labels(cfg, workers=2)
    for a, b in zip(data, parallel, strict=True):
        assert a.tobytes() == b.tobytes()


def test_first_images_do_not_depend_on_n_images(cfg: TMDSpritesConfig, data) -> None:
    small = generate_with_labels(TMDSpritesConfig(n_images=5, eval_size=5, seed=cfg.seed))
    for a, b in zip(data, small, strict=True):
        np.testing.assert_array_equal(a[:5], b)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_images": 0}, "n_images"),
        ({"min_sprites": 3, "max_sprites": 2}, "min_sprites"),
        ({"shapes": ["hexagon"]}, "shapes"),
        ({"size_range": [0.2, 1.2]}, "size_range"),
        ({"position_range": [0.6, 0.4]}, "position_range"),
        ({"texture_colour": "rainbow"}, "texture_colour"),
        ({"texture_period_range": [0.001, 0.1]}, "texture period"),
        ({"eval_size": 30_000}, "eval_size"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_config_raises_clear_error(params: dict, match: str) -> None:
    with pytest.raises(DRCError, match=match):
        TMDSpritesConfig(**params)


def test_unknown_parameter_and_dict_round_trip() -> None:
    cfg = TMDSpritesConfig(n_images=10, eval_size=5, size_range=[0.1, 0.2])
    assert cfg.size_range == (0.1, 0.2)
    assert from_dict(TMDSpritesConfig, to_dict(cfg), "tmdsprites") == cfg
    with pytest.raises(DRCError, match="unknown tmdsprites setting"):
        from_dict(TMDSpritesConfig, {"n_imgs": 10}, "tmdsprites")


def test_impossible_layout_raises_clear_error() -> None:
    cfg = TMDSpritesConfig(n_images=2, eval_size=2, min_sprites=3, size_range=(0.6, 0.7), max_placement_tries=200)
    with pytest.raises(DRCError, match="could not place 3 non-overlapping sprites"):
        generate(cfg)


def test_sample_sheet_layout(data) -> None:
    images, labels, backgrounds = data
    sheet = sample_sheet(images, backgrounds, labels > 0, n=4)
    r = images.shape[1] + 4  # 2 px white border around each tile
    assert sheet.shape == (3 * r, 4 * r, 3) and sheet.dtype == np.uint8
    np.testing.assert_array_equal(sheet[2 : r - 2, 2 : r - 2], images[0])
