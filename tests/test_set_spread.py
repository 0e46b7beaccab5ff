"""bench.set_spread: the baselines it scores beside DRC and the spread it prints over seeds."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.set_spread import COLUMNS, METHODS, baseline_scores, spread, summary
from drc.baselines.grabcut import grabcut_masks
from drc.config import GrabCutConfig
from drc.metrics import per_image_scores
from tests.helpers import squares_on_stripes


def test_the_baselines_are_scored_on_the_images_given():
    images, truth = squares_on_stripes(n=3, res=48)
    before = images.copy()
    scores = baseline_scores(images, truth, GrabCutConfig(workers=1))
    assert np.array_equal(images, before)
    assert scores["Colour"] == scores["Colour+GrabCut"] == 100.0  # grey stripes: colour alone decides
    rectangle = grabcut_masks(images, GrabCutConfig().margin, workers=1, progress=False)[0]
    assert scores["GrabCut"] == 100 * float(per_image_scores(rectangle, truth)[0].mean())


def test_the_spread_is_over_seeds_and_the_differences_are_per_seed():
    frame = pd.DataFrame(
        {
            "DRC": [80.0, 90.0, 70.0],
            "DRC-unrefined": [60.0, 70.0, 50.0],
            "GrabCut": [60.0, 60.0, 60.0],
            "Colour": [50.0, 40.0, 60.0],
            "Colour+GrabCut": [70.0, 95.0, 60.0],
        }
    )
    table = spread(frame)
    assert table.loc["DRC", "mean"] == 80.0 and table.loc["DRC", "sd"] == pytest.approx(10.0)
    assert table.loc["DRC less Colour+GrabCut", ["mean", "min", "max"]].tolist() == pytest.approx([5.0, -5.0, 10.0])
    assert table.loc["DRC less Colour", "min"] == 10.0  # seed by seed, not mean less mean
    assert list(table.index[:5]) == ["DRC", "DRC-unrefined", "GrabCut", "Colour", "Colour+GrabCut"]


def test_the_summary_has_a_section_per_checkpoint_and_generator():
    rows = pd.DataFrame(
        [
            {"checkpoint": "c.pt", "generator": g, "data": "defaults", "seed": seed, "images": 200}
            | dict.fromkeys(METHODS, 50.04 + seed)
            for g in ("first", "second")
            for seed in (1, 2)
        ]
    )
    text = summary(rows)
    assert text.count("## `c.pt`, defaults, first generator (200 images a seed)") == 1
    assert text.count("## `c.pt`, defaults, second generator") == 1
    assert "| 2 | 52.0 | 52.0 | 52.0 | 52.0 | 52.0 |" in text  # seed 2's row, one decimal
    assert "| DRC | 51.5 | 0.7 | 51.0 | 52.0 |" in text  # mean, sd, min, max over seeds 1 and 2


def test_a_row_has_the_committed_csvs_columns():
    committed = Path(__file__).resolve().parents[1] / "bench/results/set_spread.csv"
    assert committed.read_text().splitlines()[0].split(",") == COLUMNS
