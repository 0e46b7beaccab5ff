"""The spread over training seeds (drc/reports/seeds.py) on hand-made scores files: means and sds by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from drc.provenance import PAPER_READOUT
from drc.reports.readme import SEEDS
from drc.reports.seeds import SPREAD, write_seed_reports


def scores(seed: int, results: dict, method: str = "DRC") -> dict:
    model = {"path": f"m{seed}.pt", "profile": "cpu", "train": {"seed": seed}}
    return {"method": method, "train_data": "tmdsprites", "model_split": "all", "results": results, "model": model}


def result(iou: float, refined: float | None = None) -> dict:
    extra = {} if refined is None else {"refined": {"iou": refined, "dice": refined + 5}}
    return {"iou": iou, "dice": iou + 10, "n_images": 10, **extra}


def write(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def test_mean_and_sd_over_seeds_by_hand(tmp_path: Path):
    write(tmp_path / "reports/metrics/drc_tmdsprites.json", scores(0, {"tmdsprites/train": result(60.0, 90.0)}))
    write(tmp_path / "reports/metrics/generalise_tmdsprites.json", scores(0, {"tmdsprites-heldout/test": result(50)}))
    paper = scores(0, {"tmdsprites/train": result(40.0)}, PAPER_READOUT)
    write(tmp_path / "reports/metrics/drc_paper_readout_tmdsprites.json", paper)
    for seed, iou in ((1, 70.0), (2, 80.0)):
        runs = {"tmdsprites/train": result(iou, 92.0), "tmdsprites-heldout/test": result(iou - 10)}
        write(tmp_path / f"reports/seeds/drc_tmdsprites_seed{seed}.json", scores(seed, runs))
    (tmp_path / "README.md").write_text(f"intro\n{SEEDS[0]}\nnot run yet\n{SEEDS[1]}\n")

    write_seed_reports(tmp_path, ["tmdsprites"])

    spread = pd.read_csv(tmp_path / SPREAD, dtype={"seeds": str}).set_index(["eval_data", "method"])
    own = spread.loc[("tmdsprites", "DRC")]
    # 60, 70, 80: mean 70, sd sqrt(((-10)^2 + 0 + 10^2) / 2) = 10
    assert (own.iou_mean, own.iou_sd, own.dice_mean, own.seeds) == (70.0, 10.0, 80.0, "0 1 2")
    # 90, 92, 92: mean 274 / 3; deviations -4/3, 2/3, 2/3; sd sqrt((16 + 4 + 4) / 9 / 2) = 2 / sqrt(3)
    refined = spread.loc[("tmdsprites", "DRC+GrabCut")]
    assert refined.iou_mean == pytest.approx(274 / 3, abs=1e-4) and refined.iou_sd == pytest.approx(2 / 3**0.5, 1e-4)
    assert spread.loc[("tmdsprites-heldout", "DRC")].iou_mean == 60.0  # 50, 60, 70
    paper_row = spread.loc[("tmdsprites", PAPER_READOUT)]
    assert paper_row.seeds == "0" and paper_row.iou_mean == 40.0 and pd.isna(paper_row.iou_sd)  # one seed: no sd
    readme = (tmp_path / "README.md").read_text()
    assert "not run yet" not in readme
    assert "| TM-dSprites, evaluation images | 0 1 2 | 78.8 | 40.0 (one seed) |" in readme  # beside the paper's DRC
    assert "| TM-dSprites, held out (another seed) | 0 1 2 | - | - | 60.0 +/- 10.0 |" in readme  # no paper number
    assert "70.0 +/- 10.0 | 91.3 +/- 1.2 |" in readme
