"""Table 2 (ablations): this run's rows come from `dvc exp show --json` and from the workspace.

An ablation is a DVC experiment of the whole pipeline with some of the method's knobs (``OFF``) changed
in params.yaml (`dvc exp run -S train.pseudo_label=0`); its row is labelled by the knobs that differ from
the paper's method, in the paper's words ("w/o pseudo label"), and scored by the experiment's
reports/summary.json (DRC on the first dataset's training data).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from drc.config import PAPER_FACTS, SECTIONS, dataset_kind
from drc.errors import DRCError
from drc.reports import paper
from drc.reports.paper import Score
from drc.reports.tables import Table, cell, display

SUMMARY = "reports/summary.json"  # the report stage's metric: {dataset: {"drc": {"iou", "dice"}, ...}}
# (section, knob) -> (value that switches the component off, the paper's name for that ablation)
OFF = {
    ("model", "pixel_reassign"): (False, "w/o pixel re-assignment"),
    ("train", "pseudo_label"): (0, "w/o pseudo label"),
    ("train", "tv_norm"): (0, "w/o TV-norm"),
    ("train", "ortho_reg"): (0, "w/o ortho reg"),
    ("train", "persistent_chains"): (False, "short-run chain"),
}
HOW_TO = (
    "To add ablation rows: run the pipeline as an experiment with one knob switched off, e.g. "
    "`dvc exp run -S train.pseudo_label=0` (knobs: train.pseudo_label, train.tv_norm, train.ortho_reg = 0; "
    "model.pixel_reassign, train.persistent_chains = false), then `drc report --ablations`, "
    "which writes this table with a row per experiment to reports/ablations.md."
)


@dataclasses.dataclass(frozen=True)
class RunRow:
    """One run of the pipeline as a Table 2 entry."""

    label: str
    dataset: str
    profile: str
    score: Score | None  # None: the run has no metrics (queued, failed, or not evaluated yet)
    source: str


def paper_value(section: str, knob: str, dataset: str) -> Any:
    """The paper's value of a knob: the dataset's paper fact when there is one, else the dataclass default."""
    facts = PAPER_FACTS.get(dataset_kind(dataset) or "", {}).get(section, {})
    if knob in facts:
        return facts[knob]
    return next(f.default for f in dataclasses.fields(SECTIONS[section]) if f.name == knob)


def ablation_label(params: Mapping[str, Any], dataset: str) -> str:
    """'full' when every knob of ``OFF`` is the paper's (or unset), else the changes in the paper's words,
    e.g. 'w/o TV-norm'. A knob set to another value than the paper's or "off" reads ``section.knob=value``.
    """
    changes = []
    for (section, knob), (off, name) in OFF.items():
        value = (params.get(section) or {}).get(knob)
        if value is None or value == paper_value(section, knob, dataset):
            continue
        is_off = isinstance(value, bool) == isinstance(off, bool) and value == off  # 0 and 0.0, not False
        changes.append(name if is_off else f"{section}.{knob}={value}")
    return ", ".join(changes) or "full"


def first_dataset(params: Mapping[str, Any]) -> str:
    datasets = params.get("datasets") or []
    if not datasets:
        raise DRCError("params.yaml lists no datasets; Table 2 scores the first of them")
    return str(datasets[0])


def summary_score(summary: Mapping[str, Any] | None, dataset: str) -> Score | None:
    """(IoU, Dice) of DRC on ``dataset``'s training data from reports/summary.json, if it has them."""
    result = ((summary or {}).get(dataset) or {}).get("drc")
    return None if result is None else (float(result["iou"]), float(result["dice"]))


def ablation_rows_from_exp_show(json_text: str) -> list[RunRow]:
    """One row per experiment in the output of `dvc exp show --json` (DVC 3.x), newest first.

    The format: a list of commits (the first is the workspace), each with ``experiments``: a list of
    ``{"name", "executor", "revs": [{"name", "data": {"params": {"params.yaml": {"data": ...}},
    "metrics": {"<path>": {"data": ...} | {"error": ...}}}}]}``.
    """
    try:
        commits = json.loads(json_text)
    except ValueError as exc:
        raise DRCError(f"`dvc exp show --json` printed something that is not JSON ({exc})") from exc
    rows = []
    for commit in commits:
        for experiment in commit.get("experiments") or []:
            for rev in experiment.get("revs") or []:
                rows.append(_experiment_row(rev, experiment.get("executor") or {}))
    return rows


def _experiment_row(rev: Mapping[str, Any], executor: Mapping[str, Any]) -> RunRow:
    data = rev.get("data") or {}
    params = ((data.get("params") or {}).get("params.yaml") or {}).get("data") or {}
    dataset = first_dataset(params)
    metrics = (data.get("metrics") or {}).get(SUMMARY) or {}
    state = executor.get("state")
    source = f"exp {rev.get('name') or str(rev.get('rev'))[:7]}" + (f" ({state})" if state else "")
    return RunRow(
        ablation_label(params, dataset),
        dataset,
        str(params.get("profile", "?")),
        summary_score(metrics.get("data"), dataset),
        source,
    )


def table2(current: RunRow, experiments: list[RunRow] | None = None) -> Table:
    """The paper's ablations (Birds) beside this run's: the workspace row and, if given, experiments. Each run
    is compared with this run's full model on the same data and profile (the IoU it loses), never with the
    paper's numbers, which are another dataset's."""
    runs = [current, *(experiments or [])]
    labels = list(paper.TABLE2) + [r.label for r in runs if r.label not in paper.TABLE2]
    full = {(r.dataset, r.profile): r.score for r in runs if r.label == "full" and r.score is not None}
    rows = []
    for label in dict.fromkeys(labels):
        matching = [r for r in runs if r.label == label]
        reported = cell(paper.TABLE2.get(label), "-")
        if not matching:
            rows.append([label, reported, "not run", "", "", "", ""])
        for run in matching:
            base = full.get((run.dataset, run.profile))
            change = "" if base is None or run.score is None else f"{run.score[0] - base[0]:+.1f}"
            row = [label, reported, cell(run.score), change, display(run.dataset), run.profile, run.source]
            rows.append(row)
    columns = ["ablation", f"paper ({display(paper.TABLE2_DATASET)})", "this run", "IoU change vs this run's full"]
    columns += ["data", "profile", "source"]
    notes = [
        "IoU / Dice in percent on the training data of the first dataset in params.yaml. The paper's column is "
        f"{display(paper.TABLE2_DATASET)}; this run's rows are compared with this run's full model on the same data "
        "and profile, not with the paper's numbers."
    ]
    if experiments is None:
        notes.append(HOW_TO)
    return Table("Table 2: ablations", pd.DataFrame(rows, columns=columns), notes)
