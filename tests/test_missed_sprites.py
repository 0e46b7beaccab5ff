"""bench.missed_sprites: each sprite's recall, size and distance from the border, and their groups."""

from pathlib import Path

import numpy as np
import pytest

from bench.missed_sprites import COLUMNS, iou_by_missed, missed_by_group, sprite_recall


def two_images() -> tuple[np.ndarray, np.ndarray]:
    truth = np.zeros((2, 64, 64), bool)
    truth[0, 2:8, 2:8] = True  # small, at the border: missed below
    truth[0, 20:40, 20:40] = True  # large, central
    truth[1, 30:36, 30:36] = True  # small, central
    predicted = truth.copy()
    predicted[0, 2:8, 2:8] = False
    predicted[1, 30:36, 30:33] = False  # half of it: recall 0.5, not missed
    return predicted, truth


def test_each_sprite_has_its_recall_size_and_distance_from_the_border():
    predicted, truth = two_images()
    sprites = sprite_recall(predicted, truth)
    assert sprites.image.tolist() == [0, 0, 1]
    assert sprites.recall.tolist() == [0.0, 1.0, 0.5]
    assert sprites["size"].tolist() == pytest.approx([6 / 64, 20 / 64, 6 / 64])
    assert sprites.border.tolist() == pytest.approx([5 / 64, 30 / 64, 31 / 64])  # to the nearest edge of the image
    assert sprites.image_iou.tolist() == pytest.approx([100 * 400 / 436, 100 * 400 / 436, 50.0])


def test_sprites_are_grouped_by_size_and_border_with_a_total():
    predicted, truth = two_images()
    table = missed_by_group(sprite_recall(predicted, truth))
    rows = {(r.size_group, r.border_group): (r.sprites, r.missed) for r in table.itertuples()}
    assert rows == {
        ("< 1/6", "< 0.18"): (1, 100.0),
        ("< 1/6", ">= 0.18"): (1, 0.0),
        (">= 1/4", ">= 0.18"): (1, 0.0),
        ("all", "all"): (3, 33.3),
    }
    assert iou_by_missed(sprite_recall(predicted, truth)) == pytest.approx((1, 100 * 400 / 436, 50.0))


def test_a_row_has_the_committed_csvs_columns():
    committed = Path(__file__).resolve().parents[1] / "bench/results/missed_sprites.csv"
    assert committed.read_text().splitlines()[0].split(",") == COLUMNS
