"""Build every report from whatever the pipeline has written so far (missing inputs read "not run").

Reads (relative to the project root): params.yaml (datasets, the ablation knobs, grabcut.margin),
reports/metrics/*.json, reports/per_image/{drc,grabcut,colour,colour_grabcut}_<ds>.csv,
reports/grabcut/<ds>_margins.csv, reports/training/<ds>-{all,train}/live/plots/metrics/monitor/iou.tsv,
reports/progress/<ds>.csv,
data/eval/{drc,grabcut}_<ds>.npz and data/prepared/<ds>. Writes reports/results.csv, reports/summary.json
(the DVC metric), reports/tables/, reports/figures/ (PNG) and reports/figures_pdf/, each atomically, and
the results block of README.md (drc/reports/readme.py). A figure whose inputs are absent (a fresh clone
holds the committed figures but not the DVC-cached data they were drawn from) keeps the file that is there.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from drc.atomic import atomic_files, atomic_path, write_json, write_text
from drc.config import ReadoutConfig, SamplerConfig, TrainConfig, from_dict
from drc.data.prepared import Prepared
from drc.params import load_params
from drc.provenance import PAPER_READOUT, read_scores
from drc.readout import Readout
from drc.reports import figures, gratings, paper
from drc.reports.ablations import SUMMARY, RunRow, ablation_label, ablation_rows_from_exp_show, table2
from drc.reports.paper import Score
from drc.reports.readme import headline, update_readme
from drc.reports.results import REFINED, collect_results, lookup, summary
from drc.reports.tables import Table, display, table1, table3, table4

RESULTS = Path("reports/results.csv")
TABLES = Path("reports/tables")
FIGURES = Path("reports/figures")  # PNG: what `dvc plots show` renders (it reads no PDF)
FIGURES_PDF = Path("reports/figures_pdf")  # the same figures as PDF
ABLATIONS = Path("reports/ablations.md")  # outside the report stage's outputs: see write_ablations
N_FIRST, N_WORST = 8, 16


def build_reports(root: Path = Path(".")) -> list[str]:
    """Write results.csv, the four tables and the figures; returns one line per figure not drawn, saying
    why and whether an earlier file of it was kept."""
    params = load_params(root / "params.yaml")
    results = collect_results(root)
    with atomic_path(root / RESULTS, replace=True) as tmp:
        results.to_csv(tmp, index=False, float_format="%.4f")
    write_json(root / SUMMARY, summary(results), replace=True)
    tables = {
        "table1": table1(results),
        "table2": table2(current_run(results, params)),
        "table3": table3(results),
        "table4": table4(results),
        "headline": headline(results),
    }
    with atomic_files(root / TABLES) as tmp:
        for name, table in tables.items():
            write_table(table, tmp / f"{name}.md")
    update_readme(root / "README.md", tables["headline"])
    with atomic_files(root / FIGURES) as tmp, atomic_files(root / FIGURES_PDF) as pdf_tmp:
        skipped = draw_figures(root, params, tmp, results)
        for pdf in tmp.glob("*.pdf"):
            os.replace(pdf, pdf_tmp / pdf.name)
    return [_not_drawn(root / FIGURES / line.partition(": ")[0], line) for line in skipped]


def _not_drawn(figure: Path, line: str) -> str:
    name, _, reason = line.partition(": ")
    if figure.is_file():
        return f"{name} kept as it was (not redrawn: {reason})"
    return f"{name} left out ({reason})"


def write_ablations(root: Path, exp_show_json: str) -> Path:
    """Table 2 with a row per DVC experiment, from the text `dvc exp show --json` printed.

    Written beside, not into, reports/tables/: a file of the report stage edited by hand would mark the
    stage changed, and the next `dvc repro` would rebuild it without the experiments.
    """
    params = load_params(root / "params.yaml")
    path = root / ABLATIONS
    current = current_run(collect_results(root), params)
    write_table(table2(current, ablation_rows_from_exp_show(exp_show_json)), path)
    return path


def write_table(table: Table, md_path: Path) -> None:
    """The table as Markdown at ``md_path`` and as CSV beside it (replacing the command's earlier ones)."""
    write_text(md_path, table.to_markdown(), replace=True)
    with atomic_path(md_path.with_suffix(".csv"), replace=True) as tmp:
        table.frame.to_csv(tmp, index=False)


def current_run(results: pd.DataFrame, params: Mapping[str, Any]) -> RunRow:
    """The workspace's run as a Table 2 row: labelled by params.yaml, scored on the first dataset."""
    datasets = params.get("datasets") or []
    dataset = str(datasets[0]) if datasets else "-"
    key = {"method": "DRC", "train_data": dataset, "model_split": "all", "eval_data": dataset, "split": "train"}
    hit = results[(results[list(key)] == pd.Series(key)).all(axis=1)]
    profile = str(hit.profile.iloc[0]) if len(hit) else "-"
    return RunRow(ablation_label(params, dataset), dataset, profile, lookup(results, **key), "workspace")


def draw_figures(root: Path, params: Mapping[str, Any], out: Path, results: pd.DataFrame) -> list[str]:
    """Every figure whose inputs exist, into ``out``; returns '<figure>: <missing input>' for the rest."""
    skipped = []
    margin = (params.get("grabcut") or {}).get("margin")
    datasets = [str(d) for d in params.get("datasets") or []]
    bars = table1_scores(results, datasets)
    if bars.drop(columns="DRC (paper)", errors="ignore").notna().any().any():
        figures.table1_bars(
            bars, "Table 1: IoU on the training data, this run beside the paper", out / "table1_bars.png"
        )
    else:
        skipped.append("table1_bars.png: no scores")
    for dataset in datasets:
        inputs = DatasetInputs(root, dataset, results)
        drawers: dict[str, Callable[[Path], None]] = {
            "extractions": inputs.extractions,
            "worst": inputs.worst,
            "iou_hist": inputs.histogram,
            "grabcut_vs_drc": inputs.comparison,
            "grabcut_margin": functools.partial(inputs.margins, chosen=margin),
            "training": inputs.training,
            "iou_by_period": inputs.periods,
        }
        for kind, draw in drawers.items():
            name = f"{kind}_{dataset}.png"
            try:
                draw(out / name)
            except MissingInput as exc:
                skipped.append(f"{name}: {exc}")
    return skipped


def table1_scores(results: pd.DataFrame, datasets: list[str]) -> pd.DataFrame:
    """IoU per dataset (rows, display names) and method (columns): the paper's DRC, this run's DRC under the
    paper's and the profile's read-out, the baselines, then GrabCut's redrawing of DRC's and of the colour
    threshold's masks (post-processing); NaN where missing."""

    def all_data(method: str, d: str) -> Score | None:
        return lookup(results, method=method, train_data=d, model_split="all", eval_data=d, split="train")

    def baseline(method: str, d: str) -> Score | None:
        return lookup(results, method=method, eval_data=d, split="train")

    methods: dict[str, Callable[[str], Score | None]] = {
        "DRC (paper)": lambda d: paper.TABLE1["DRC"].get(d),
        "DRC, paper's read-out": functools.partial(all_data, PAPER_READOUT),
        "DRC, profile's read-out": functools.partial(all_data, "DRC"),
        "GrabCut": functools.partial(baseline, "GrabCut"),
        "colour threshold": functools.partial(baseline, "Colour"),
        "DRC, redrawn by GrabCut": functools.partial(all_data, REFINED),
        "colour threshold, redrawn by GrabCut": functools.partial(baseline, "Colour+GrabCut"),
    }
    frame = pd.DataFrame(
        {name: [np.nan if (s := score(d)) is None else s[0] for d in datasets] for name, score in methods.items()},
        index=[display(d) for d in datasets],
    )
    return frame.dropna(axis=1, how="all")


class MissingInput(Exception):
    """A figure's input has not been produced (its dataset or stage was not run)."""


class DatasetInputs:
    """The pipeline outputs of one dataset, loaded on first use; each figure method draws one PNG."""

    def __init__(self, root: Path, dataset: str, results: pd.DataFrame) -> None:
        self.root, self.dataset, self.name, self.results = root, dataset, display(dataset), results

    def _path(self, relative: str) -> Path:
        path = self.root / relative
        if not path.exists():
            raise MissingInput(f"no {relative}")
        return path

    def _npz(self, method: str) -> dict[str, np.ndarray]:
        with np.load(self._path(f"data/eval/{method}_{self.dataset}.npz")) as data:
            return dict(data)

    def _prepared(self) -> Prepared:
        return Prepared.open(self._path(f"data/prepared/{self.dataset}"))

    @functools.cached_property
    def _how(self) -> Readout:
        """How DRC's own scored masks left the model: the read-out (without GrabCut's redrawing), sampler and
        training settings their scores file records."""
        scores = read_scores(self._path(f"reports/metrics/drc_{self.dataset}.json"))
        result = next(iter(scores["results"].values()), {})
        train = scores.get("model", {}).get("train")
        if train is None:
            raise MissingInput(f"drc_{self.dataset}.json records no model settings to read its masks with")
        readout = from_dict(ReadoutConfig, result.get("readout", {}), "recorded readout")
        sampler = from_dict(SamplerConfig, result.get("sampler", {}), "recorded sampler")
        return Readout.resolve(readout, sampler, from_dict(TrainConfig, train, "recorded train")).own

    def _per_image(self) -> dict[str, pd.DataFrame]:
        """Per-image IoU tables (columns id, iou) of each method that was scored, by its label."""
        tables = {}
        for method, label in (
            ("drc", "DRC, profile's read-out"),
            ("grabcut", "GrabCut"),
            ("colour", "colour threshold"),
            ("colour_grabcut", "colour threshold, redrawn by GrabCut"),
        ):
            path = self.root / f"reports/per_image/{method}_{self.dataset}.csv"
            if path.is_file():
                tables[label] = pd.read_csv(path, dtype={"id": str})
        if not tables:
            raise MissingInput(f"no reports/per_image/{{drc,grabcut,colour}}_{self.dataset}.csv")
        return tables

    def extractions(self, path: Path) -> None:
        drc = self._npz("drc")
        order = np.argsort(drc["positions"], kind="stable")[:N_FIRST]
        title = f"DRC on {self.name}: first images"
        figures.extraction_grid(drc, self._prepared(), order, self._how, title, path)

    def worst(self, path: Path) -> None:
        drc = self._npz("drc")
        order = np.argsort(drc["iou"], kind="stable")[:N_WORST]
        title = f"DRC on {self.name}: lowest IoU"
        figures.extraction_grid(drc, self._prepared(), order, self._how, title, path)

    def histogram(self, path: Path) -> None:
        scores = {label: table["iou"].to_numpy() for label, table in self._per_image().items()}
        figures.iou_histogram(scores, f"Per-image IoU on {self.name}", path)

    def comparison(self, path: Path) -> None:
        drc, grabcut = self._npz("drc"), self._npz("grabcut")
        grabcut_index = {int(row): i for i, row in enumerate(grabcut["rows"])}
        by_position = np.argsort(drc["positions"], kind="stable")
        shown = [i for i in by_position if int(drc["rows"][i]) in grabcut_index][:N_FIRST]
        if not shown:
            raise MissingInput("GrabCut and DRC stored extractions of no common image")
        g = [grabcut_index[int(drc["rows"][i])] for i in shown]
        prepared, rows = self._prepared(), drc["rows"][shown]
        figures.comparison_grid(
            prepared,
            rows,
            (grabcut["mask"][g], grabcut["iou"][g]),
            (figures.scored_masks(prepared, drc, shown, self._how), drc["iou"][shown]),
            f"GrabCut vs DRC on {self.name} (IoU % under each image)",
            path,
        )

    def periods(self, path: Path) -> None:
        cfg = gratings.generator_config(self._prepared())
        if cfg is None:
            raise MissingInput(f"{self.dataset} is not a TM-dSprites dataset (no gratings)")
        curves = {
            label: gratings.iou_by_texture(cfg, table["id"].to_numpy(), table["iou"].to_numpy())
            for label, table in self._per_image().items()
        }
        periods = gratings.bank_periods(cfg) * 128 / cfg.resolution
        figures.iou_by_period(periods, curves, f"IoU by grating period on {self.name}", path)

    def margins(self, path: Path, chosen: float | None) -> None:
        sweep = pd.read_csv(self._path(f"reports/grabcut/{self.dataset}_margins.csv"))
        figures.margin_curve(sweep, chosen, f"GrabCut on {self.name}: IoU against the margin", path)

    def training(self, path: Path) -> None:
        curves, scored = {}, {}
        for split, label, scored_split in (("all", "all data", "train"), ("train", "train split", "test")):
            tsv = self.root / f"reports/training/{self.dataset}-{split}/live/plots/metrics/monitor/iou.tsv"
            if tsv.is_file():
                curves[label] = curve = pd.read_csv(tsv, sep="\t")
                key = {"train_data": self.dataset, "model_split": split, "eval_data": self.dataset}
                score = lookup(self.results, method="DRC", split=scored_split, **key)
                if score is not None:
                    scored[label] = (int(curve["step"].iloc[-1]), score[0])
        if not curves:
            raise MissingInput(f"no reports/training/{self.dataset}-*/live/plots/metrics/monitor/iou.tsv")
        progress_csv = self.root / f"reports/progress/{self.dataset}.csv"
        progress = pd.read_csv(progress_csv) if progress_csv.is_file() else None
        paper_iou = (paper.TABLE1["DRC"].get(self.dataset) or (None,))[0]
        figures.training_curves(curves, progress, scored, paper_iou, f"Training on {self.name}", path)
