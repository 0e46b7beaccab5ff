"""bench.paper_curve: the curve it writes as it trains, and the variants it trains."""

import json
import sys

import pandas as pd
import pytest

from bench import paper_curve
from bench.paper_curve import COLUMNS


def run(tmp_path, monkeypatch, params: str, *argv: str) -> None:
    (tmp_path / "params.yaml").write_text(params)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["bench.paper_curve", "--profile", "tiny", "--out", "out/curve", *argv])
    paper_curve.main()


def test_the_curve_has_a_point_every_few_iterations_and_at_the_last(tmp_path, monkeypatch):
    params = "datasets: [tmdsprites, birds]\ncpu_isa: null\ndata: {tmdsprites: {seed: 3}}\n"
    run(tmp_path, monkeypatch, params, "--every", "5", "--score", "4", "--set", "train.iterations=7")
    table = pd.read_csv(tmp_path / "out/curve.csv")
    assert table.columns.tolist() == COLUMNS
    assert set(table.dataset) == {"tmdsprites"}  # the TM-dSprites variants of params.yaml's datasets
    assert table[table.source == "chains"].iteration.tolist() == [5, 7]  # every 5 iterations, and the last
    scored = table[table.source == "scored"]
    assert scored.iteration.tolist() == [7] and 0 <= scored.iou.item() <= 100
    record = json.loads((tmp_path / "out/curve.json").read_text())["tmdsprites"]
    assert record["iterations"] == 7 and record["settings"]["train"]["iterations"] == 7
    assert record["images"] == 64 and record["scored_images"] == 4  # the tiny profile's train.max_images
    assert (tmp_path / "out/curve.png").is_file() and (tmp_path / "out/curve.pdf").is_file()


def test_a_run_cut_short_has_recorded_its_settings(tmp_path, monkeypatch):
    class TimeLimit(BaseException):
        """What a device's time limit does to the run: it ends it mid-training."""

    def cut_short(*args, **kwargs):
        raise TimeLimit
        yield

    monkeypatch.setattr(paper_curve, "monitored", cut_short)
    with pytest.raises(TimeLimit):
        run(tmp_path, monkeypatch, "datasets: [tmdsprites]\ncpu_isa: null\n")
    record = json.loads((tmp_path / "out/curve.json").read_text())
    assert record["tmdsprites"]["settings"]["train"]["batch_size"] == 8  # the tiny profile's
    assert record["command"]["profile"] == "tiny" and "torch" in record


@pytest.mark.parametrize("argv", [["--every", "0"], ["--score", "-1"], ["--minutes", "0"]])
def test_a_wrong_option_is_named_before_anything_runs(tmp_path, monkeypatch, capsys, argv):
    with pytest.raises(SystemExit) as stop:
        run(tmp_path, monkeypatch, "datasets: [tmdsprites]\ncpu_isa: null\n", *argv)
    assert stop.value.code != 0
    assert "--every takes a whole number >= 1" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_dataset_it_cannot_generate_is_named(tmp_path, monkeypatch, capsys):
    with pytest.raises(SystemExit) as stop:
        run(tmp_path, monkeypatch, "datasets: [tmdsprites]\ncpu_isa: null\n", "--datasets", "birds")
    assert stop.value.code != 0
    assert "birds is not a TM-dSprites variant" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
