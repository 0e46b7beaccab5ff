"""The report layer on synthetic pipeline outputs: results.csv, Tables 1-4, ablations and figures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from drc.config import TMDSpritesConfig
from drc.data.prepared import Prepared
from drc.data.tmdsprites import prepare_tmdsprites
from drc.errors import DRCError
from drc.provenance import PAPER_READOUT
from drc.reports import paper
from drc.reports.ablations import SUMMARY, ablation_label, ablation_rows_from_exp_show
from drc.reports.build import ABLATIONS, FIGURES, FIGURES_PDF, RESULTS, TABLES, build_reports, write_ablations
from drc.reports.results import COLUMNS, REFINED

EXP_SHOW = Path(__file__).parent / "data" / "exp_show.json"  # from `dvc exp show --json` (DVC 3.67)
FIGURE_KINDS = ["extractions", "worst", "iou_hist", "grabcut_vs_drc", "grabcut_margin", "training", "iou_by_period"]
DEFAULT_KNOBS = {"pseudo_label": 0.1, "tv_norm": 0.01, "ortho_reg": None, "persistent_chains": True}


def write_params(root: Path, **train: object) -> None:
    params = {
        "datasets": ["tmdsprites"],
        "model": {"pixel_reassign": True},
        "train": {**DEFAULT_KNOBS, **train},
        "grabcut": {"margin": 0.125},
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params))


def score(iou: float, n: int = 20, **extra: object) -> dict:
    return {"iou": iou, "dice": iou + 10.04, "n_images": n, **extra}


def write_json(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def write_pipeline_outputs(root: Path, n: int = 20, res: int = 16) -> None:
    """What the prepare/evaluate/grabcut/train stages would leave for TM-dSprites (and a Birds split model)."""
    rng = np.random.default_rng(0)
    cfg = TMDSpritesConfig(n_images=n, eval_size=n, resolution=64)
    prepare_tmdsprites(cfg, root / "data/prepared/tmdsprites")
    masks = Prepared.open(root / "data/prepared/tmdsprites").masks
    drc_run = {"resolution": res, "split": "eval", "sampler": {"steps": 3}, "readout": {}, "data": {}}
    model = {"model": {"profile": "tiny", "train": {}}}

    def drc(train_data: str, model_split: str, results: dict) -> dict:
        return {"method": "DRC", "train_data": train_data, "model_split": model_split, "results": results, **model}

    write_json(
        root / "reports/metrics/drc_tmdsprites.json",
        drc("tmdsprites", "all", {"tmdsprites/train": score(45.678, **drc_run, refined={"iou": 80.0, "dice": 90.0})}),
    )
    paper_readout = {**drc("tmdsprites", "all", {"tmdsprites/train": score(35.0, **drc_run)}), "method": PAPER_READOUT}
    write_json(root / "reports/metrics/drc_paper_readout_tmdsprites.json", paper_readout)
    write_json(
        root / "reports/metrics/generalise_tmdsprites.json",
        drc(
            "tmdsprites",
            "all",
            {"tmdsprites-heldout/test": score(40.0, 10, **drc_run, refined={"iou": 75.0, "dice": 85.0})},
        ),
    )
    write_json(
        root / "reports/metrics/grabcut_tmdsprites.json",
        {
            "method": "GrabCut",
            "grabcut": {"margin": 0.125},
            "results": {"tmdsprites/train": score(61.26, split="eval")},
        },
    )
    write_json(
        root / "reports/metrics/colour_tmdsprites.json",
        {"method": "Colour", "results": {"tmdsprites/train": score(100.0, split="eval")}},
    )
    write_json(
        root / "reports/metrics/colour_grabcut_heldout_tmdsprites.json",
        {"method": "Colour+GrabCut", "results": {"tmdsprites-heldout/test": score(70.0, 10, split="eval")}},
    )
    write_json(
        root / "reports/metrics/grabcut_heldout_tmdsprites.json",
        {"method": "GrabCut", "results": {"tmdsprites-heldout/test": score(58.0, 10, split="eval")}},
    )
    write_json(
        root / "reports/metrics/drc_split_birds.json",
        drc("birds", "train", {"birds/train": score(50.0), "birds/test": score(49.0), "dogs/test": score(33.3)}),
    )

    iou = rng.uniform(0, 1, n)
    for name in ("drc_tmdsprites", "grabcut_tmdsprites", "colour_tmdsprites"):
        path = root / f"reports/per_image/{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"id": [f"{i:05d}" for i in range(n)], "iou": 100 * rng.uniform(0, 1, n)}).to_csv(
            path, index=False
        )
    (root / "data/eval").mkdir(parents=True)
    np.savez_compressed(
        root / "data/eval/drc_tmdsprites.npz",
        positions=np.arange(n),
        rows=np.arange(n),
        iou=iou,
        soft_mask=rng.uniform(0, 1, (n, res, res)).astype(np.float32),
        **{k: rng.uniform(-1, 1, (n, 3, res, res)).astype(np.float32) for k in ("composite", "fg", "bg")},
    )
    keep = np.arange(16)
    np.savez_compressed(
        root / "data/eval/grabcut_tmdsprites.npz",
        positions=keep,
        rows=keep,
        mask=np.asarray(masks[keep]),
        iou=rng.uniform(0, 1, 16),
    )
    (root / "reports/grabcut").mkdir(parents=True)
    pd.DataFrame(
        {"margin": [0.0625, 0.125, 0.25], "iou": [50.0, 60.0, 55.0], "dice": [60.0, 70.0, 65.0], "n_images": [20] * 3}
    ).to_csv(root / "reports/grabcut/tmdsprites_margins.csv", index=False)
    tsv = root / "reports/training/tmdsprites-all/live/plots/metrics/monitor/iou.tsv"
    tsv.parent.mkdir(parents=True)
    pd.DataFrame({"timestamp": [1, 2, 3], "step": [0, 6, 12], "iou": [5.0, 9.0, 12.0]}).to_csv(
        tsv, sep="\t", index=False
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("project")
    write_params(root)
    write_pipeline_outputs(root)
    return root, build_reports(root)


def test_results_csv_has_one_row_per_score(built: tuple[Path, list[str]]) -> None:
    root, _ = built
    results = pd.read_csv(root / RESULTS)
    assert list(results.columns) == COLUMNS
    assert len(results) == 12
    refined = results[results.method == REFINED]  # the model's masks redrawn by GrabCut (readout.refine)
    assert refined[["eval_data", "iou", "n_images"]].values.tolist() == [
        ["tmdsprites", 80.0, 20],
        ["tmdsprites-heldout", 75.0, 10],
    ]
    paper_readout = results[results.method == PAPER_READOUT]  # the same model, read out as the paper does
    assert paper_readout[["train_data", "model_split", "eval_data", "iou"]].values.tolist() == [
        ["tmdsprites", "all", "tmdsprites", 35.0]
    ]
    drc = results[(results.method == "DRC") & (results.model_split == "all") & (results.eval_data == "tmdsprites")]
    assert drc[["train_data", "split", "n_images"]].values.tolist() == [["tmdsprites", "train", 20]]
    assert drc.iou.item() == pytest.approx(45.678)
    grabcut = results[results.method == "GrabCut"]
    assert grabcut[["train_data", "model_split", "eval_data", "split"]].values.tolist() == [
        ["-", "-", "tmdsprites", "train"],
        ["-", "-", "tmdsprites-heldout", "test"],
    ]
    assert results[results.method == "Colour"].iou.tolist() == [100.0]
    redrawn = results[results.method == "Colour+GrabCut"]  # the colour masks redrawn by GrabCut
    assert redrawn[["train_data", "eval_data", "split", "iou"]].values.tolist() == [
        ["-", "tmdsprites-heldout", "test", 70.0]
    ]
    heldout = results[(results.eval_data == "tmdsprites-heldout") & (results.method == "DRC")]
    assert heldout[["train_data", "split", "n_images"]].values.tolist() == [["tmdsprites", "test", 10]]
    assert set(results.profile) == {"tiny", "-"}  # GrabCut has no profile
    assert drc.source.item() == "reports/metrics/drc_tmdsprites.json"  # the file that records its settings


def test_summary_is_the_headline_scores(built: tuple[Path, list[str]]) -> None:
    root, _ = built
    summary = json.loads((root / SUMMARY).read_text())
    assert summary["tmdsprites"]["drc"] == {"iou": 45.678, "dice": 55.718}
    assert summary["tmdsprites"]["grabcut"]["iou"] == 61.26
    assert summary["tmdsprites"]["drc+grabcut"]["iou"] == 80.0
    assert summary["tmdsprites"]["drc-paper-readout"]["iou"] == 35.0
    assert summary["tmdsprites-heldout"]["drc_test"]["iou"] == 40.0
    assert summary["dogs"]["drc_split_test"]["iou"] == 33.3


def test_table1_sets_paper_rows_beside_this_run(built: tuple[Path, list[str]]) -> None:
    root, _ = built
    text = (root / TABLES / "table1.md").read_text()
    for method in paper.TABLE1:
        assert f"| {method} |" in text
    assert "| DRC | 56.4 / 70.9 | 71.7 / 83.2 | 72.4 / 83.7 | 84.7 / 91.5 | 78.8 / 87.5 |" in text
    assert "| GrabCut (this run) | not run | not run | not run | not run | 61.3 / 71.3 |" in text
    run = "| not run | not run | not run | not run |"
    assert f"| DRC (this run, profile tiny), the paper's read-out {run} 35.0 / 45.0 |" in text
    assert f"| DRC (this run, profile tiny), the profile's read-out {run} 45.7 / 55.7 |" in text
    assert f"| Colour threshold (this run) {run} 100.0 / 110.0 |" in text
    assert f"| DRC, redrawn by GrabCut (this run; post-processing) {run} 80.0 / 90.0 |" in text
    assert f"| Colour threshold, redrawn by GrabCut (this run; post-processing) {run} not run |" in text
    lines = [line.split(" |")[0] for line in text.splitlines() if line.startswith("| ")]
    ours = [line for line in lines if "this run" in line]
    assert ours[0].endswith("the paper's read-out") and ours[-2:] == [
        "| DRC, redrawn by GrabCut (this run; post-processing)",
        "| Colour threshold, redrawn by GrabCut (this run; post-processing)",
    ]  # post-processing apart, last
    assert (
        "Images never trained on: DRC trained on TM-dSprites scores 40.0 / 50.0 (75.0 / 85.0 redrawn by GrabCut) "
        "on the 10 images of tmdsprites-heldout (GrabCut 58.0 / 68.0, colour threshold not run, colour threshold "
        "redrawn by GrabCut 70.0 / 80.0)."
    ) in text
    table = pd.read_csv(root / TABLES / "table1.csv")
    assert list(table.columns) == ["method", *paper.DATASETS.values()]


def test_tables_3_and_4_fill_cells_that_ran(built: tuple[Path, list[str]]) -> None:
    root, _ = built
    table3 = (root / TABLES / "table3.md").read_text()
    assert "| DRC | IoU | 54.8 \\| 54.6 | 71.6 \\| 72.3 | 71.9 \\| 70.8 |" in table3
    assert "| DRC (this run) | IoU | 50.0 \\| 49.0 | not run | not run |" in table3
    assert "| DRC (this run) | Dice | 60.0 \\| 59.0 | not run | not run |" in table3
    table4 = (root / TABLES / "table4.md").read_text()
    assert "| Dogs | Birds | 44.0 / 60.3 | 53.6 / 69.1 | 33.3 / 43.3 |" in table4
    assert "| Birds | Dogs | 22.2 / 35.3 | 41.3 / 57.4 | not run |" in table4


def test_table2_has_the_workspace_row_and_how_to_add_ablations(built: tuple[Path, list[str]]) -> None:
    root, _ = built
    text = (root / TABLES / "table2.md").read_text()
    assert "| full | 56.4 / 70.9 | 45.7 / 55.7 | +0.0 | TM-dSprites | tiny | workspace |" in text
    assert "The paper's column is Birds" in text
    assert "| w/o pseudo label | 48.7 / 64.2 | not run |" in text
    assert "dvc exp run -S train.pseudo_label=0" in text and "drc report --ablations" in text


def test_every_figure_is_a_png(built: tuple[Path, list[str]]) -> None:
    root, skipped = built
    assert skipped == []
    for kind in FIGURE_KINDS:
        path = root / FIGURES / f"{kind}_tmdsprites.png"
        with Image.open(path) as image:
            assert image.format == "PNG"
            image.verify()
        pdf = (root / FIGURES_PDF / f"{kind}_tmdsprites.pdf").read_bytes()
        assert pdf.startswith(b"%PDF")
        assert b"/CreationDate" not in pdf  # drawn again from the same numbers, the same file
    assert not list((root / FIGURES).glob("*.pdf"))  # dvc plots show renders reports/figures: PNG only


def test_missing_inputs_give_not_run_tables_and_no_figures(tmp_path: Path) -> None:
    """Nothing has run yet: the tables say so (no profile is known) and no figure is drawn."""
    write_params(tmp_path)
    skipped = build_reports(tmp_path)
    assert len(skipped) == len(FIGURE_KINDS) + 1  # and Table 1's bars
    assert list((tmp_path / FIGURES).iterdir()) == []
    assert pd.read_csv(tmp_path / RESULTS).empty
    table1 = (tmp_path / TABLES / "table1.md").read_text()
    assert (
        "| DRC (this run, profile -), the profile's read-out | not run | not run | not run | not run | not run |"
        in (table1)
    )
    assert "| DRC (this run) | IoU | not run | not run | not run |" in (tmp_path / TABLES / "table3.md").read_text()
    assert (
        "| full | 56.4 / 70.9 | not run |  | TM-dSprites | - | workspace |"
        in (tmp_path / TABLES / "table2.md").read_text()
    )


def test_ablation_rows_from_real_exp_show_output() -> None:
    rows = ablation_rows_from_exp_show(EXP_SHOW.read_text())
    got = {row.source: (row.label, row.score) for row in rows}
    assert got == {
        "exp sarky-lats": ("train.pseudo_label=0.5", (60.0, 72.5)),
        "exp dazed-song": ("w/o pseudo label, w/o TV-norm", (48.0, 60.5)),
        "exp jetty-hack": ("short-run chain", (54.0, 66.5)),
        "exp later-zhos": ("w/o pixel re-assignment", (30.0, 42.5)),
        "exp about-dogs": ("w/o pseudo label", (52.0, 64.5)),
        "exp ablate-ortho (queued)": ("w/o ortho reg", None),
    }
    assert {(row.dataset, row.profile) for row in rows} == {("tmdsprites", "cpu")}


@pytest.mark.parametrize(
    ("train", "label"),
    [
        ({}, "full"),
        ({"ortho_reg": 1.0}, "full"),  # the paper's per-dataset value
        ({"pseudo_label": 0.0}, "w/o pseudo label"),
        ({"persistent_chains": False, "ortho_reg": 0}, "w/o ortho reg, short-run chain"),
        ({"tv_norm": 0.02}, "train.tv_norm=0.02"),
    ],
)
def test_ablation_label(train: dict, label: str) -> None:
    params = {"model": {"pixel_reassign": True}, "train": {**DEFAULT_KNOBS, **train}}
    assert ablation_label(params, "tmdsprites") == label
    assert ablation_label({"model": {"pixel_reassign": False}}, "tmdsprites") == "w/o pixel re-assignment"
    assert ablation_label({"train": {"ortho_reg": 0.1}}, "birds") == "full"  # Birds' paper weight


def test_write_ablations_adds_experiment_rows(tmp_path: Path) -> None:
    write_params(tmp_path, pseudo_label=0)
    text = write_ablations(tmp_path, EXP_SHOW.read_text()).read_text()
    assert (tmp_path / ABLATIONS).with_suffix(".csv").is_file()
    assert "| w/o pseudo label | 48.7 / 64.2 | not run |  | TM-dSprites | - | workspace |" in text  # nothing ran
    assert "| w/o pseudo label | 48.7 / 64.2 | 52.0 / 64.5 |  | TM-dSprites | cpu | exp about-dogs |" in text
    assert "| amortized inference | - | not run |" in text
    assert "| w/o pseudo label, w/o TV-norm | - | 48.0 / 60.5 |" in text


def test_a_broken_metrics_file_names_itself(tmp_path: Path) -> None:
    write_params(tmp_path)
    write_json(tmp_path / "reports/metrics/drc_tmdsprites.json", {"train_data": "tmdsprites"})
    with pytest.raises(DRCError, match="drc_tmdsprites.json is not a scores file"):
        build_reports(tmp_path)


def test_a_figure_whose_data_is_absent_keeps_the_file_that_is_there(
    built: tuple[Path, list[str]], tmp_path: Path
) -> None:
    """A fresh clone holds the committed figures but not the DVC-cached data they were drawn from."""
    root, _ = built
    clone = tmp_path / "clone"
    for part in (FIGURES, FIGURES_PDF, Path("reports/metrics")):
        shutil.copytree(root / part, clone / part)
    write_params(clone)
    (clone / FIGURES / "notes.txt").write_text("the user's")
    before = {p.relative_to(clone): p.read_bytes() for p in (clone / "reports").rglob("*") if p.is_file()}
    lines = build_reports(clone)
    extractions = "extractions_tmdsprites.png kept as it was (not redrawn: no data/eval/drc_tmdsprites.npz)"
    assert extractions in lines and all("kept as it was" in line for line in lines if "tmdsprites" in line)
    figures = [p for p in before if p.parts[1] in ("figures", "figures_pdf")]
    assert len(figures) == 2 * len(FIGURE_KINDS) + 2 + 1  # PNG and PDF each, Table 1's bars, the user's notes
    assert all((clone / p).read_bytes() == before[p] for p in figures if "table1_bars" not in p.name)


def test_table1_gives_rendered_clevr6_a_column_of_its_own_beside_the_papers_clevr6() -> None:
    from drc.reports.tables import table1

    row = {"train_data": "clevr6_rendered", "model_split": "all", "eval_data": "clevr6_rendered", "split": "train"}
    results = pd.DataFrame(
        [
            {**row, "method": "DRC", "iou": 70.0, "dice": 80.0, "n_images": 8, "profile": "tiny", "source": "x"},
            {**row, "method": "GrabCut", "iou": 60.0, "dice": 70.0, "n_images": 8, "profile": "tiny", "source": "y"},
        ],
        columns=COLUMNS,
    )
    frame = table1(results).frame.set_index("method")
    assert list(frame.columns[-2:]) == ["TM-dSprites", "CLEVR6, rendered here"]
    assert frame.loc["DRC (this run, profile tiny), the profile's read-out", "CLEVR6, rendered here"] == "70.0 / 80.0"
    assert (
        frame.loc["DRC (this run, profile tiny), the profile's read-out", "CLEVR6"] == "not run"
    )  # DeepMind's files: not these scenes
    assert frame.loc["GrabCut (this run)", "CLEVR6, rendered here"] == "60.0 / 70.0"
    assert frame.loc["DRC", "CLEVR6, rendered here"] == "-"  # the paper has no such column


def test_training_figure_draws_drc_in_its_own_colour_and_no_other_methods(monkeypatch, tmp_path: Path) -> None:
    """The scored marker is DRC's own masks (its colour in every figure); the persistent chains are training's
    monitor, drawn in a colour no method has."""
    from matplotlib.colors import to_hex

    from drc.reports import figures

    drawn = []
    monkeypatch.setattr(figures, "_save", lambda fig, path: drawn.append(fig))
    curve = pd.DataFrame({"step": [100, 200], "iou": [40.0, 50.0]})
    progress = pd.DataFrame({"iteration": [0, 200], "iou": [10.0, 45.0], "iou_refined": [50.0, 80.0], "images": 64})
    figures.training_curves({"all data": curve}, progress, {"all data": (200, 46.5)}, 78.8, "t", tmp_path / "t.png")
    lines = {line.get_label(): to_hex(line.get_color()) for line in drawn[0].axes[0].get_lines()}
    own, refined = (to_hex(figures.METHOD_COLOURS[m]) for m in ("DRC, profile's read-out", "DRC, redrawn by GrabCut"))
    scored = next(label for label in lines if "scored" in label)
    chains = next(label for label in lines if "persistent chains" in label)
    assert lines[scored] == own and "(46.5)" in scored
    assert lines["DRC's masks, first 64 images"] == own
    assert lines["redrawn by GrabCut (post-processing), first 64 images"] == refined
    assert lines[chains] not in {to_hex(c) for c in figures.METHOD_COLOURS.values()}
