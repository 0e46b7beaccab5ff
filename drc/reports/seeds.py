"""The spread over training seeds: every all-data DRC score of train@ (seed ``train.seed``) and of seed_train@'s
runs (params.yaml ``seeds.train``), as mean and standard deviation per dataset, scored set and read-out.

Seed 0's scores files are the pipeline's (reports/metrics: drc_, generalise_, drc_paper_readout_<ds>.json), the
other seeds' are under reports/seeds/; each file records the seed its model was trained with.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from drc.atomic import atomic_path, write_text
from drc.provenance import PAPER_READOUT, read_scores
from drc.reports.readme import SCORED, SEEDS, paper_drc, update_readme
from drc.reports.results import REFINED, score_rows
from drc.reports.tables import Table, display

READOUTS = {
    PAPER_READOUT: "DRC, paper's read-out",
    "DRC": "DRC, profile's read-out",
    REFINED: "DRC, redrawn by GrabCut",
}
SPREAD = Path("reports/seeds.csv")
TABLE = Path("reports/seeds.md")


def seed_rows(root: Path, datasets: list[str]) -> pd.DataFrame:
    """One row per (scores file result, read-out) of the all-data models of ``datasets``, with its ``train_seed``."""
    files = [root / f"reports/metrics/{prefix}_{d}.json" for d in datasets for prefix in ("drc", "generalise")]
    files += [root / f"reports/metrics/drc_paper_readout_{d}.json" for d in datasets]
    files += sorted((root / "reports/seeds").glob("*.json"))
    rows = []
    for path in files:
        if not path.is_file():
            continue
        scores = read_scores(path)
        seed = int(scores["model"]["train"]["seed"])
        rows += [row | {"train_seed": seed} for row in score_rows(scores, path.relative_to(root).as_posix())]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    keep = frame.method.isin(READOUTS) & (frame.model_split == "all") & frame.train_data.isin(datasets)
    return frame[keep]


def spread(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd (n - 1) and the seeds of each (train_data, eval_data, split, method)'s IoU and Dice."""
    key = ["train_data", "eval_data", "split", "method"]
    if rows.empty:
        return pd.DataFrame(columns=[*key, "iou_mean", "iou_sd", "dice_mean", "dice_sd", "seeds"])
    grouped = rows.sort_values("train_seed").groupby(key, sort=False)
    out = grouped.agg(
        iou_mean=("iou", "mean"), iou_sd=("iou", "std"), dice_mean=("dice", "mean"), dice_sd=("dice", "std")
    )
    out["seeds"] = grouped.train_seed.agg(lambda s: " ".join(map(str, s)))
    return out.reset_index()


def seeds_table(summary: pd.DataFrame) -> Table:
    """The README's table over seeds: IoU mean +/- sd per scored set and read-out, the seeds behind each."""
    rows = []
    for dataset in dict.fromkeys(summary.train_data):
        for suffix, split, what in SCORED:
            hit = summary[(summary.train_data == dataset) & (summary.eval_data == dataset + suffix)]
            hit = hit[hit.split == split].set_index("method")
            if hit.empty:
                continue
            cells = ["-" if m not in hit.index else _cell(hit.iou_mean[m], hit.iou_sd[m]) for m in READOUTS]
            seeds = " ".join(sorted(set(" ".join(hit.seeds).split()), key=int))
            reported = paper_drc(dataset, suffix)
            rows.append(
                [f"{display(dataset)}, {what}", seeds, "-" if reported is None else f"{reported[0]:.1f}", *cells]
            )
    columns = ["data", "training seeds", "DRC (paper)", *READOUTS.values()]
    notes = [
        "IoU in percent, mean +/- sd over training seeds (sd with n - 1); each seed's scores file is in "
        "reports/metrics (seed 0) or reports/seeds, their rows in reports/seeds.csv. The baselines do not train: "
        "their scores are the run's table's."
    ]
    return Table("Over training seeds", pd.DataFrame(rows, columns=columns), notes)


def _cell(mean: float, sd: float) -> str:
    return f"{mean:.1f} (one seed)" if pd.isna(sd) else f"{mean:.1f} +/- {sd:.1f}"


def write_seed_reports(root: Path, datasets: list[str]) -> Table:
    """reports/seeds.csv, reports/seeds.md and README.md's seeds block."""
    summary = spread(seed_rows(root, datasets))
    with atomic_path(root / SPREAD, replace=True) as tmp:  # the report's own files
        summary.to_csv(tmp, index=False, float_format="%.4f")
    table = seeds_table(summary)
    write_text(root / TABLE, table.to_markdown(), replace=True)
    update_readme(root / "README.md", table, SEEDS)
    return table
