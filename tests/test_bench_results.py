"""The benchmarks that write committed results: seed spread (bench.seed_spread) and the test-time budget
(bench.infer_sweep --csv, bench.budget_figure)."""

import copy
import csv

import pandas as pd
import pytest

from bench.budget_figure import data_label
from bench.infer_sweep import append_row
from bench.seed_spread import _merge, current_rows, gaps, settings_digest, summarise
from drc.params import load_params
from drc.reports import figures


def rows(*values):
    return pd.DataFrame(
        [{"dataset": d, "set": s, "seed": seed, "iou": i, "iou_unrefined": u} for d, s, seed, i, u in values]
    )


def test_a_seed_scored_again_replaces_its_rows_and_the_spread_is_over_seeds():
    table = rows(("grey", "heldout", 0, 80.0, 70.0), ("grey", "heldout", 1, 70.0, 60.0))
    table = _merge(table, rows(("grey", "heldout", 1, 90.0, 80.0), ("grey", "heldout", 2, 85.0, 75.0)))
    assert sorted(table.seed) == [0, 1, 2] and table.loc[table.seed == 1, "iou"].item() == 90.0
    spread = summarise(table).iloc[0]
    assert spread.seeds == 3 and spread.iou_mean == pytest.approx(85.0) and spread.iou_std == pytest.approx(5.0)
    assert (spread.iou_min, spread.iou_max, spread.own_mean) == (80.0, 90.0, pytest.approx(75.0))
    assert _merge(table, pd.DataFrame()).equals(table)


def test_the_gap_is_each_seeds_evaluation_score_less_its_robustness_score():
    table = rows(
        ("grey", "eval", 0, 90.0, 75.0),
        ("grey", "robust", 0, 84.0, 67.0),
        ("grey", "eval", 1, 88.0, 74.0),
        ("grey", "robust", 1, 86.0, 70.0),
        ("grey", "heldout", 2, 80.0, 70.0),  # no evaluation score: not a pair
        ("grey", "robust", 2, 50.0, 40.0),
    )
    gap = gaps(table).iloc[0]
    assert gap.seeds == 2 and gap.gap_mean == pytest.approx(4.0) and gap.gap_max == pytest.approx(6.0)
    assert gap.gap_std == pytest.approx(2.8284, abs=1e-4) and gap.own_gap_mean == pytest.approx(6.0)
    assert len(gaps(rows(("grey", "heldout", 0, 80.0, 70.0)))) == 0


def test_a_row_is_scored_again_when_a_setting_but_the_training_seed_changes():
    params = load_params("params.yaml")
    digest = settings_digest("tmdsprites", "cpu", params)

    def changed(section: str, key: str, value: object) -> str:
        other = copy.deepcopy(params)
        other.setdefault(section, {})[key] = value
        return settings_digest("tmdsprites", "cpu", other)

    assert changed("train", "seed", 7) == digest
    assert changed("train", "checkpoint_every", 7) == digest  # resume-free: the same run
    assert changed("sampler", "steps", 7) != digest
    assert changed("readout", "threshold", 0.5) != digest
    assert changed("train", "iterations", 7) != digest
    assert changed("model", "zb_dim", 2) != digest
    assert settings_digest("tmdsprites", "cpu", params) == digest  # params left as they were


def test_sweep_rows_append_under_one_header(tmp_path):
    path = tmp_path / "sweep.csv"
    append_row(path, {"plan": "a", "iou": 1.0})
    append_row(path, {"plan": "b", "iou": 2.0})
    assert list(csv.DictReader(path.open())) == [{"plan": "a", "iou": "1.0"}, {"plan": "b", "iou": "2.0"}]


def test_the_figures_are_drawn(tmp_path):
    table = rows(("grey", "heldout", 0, 80.0, 70.0), ("grey", "robust", 0, 75.0, 65.0))
    figures.seed_spread(table, "seeds", tmp_path / "seeds.png")
    sweep = pd.DataFrame(
        {
            "label": [data_label("defaults", 2)] * 2 + [data_label("texture_colour=colour", 12)] * 2,
            "start": ["encoder", "encoder", "noise", "noise"],
            "restarts": [1, 3, 1, 3],
            "steps": [40] * 4,
            "settle_steps": [10] * 4,
            "steps_per_image": [50, 150, 50, 150],
            "iou": [70.0, 77.0, 50.0, 55.0],
            "iou_refined": [88.0, 92.0, 70.0, 74.0],
        }
    )
    figures.budget_curves(sweep, 100, "budget", tmp_path / "budget.png")
    assert all((tmp_path / f"{name}.{ext}").is_file() for name in ("seeds", "budget") for ext in ("png", "pdf"))
    assert data_label("defaults", 2) == "grey gratings (seed 2)"
    assert data_label("robust texture_colour=colour", 16) == "second generator, coloured gratings (seed 16)"


def test_only_rows_scored_under_todays_settings_are_summarised():
    table = rows(("grey", "eval", 0, 90.0, 75.0), ("grey", "eval", 1, 80.0, 70.0), ("colour", "eval", 1, 60.0, 50.0))
    table["settings"] = ["new", "old", "c"]
    current = current_rows(table, {"grey": "new", "colour": "c"})
    assert current.seed.tolist() == [0, 1] and current.dataset.tolist() == ["grey", "colour"]
    assert summarise(current).set_index("dataset").loc["grey", "seeds"] == 1
