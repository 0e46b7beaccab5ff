"""Every score the pipeline wrote, gathered from reports/metrics/*.json into one long table.

One row per (method, train_data, model_split, eval_data, split). ``model_split`` tells the all-data
model (Table 1, generalisation) from the train-split model (Tables 3-4), which both have a
``<dataset>/train`` row; GrabCut, the colour threshold (``Colour``) and its masks redrawn by GrabCut
(``Colour+GrabCut``) train on nothing, so their
train_data, model_split and profile are ``-``. ``source`` names the scores file a row comes from: it
records everything that made the score (drc/provenance.py), and ``drc evaluate --from`` re-runs it.
``DRC`` is the model's own masks under the profile's read-out; where the read-out also redraws them with
GrabCut (readout.refine), those redrawn masks are a second row, method ``REFINED``: a post-processing
step, set beside the same step applied to the colour threshold. ``PAPER_READOUT`` (drc/provenance.py) is
the same model read out as the paper reads it (one chain from N(0, I), pi_f > 0.5; stages/evaluate.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from drc.errors import DRCError
from drc.provenance import read_scores

COLUMNS = ["method", "train_data", "model_split", "eval_data", "split", "iou", "dice", "n_images", "profile", "source"]
KEY = COLUMNS[:5]
METRICS = Path("reports/metrics")


# drc_<ds>, drc_split_<ds>, generalise_<ds>; grabcut_<ds>, colour_<ds>, colour_grabcut_<ds> and their
# *_heldout_<ds> (stages/)
PREFIXES = ("drc_", "generalise_", "grabcut_", "colour_")
REFINED = "DRC+GrabCut"  # the same run's masks redrawn by GrabCut (readout.refine)


def score_rows(metrics: dict[str, Any], source: str) -> list[dict]:
    """The rows of one scores file (``COLUMNS``)."""
    method = metrics.get("method", "DRC")
    baseline = "model" not in metrics  # trains on nothing: no train data, model split or profile
    rows = []
    for key, score in metrics["results"].items():
        eval_data, _, split = key.rpartition("/")
        row = {
            "method": method,
            "train_data": "-" if baseline else metrics["train_data"],
            "model_split": "-" if baseline else metrics["model_split"],
            "eval_data": eval_data,
            "split": split,
            "iou": score["iou"],
            "dice": score["dice"],
            "n_images": score["n_images"],
            "profile": "-" if baseline else (metrics.get("model") or {}).get("profile") or "?",
            "source": source,
        }
        rows.append(row)
        if "refined" in score:
            rows.append({**row, "method": REFINED, **{k: score["refined"][k] for k in ("iou", "dice")}})
    return rows


def collect_results(root: Path) -> pd.DataFrame:
    """All rows of the scores files present in ``root``/reports/metrics (an empty table when there are none)."""
    rows: list[dict] = []
    for path in sorted((root / METRICS).glob("*.json")):
        if path.name.startswith(PREFIXES):
            rows += score_rows(read_scores(path), path.relative_to(root).as_posix())
    frame = pd.DataFrame(rows, columns=COLUMNS)
    duplicated = frame.duplicated(KEY)
    if duplicated.any():
        raise DRCError(f"{root / METRICS} scores the same thing twice: {frame[duplicated].to_dict('records')}")
    return frame.sort_values(KEY, ignore_index=True)


def summary(results: pd.DataFrame) -> dict[str, dict[str, dict[str, float]]]:
    """The headline scores as reports/summary.json, the pipeline's DVC metric: {eval data: {label: {iou, dice}}}
    with label ``drc`` (the all-data model), ``drc_split`` (the train-split model), ``grabcut``, ``colour`` or
    ``colour+grabcut``, and
    ``_<split>`` unless the split is the training data."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for row in results.itertuples():
        label = row.method.lower() + ("_split" if row.model_split == "train" else "")
        label += "" if row.split == "train" else f"_{row.split}"
        out.setdefault(row.eval_data, {})[label] = {"iou": round(row.iou, 4), "dice": round(row.dice, 4)}
    return out


def lookup(results: pd.DataFrame, **key: str) -> tuple[float, float] | None:
    """(IoU, Dice) of the row matching every column given in ``key``, or None when it was not run."""
    hit = results
    for column, value in key.items():
        hit = hit[hit[column] == value]
    if hit.empty:
        return None
    return float(hit.iou.iloc[0]), float(hit.dice.iloc[0])
