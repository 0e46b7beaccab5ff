"""The prepared-dataset format, exercised through TM-dSprites: round trip, loaded rows, atomicity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from drc.config import TMDSpritesConfig, from_dict
from drc.data import prepared as prepared_mod
from drc.data.prepared import Prepared, PreparedDataset, write_prepared
from drc.data.tmdsprites import GENERATOR_VERSION, generate, prepare_tmdsprites
from drc.errors import DRCError

CFG = TMDSpritesConfig(n_images=24, eval_size=10, seed=3)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_tmdsprites(CFG, tmp_path_factory.mktemp("data") / "tmdsprites")


def test_round_trip(root: Path) -> None:
    images, masks, backgrounds = generate(CFG)
    p = Prepared.open(root)
    p.verify()
    assert p.name == "tmdsprites" and len(p) == CFG.n_images
    np.testing.assert_array_equal(p.images, images)
    np.testing.assert_array_equal(p.masks, masks)
    np.testing.assert_array_equal(p.extra("backgrounds"), backgrounds)
    np.testing.assert_array_equal(p.split("eval"), np.arange(CFG.eval_size))
    np.testing.assert_array_equal(p.split("all"), np.arange(CFG.n_images))
    source = p.meta["source"]
    assert source["version"] == GENERATOR_VERSION
    assert from_dict(TMDSpritesConfig, source["config"], "tmdsprites") == CFG
    stats = p.meta["stats"]
    assert sum(stats["sprite_count_histogram"].values()) == CFG.n_images
    assert stats["foreground_fraction_mean"] == pytest.approx(masks.mean())
    assert p.meta["ids"][:2] == ["00", "01"]
    with pytest.raises(DRCError, match="no split 'test'"):
        p.split("test")


def test_loaded_rows_are_the_images_in_model_range(root: Path) -> None:
    p = Prepared.open(root)
    rows = p.split("eval")[3:]
    ds = PreparedDataset(p, rows=rows)
    r = CFG.resolution
    assert len(ds) == len(rows)
    assert ds.images.shape == (len(rows), 3, r, r) and ds.images.dtype == torch.float32
    assert ds.masks.shape == (len(rows), r, r) and ds.masks.dtype == torch.bool
    expected = torch.from_numpy(np.array(p.images[rows])).permute(0, 3, 1, 2).float() / 127.5 - 1
    torch.testing.assert_close(ds.images, expected)
    np.testing.assert_array_equal(ds.masks.numpy(), p.masks[rows])


def test_resolution_resizing(root: Path) -> None:
    ds = PreparedDataset(root, rows=[0, 1], resolution=64)
    image, mask = ds.images[1], ds.masks[1]
    assert image.shape == (3, 64, 64) and mask.shape == (64, 64)
    assert image.min() >= -1.0 and image.max() <= 1.0
    full_fraction = Prepared.open(root).masks[1].mean()
    assert mask.float().mean().item() == pytest.approx(full_fraction, abs=0.02)


def _leftovers(parent: Path, name: str) -> list[Path]:
    return [q for q in parent.iterdir() if q.name.startswith(name) or q.name.startswith(f".{name}.")]


def test_bad_argument_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(DRCError):
        prepare_tmdsprites(TMDSpritesConfig(n_images=5, eval_size=10), tmp_path / "out")
    impossible = TMDSpritesConfig(n_images=2, eval_size=2, size_range=(0.6, 0.7), max_placement_tries=50)
    with pytest.raises(DRCError, match="could not place"):
        prepare_tmdsprites(impossible, tmp_path / "out")
    images = np.zeros((2, 8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="masks must be"):
        write_prepared(
            tmp_path / "out",
            name="x",
            images=images,
            masks=np.zeros((2, 4, 4), bool),
            ids=["a", "b"],
            splits={},
            source={},
        )
    assert _leftovers(tmp_path, "out") == []


def test_failure_while_writing_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_save = np.save
    calls = []

    def failing_save(path: Path, arr: np.ndarray) -> None:  # the second array fails mid-write
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        real_save(path, arr)

    monkeypatch.setattr(prepared_mod.np, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        prepare_tmdsprites(TMDSpritesConfig(n_images=3, eval_size=3), tmp_path / "out")
    assert _leftovers(tmp_path, "out") == []


def test_failed_rewrite_keeps_the_old_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = prepare_tmdsprites(TMDSpritesConfig(n_images=3, eval_size=3), tmp_path / "out")
    before = Prepared.open(out).meta["checksums"]

    def failing_checksum(path: Path) -> str:
        raise OSError(f"cannot read {path}")

    monkeypatch.setattr(prepared_mod, "sha256_file", failing_checksum)
    with pytest.raises(OSError, match="cannot read"):
        prepare_tmdsprites(TMDSpritesConfig(n_images=4, eval_size=4), out)
    monkeypatch.undo()
    assert Prepared.open(out).meta["checksums"] == before
    Prepared.open(out).verify()


def test_open_missing_dataset_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DRCError, match="prepare"):
        Prepared.open(tmp_path / "nothing")


def _grating(period: float) -> np.ndarray:
    """1 x 128 x 128 x 3 uint8 vertical cosine grating with ``period`` px."""
    row = 127.5 + 127.5 * np.cos(2 * np.pi * np.arange(128) / period)
    return np.broadcast_to(row[None, None, :, None], (1, 128, 128, 3)).astype(np.uint8)


def test_shrinking_filters_out_what_the_small_grid_cannot_show() -> None:
    # 32 px can show periods of 8 px (at 128) and more: finer gratings must turn grey, not into moire.
    for period in (3.0, 5.5):
        assert prepared_mod.resize_images(_grating(period), 32).std() < 10
    coarse = prepared_mod.resize_images(_grating(16.0), 32)
    assert coarse.dtype == np.uint8 and coarse.shape == (1, 32, 32, 3) and coarse.std() > 60


def test_masks_shrink_like_the_images_and_binarise_at_half() -> None:
    corners = np.zeros((1, 8, 8), dtype=bool)
    corners[0, ::4, ::4] = True  # the top-left pixel of each 4 x 4 block: nearest neighbour would keep them all
    assert not prepared_mod.resize_masks(corners, 2).any()
    left = np.zeros((1, 8, 8), dtype=bool)
    left[0, :, :4] = True
    assert prepared_mod.resize_masks(left, 2).tolist() == [[[True, False], [True, False]]]
