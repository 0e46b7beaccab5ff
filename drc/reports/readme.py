"""The README's results table: written by the report stage between two markers, from results.csv only.

The README never holds a number typed by hand: ``headline`` renders the table from the results, the
report stage writes it to reports/tables/headline.md and between ``BEGIN`` and ``END`` in README.md,
and a test compares the README with reports/results.csv.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from drc.atomic import write_text
from drc.provenance import PAPER_READOUT
from drc.reports import paper
from drc.reports.results import REFINED, lookup
from drc.reports.tables import Table, cell, display

BEGIN = "<!-- results: written by `dvc repro` (drc/reports/readme.py) from reports/results.csv; do not edit -->"
END = "<!-- /results -->"
# The spread over training seeds, written by report_seeds (drc/reports/seeds.py).
SEEDS = ("<!-- seeds: written by `make seeds` (drc/reports/seeds.py) from reports/seeds.csv; do not edit -->",
         "<!-- /seeds -->")  # fmt: skip
# The images each all-data model is scored on: its evaluation images, then those it never saw.
SCORED = (("", "train", "evaluation images"), ("-heldout", "test", "held out (another seed)"),
          ("-robust", "test", "robustness set (second generator)"))  # fmt: skip
COLUMNS = [
    "data",
    "images",
    "DRC (paper)",
    "DRC, paper's read-out",
    "DRC, profile's read-out",
    "GrabCut",
    "colour threshold",
    "DRC, redrawn by GrabCut",
    "colour threshold, redrawn by GrabCut",
]


def headline(results: pd.DataFrame) -> Table:
    """IoU / Dice of every all-data DRC model on the images it is scored on: beside the paper's DRC, the same
    model read out as the paper reads it and as the profile does, the baselines, then GrabCut's redrawing of
    DRC's masks beside the same redrawing of the colour threshold's (post-processing)."""
    models = results[(results.method == "DRC") & (results.model_split == "all")]
    rows = []
    for dataset in dict.fromkeys(models.train_data):
        for suffix, split, what in SCORED:
            data = dataset + suffix
            hit = models[(models.train_data == dataset) & (models.eval_data == data) & (models.split == split)]
            if hit.empty:
                continue
            reported = paper_drc(dataset, suffix)
            rows.append(
                [
                    f"{display(dataset)}, {what}",
                    str(int(hit.n_images.iloc[0])),
                    cell(reported, "-"),
                    cell(_score(results, PAPER_READOUT, data, split, dataset), "-"),
                    cell((float(hit.iou.iloc[0]), float(hit.dice.iloc[0]))),
                    cell(_score(results, "GrabCut", data, split), "-"),
                    cell(_score(results, "Colour", data, split), "-"),
                    cell(_score(results, REFINED, data, split, dataset), "-"),
                    cell(_score(results, "Colour+GrabCut", data, split), "-"),
                ]
            )
    profiles = ", ".join(sorted(set(models.profile))) or "-"
    notes = [
        f"IoU / Dice in percent at the 128 px ground truth, profile {profiles}. The paper's read-out: pi_f > 0.5 of "
        "one chain from N(0, I) given the profile's Langevin steps per image (scored on the evaluation images only); "
        "the profile's read-out: docs/cpu-profile.md. The last two columns are post-processing: masks redrawn by "
        "GrabCut seeded with them, DRC's beside the colour threshold's."
    ]
    return Table("Results of this run", pd.DataFrame(rows, columns=COLUMNS), notes)


def paper_drc(dataset: str, suffix: str) -> paper.Score | None:
    """The paper's DRC on ``dataset``'s evaluation images (``suffix`` ""); None for the sets it never scored."""
    return None if suffix else paper.TABLE1["DRC"].get(dataset)


def _score(results: pd.DataFrame, method: str, data: str, split: str, train: str | None = None):
    key = {"method": method, "eval_data": data, "split": split}
    if train is not None:
        key |= {"train_data": train, "model_split": "all"}
    return lookup(results, **key)


def block(table: Table, markers: tuple[str, str] = (BEGIN, END)) -> str:
    """The table as it stands between the markers (markers included)."""
    return "\n".join([markers[0], table.to_markdown().split("\n", 2)[2].strip(), markers[1]])


def update_readme(path: Path, table: Table, markers: tuple[str, str] = (BEGIN, END)) -> bool:
    """Rewrite the marked block of the README at ``path``; False (and nothing written) without markers."""
    if not path.is_file():
        return False
    text = path.read_text()
    begin, finish = markers
    start, end = text.find(begin), text.find(finish)
    if start < 0 or end < start:
        return False
    new = text[:start] + block(table, markers) + text[end + len(finish) :]
    if new != text:
        write_text(path, new, replace=True)
    return True
