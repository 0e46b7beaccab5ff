"""Tables 1, 3 and 4: the paper's rows (paper.py) beside this run's (results.py), as DataFrames of strings."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pandas as pd

from drc.provenance import PAPER_READOUT
from drc.reports import paper
from drc.reports.paper import Score
from drc.reports.results import REFINED, lookup

NOT_RUN = "not run"
METRICS = ("IoU", "Dice")


@dataclass
class Table:
    """A titled table of display strings with notes printed under it."""

    title: str
    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def to_markdown(self) -> str:
        parts = [f"# {self.title}", "", markdown_table(self.frame)]
        if self.notes:
            parts += ["", *self.notes]
        return "\n".join(parts) + "\n"


def markdown_table(frame: pd.DataFrame) -> str:
    """GitHub-flavoured Markdown for a frame of strings (pipes inside cells escaped)."""

    def line(cells: Iterable[object]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(frame.columns), line("---" for _ in frame.columns), *map(line, frame.values)])


def cell(score: Score | None, missing: str = NOT_RUN) -> str:
    """'IoU / Dice' with one decimal."""
    return missing if score is None else f"{score[0]:.1f} / {score[1]:.1f}"


def display(dataset: str) -> str:
    return paper.DATASETS.get(dataset) or paper.VARIANTS.get(dataset, dataset)


BASELINES = {
    "GrabCut": "GrabCut (this run)",
    "Colour": "Colour threshold (this run)",
}
# Post-processing: masks redrawn by GrabCut seeded with them, DRC's beside the colour threshold's.
REDRAWN = {
    REFINED: "DRC, redrawn by GrabCut (this run; post-processing)",
    "Colour+GrabCut": "Colour threshold, redrawn by GrabCut (this run; post-processing)",
}
BASELINES_ALL = {**BASELINES, "Colour+GrabCut": REDRAWN["Colour+GrabCut"]}
SHORT = {"GrabCut": "GrabCut", "Colour": "colour threshold", "Colour+GrabCut": "colour threshold redrawn by GrabCut"}


def _columns(paper_datasets: Iterable[str], run_datasets: Iterable[str]) -> list[str]:
    """The paper's datasets in its order, then any other dataset this run scored."""
    columns = list(paper_datasets)
    return columns + [d for d in run_datasets if d not in columns]


def table1(results: pd.DataFrame) -> Table:
    """Scores on the training data: the paper's methods, then this run's DRC read two ways, the baselines, and
    the GrabCut redrawing of DRC's masks beside the same redrawing of the colour threshold's."""
    trained = results[(results.model_split == "all") & (results.eval_data == results.train_data)]
    profile = ", ".join(sorted(set(trained.profile))) or "-"
    datasets = _columns(paper.DATASETS, sorted(set(trained.eval_data)))
    rows = [[method] + [cell(scores.get(d), "-") for d in datasets] for method, scores in paper.TABLE1.items()]
    drc_rows = {
        PAPER_READOUT: f"DRC (this run, profile {profile}), the paper's read-out",
        "DRC": f"DRC (this run, profile {profile}), the profile's read-out",
    }
    for method, label in drc_rows.items():
        rows.append([label, *(cell(_drc(results, d, "all", d, "train", method)) for d in datasets)])
    for method, label in BASELINES.items():
        rows.append([label, *(cell(_baseline(results, method, d, "train")) for d in datasets)])
    rows.append([REDRAWN[REFINED], *(cell(_drc(results, d, "all", d, "train", REFINED)) for d in datasets)])
    rows.append(
        [REDRAWN["Colour+GrabCut"], *(cell(_baseline(results, "Colour+GrabCut", d, "train")) for d in datasets)]
    )
    frame = pd.DataFrame(rows, columns=["method", *map(display, datasets)])
    notes = [
        "IoU / Dice in percent, averaged over images; paper rows from the paper's Table 1; "
        "reports/results.csv lists the number of images behind each score and the file that records its settings. "
        "The paper's read-out: pi_f > 0.5 from one chain from N(0, I), given the profile's number of Langevin steps "
        "per image; the profile's read-out: docs/cpu-profile.md. "
        "The colour threshold calls a pixel foreground where its saturation exceeds Otsu's threshold for its image. "
        "The last two rows redraw masks with GrabCut seeded with them: post-processing, not the method."
    ]
    unseen = results[
        (results.method == "DRC") & (results.model_split == "all") & (results.eval_data != results.train_data)
    ]
    for row in unseen.itertuples():
        redrawn = _drc(results, row.train_data, "all", row.eval_data, row.split, REFINED)
        after = f" ({cell(redrawn)} redrawn by GrabCut)" if redrawn else ""
        baselines = ", ".join(
            f"{name} {cell(_baseline(results, method, row.eval_data, row.split))}" for method, name in SHORT.items()
        )
        notes.append(
            f"Images never trained on: DRC trained on {display(row.train_data)} scores {cell((row.iou, row.dice))}"
            f"{after} on the {row.n_images} images of {row.eval_data} ({baselines})."
        )
    return Table("Table 1: foreground extraction on the training data", frame, notes)


def _drc(
    results: pd.DataFrame, train: str, model_split: str, test: str, split: str, method: str = "DRC"
) -> Score | None:
    return lookup(results, method=method, train_data=train, model_split=model_split, eval_data=test, split=split)


def _baseline(results: pd.DataFrame, method: str, dataset: str, split: str) -> Score | None:
    return lookup(results, method=method, eval_data=dataset, split=split)


def _train_test(train: Score | None, test: Score | None, index: int, missing: str = NOT_RUN) -> str:
    """'train | test' of the IoU (index 0) or the Dice (index 1)."""
    if train is None and test is None:
        return missing
    return " | ".join(missing if s is None else f"{s[index]:.1f}" for s in (train, test))


def table3(results: pd.DataFrame) -> Table:
    """Train-split models scored on their train and test splits (GrabCut: the same images)."""
    split_models = results[(results.model_split == "train") & (results.eval_data == results.train_data)]
    datasets = _columns(paper.TABLE3["DRC"], sorted(set(split_models.eval_data)))
    rows = []
    for method, scores in paper.TABLE3.items():
        for index, metric in enumerate(METRICS):
            reported = [scores.get(d, {}) for d in datasets]
            rows.append([method, metric, *(_train_test(r.get("train"), r.get("test"), index, "-") for r in reported)])
    this_run: dict[str, Callable[[str, str], Score | None]] = {
        "DRC (this run)": lambda d, s: _drc(results, d, "train", d, s),
        **{label: functools.partial(_baseline, results, method) for method, label in BASELINES_ALL.items()},
    }
    for method, score in this_run.items():
        for index, metric in enumerate(METRICS):
            rows.append([method, metric, *(_train_test(score(d, "train"), score(d, "test"), index) for d in datasets)])
    frame = pd.DataFrame(rows, columns=["method", "metric", *map(display, datasets)])
    notes = ["Cells read train | test, in percent. DRC models are trained on the train split only."]
    return Table("Table 3: train and test splits", frame, notes)


def table4(results: pd.DataFrame) -> Table:
    """Train-split models scored on other datasets' test splits, with GrabCut's test scores for reference."""
    cross = results[(results.model_split == "train") & (results.eval_data != results.train_data)]
    pairs = list(paper.TABLE4)
    pairs += [p for p in zip(cross.eval_data, cross.train_data, strict=True) if p not in pairs]
    rows = []
    for test, train in pairs:
        reported = paper.TABLE4.get((test, train), {})
        rows.append(
            [
                display(test),
                display(train),
                cell(reported.get("ReDO"), "-"),
                cell(reported.get("DRC"), "-"),
                cell(_drc(results, train, "train", test, "test")),
            ]
        )
    frame = pd.DataFrame(rows, columns=["test", "train", "ReDO (paper)", "DRC (paper)", "DRC (this run)"])
    grabcut = [
        f"{display(d)} paper {cell(paper.TABLE3['GrabCut'].get(d, {}).get('test'), '-')}, "
        f"this run {cell(_baseline(results, 'GrabCut', d, 'test'))}"
        for d in dict.fromkeys(test for test, _ in pairs)
    ]
    notes = ["GrabCut on the same test sets (IoU / Dice): " + "; ".join(grabcut) + "."]
    return Table("Table 4: trained on one dataset, tested on another", frame, notes)
