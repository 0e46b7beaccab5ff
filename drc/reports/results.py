"""Every score the pipeline wrote, gathered from reports/metrics/*.json into one long table.

One row per (method, train_data, model_split, eval_data, split). ``model_split`` tells the all-data
model (Table 1, generalisation) from the train-split model (Tables 3-4), which both have a
``<dataset>/train`` row; GrabCut trains on nothing, so its train_data and model_split are ``-``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from drc.errors import DRCError

COLUMNS = ["method", "train_data", "model_split", "eval_data", "split", "iou", "dice", "n_images"]
KEY = COLUMNS[:5]


PREFIXES = ("drc_", "generalise_", "grabcut_")  # drc_<ds>, drc_split_<ds>, generalise_<ds>, grabcut_<ds>


def read_metrics(path: Path) -> dict[str, Any]:
    """A metrics file of the evaluate or grabcut stage, checked to hold its ``results``."""
    try:
        metrics = json.loads(path.read_text())
        dict(metrics["results"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DRCError(f"{path} is not a metrics file ({exc}); run its evaluate/grabcut stage again") from exc
    return metrics


def _rows(metrics: dict[str, Any]) -> list[dict]:
    grabcut = metrics.get("method") == "grabcut"
    rows = []
    for key, score in metrics["results"].items():
        eval_data, _, split = key.rpartition("/")
        rows.append(
            {
                "method": "GrabCut" if grabcut else "DRC",
                "train_data": "-" if grabcut else metrics["train_data"],
                "model_split": "-" if grabcut else metrics["model_split"],
                "eval_data": eval_data,
                "split": split,
                "iou": score["iou"],
                "dice": score["dice"],
                "n_images": score["n_images"],
            }
        )
    return rows


def collect_results(metrics_dir: Path) -> pd.DataFrame:
    """All rows of the metrics files present in ``metrics_dir`` (an empty table when there are none)."""
    rows: list[dict] = []
    for path in sorted(metrics_dir.glob("*.json")):
        if path.name.startswith(PREFIXES):
            rows += _rows(read_metrics(path))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    duplicated = frame.duplicated(KEY)
    if duplicated.any():
        raise DRCError(f"{metrics_dir} scores the same thing twice: {frame[duplicated].to_dict('records')}")
    return frame.sort_values(KEY, ignore_index=True)


def lookup(results: pd.DataFrame, **key: str) -> tuple[float, float] | None:
    """(IoU, Dice) of the row matching every column given in ``key``, or None when it was not run."""
    hit = results
    for column, value in key.items():
        hit = hit[hit[column] == value]
    if hit.empty:
        return None
    return float(hit.iou.iloc[0]), float(hit.dice.iloc[0])
