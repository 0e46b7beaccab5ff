"""How much DRC's scores move with the training seed, under the pipeline's own settings.

    python -m bench.seed_spread --datasets tmdsprites tmdsprites_colour --seeds 1 2

For each dataset and ``train.seed``: trains the all-data model as train@<dataset> does (the pipeline's
prepared data, profile, params.yaml and ``threads``; only the seed differs), then scores it as
evaluate@<dataset> does on the evaluation images (1,000, the slowest set; ``--sets`` picks sets) and as
generalise@<dataset> does on the held-out and robustness sets (images no model trained on). The
pipeline's own model (params.yaml's train.seed) is read from reports/metrics/drc_<dataset>.json and
generalise_<dataset>.json, not trained again; it must have been trained with the same settings but the
seed. The table below the spread is each seed's evaluation score less its robustness score. Writes
bench/results/seed_spread.csv (one row per dataset, set and seed: the scored IoU and the model's own
masks' IoU, and ``settings``, a digest of the model, training and inference settings but the seed), a
figure beside it (.png, .pdf) and a Markdown table of mean and spread (.md), both of the rows scored
under today's settings only. A seed's set already in the
CSV under today's settings is not scored again; one scored under other settings (say, after a change of the
profile's sampler) is scored again, from its kept model if that was trained as today's settings train
(else trained again); a stopped training run resumes from its checkpoint. Run it alone on the machine:
about 10 minutes per seed and dataset on 2 cores, and as many again for the evaluation images.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import pandas as pd
import torch

from drc.atomic import atomic_path, write_text
from drc.config import ReadoutConfig, SamplerConfig, for_unseen, to_dict
from drc.cpu_isa import pinned_params
from drc.data.prepared import Prepared
from drc.errors import exit_cleanly
from drc.params import resolve_inference, resolve_section
from drc.reports import figures
from drc.scoring import evaluate_prepared, evaluation_split
from drc.stagekit import REPORTS, prepared_dir
from drc.trainrun import RESUME_FREE, train_model

RESULTS = Path("bench/results")
SETS = {
    "eval": "evaluation images (Table 1)",
    "heldout": "held out (another seed)",
    "robust": "robustness set (second generator)",
}


@exit_cleanly
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["tmdsprites", "tmdsprites_colour"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2], help="training seeds besides the pipeline's")
    ap.add_argument("--models", type=Path, default=Path("models/seed_spread"), help="where the models are kept")
    ap.add_argument("--out", type=Path, default=RESULTS / "seed_spread", help="CSV / figure / table path stem")
    ap.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS), help="sets to score")
    args = ap.parse_args()
    params = pinned_params()  # as the stages do: the same kernels as train@ and evaluate@
    profile = params["profile"]
    torch.set_num_threads(params.get("threads") or torch.get_num_threads())
    csv = args.out.with_suffix(".csv")
    table = pd.read_csv(csv) if csv.is_file() else pd.DataFrame()
    if len(table) and "settings" not in table:
        table["settings"] = ""  # rows written before settings were recorded: all scored again
    kept = table.dataset.unique().tolist() if len(table) else []
    digests = {d: settings_digest(d, profile, params) for d in dict.fromkeys([*args.datasets, *kept])}
    for dataset in args.datasets:
        settings = digests[dataset]
        table = _merge(table, _pipeline_rows(dataset, profile, params, settings))
        for seed in args.seeds:
            missing = [kind for kind in args.sets if not _scored(table, dataset, kind, seed, settings)]
            if not missing:
                print(f"{dataset}, train.seed {seed}: in {csv} already")
                continue
            table = _merge(table, _seed_rows(dataset, seed, missing, profile, params, args.models, settings))
            _write_table(table, csv)
    _write_table(table, csv)
    current = current_rows(table, digests)
    spread = summarise(current)
    text = _markdown(spread, gaps(current), profile)
    if len(current) < len(table):
        text += f"\n\n{len(table) - len(current)} rows of the CSV, scored under other settings, are not summarised."
    write_text(args.out.with_suffix(".md"), text + "\n")
    figures.seed_spread(current, f"DRC over training seeds (profile {profile})", args.out.with_suffix(".png"))
    print(text)


def _scored(table: pd.DataFrame, dataset: str, kind: str, seed: int, settings: str) -> bool:
    if not len(table):
        return False
    return bool(
        ((table.dataset == dataset) & (table.set == kind) & (table.seed == seed) & (table.settings == settings)).any()
    )


def settings_digest(dataset: str, profile: str, params: dict) -> str:
    """A digest of what a row's score depends on besides ``train.seed``: the model, the training settings
    that change the run, and the test-time sampler (as for unseen images) and read-out."""
    model = to_dict(resolve_section("model", dataset, profile, params))
    if model["background"] == "conv":  # the paper's background (kept out: digests from before the setting stay valid)
        del model["background"], model["bg_waves"]
    train = _run_settings(resolve_section("train", dataset, profile, params))
    unseen, readout = _set_inference("robust", dataset, profile, params)
    own, _ = _set_inference("eval", dataset, profile, params)
    parts = [model, train, to_dict(unseen), to_dict(readout)]
    if own != unseen:  # persistent chains on the evaluation images (kept out otherwise: older digests stay valid)
        parts.append(to_dict(own))
    blob = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _run_settings(train: object) -> dict:
    """The training settings that change the trained model, but the seed (a run resumed to more iterations
    is another model, so ``iterations`` stays)."""
    return {k: v for k, v in to_dict(train).items() if k == "iterations" or (k not in RESUME_FREE and k != "seed")}


def _set_inference(kind: str, dataset: str, profile: str, params: dict) -> tuple[SamplerConfig, ReadoutConfig]:
    """The sampler and read-out a set is scored with: evaluate@<dataset>'s for the evaluation images,
    generalise@<dataset>'s (no persistent chains) for images no model trained on."""
    sampler, readout = resolve_inference(dataset, profile, params)
    return (sampler if kind == "eval" else for_unseen(sampler)), readout


def _seed_rows(
    dataset: str, seed: int, kinds: list[str], profile: str, params: dict, models: Path, settings: str
) -> pd.DataFrame:
    model = resolve_section("model", dataset, profile, params)
    train = resolve_section("train", dataset, profile, params, {"train": {"seed": seed}})
    checkpoint = models / f"{dataset}_seed{seed}.pt"
    print(f"{dataset}, train.seed {seed}: training {checkpoint}", flush=True)
    train_model(prepared_dir(dataset), "all", model, train, checkpoint, profile=profile)
    return pd.DataFrame([_score(dataset, kind, seed, checkpoint, profile, params, settings) for kind in kinds])


def _score(dataset: str, kind: str, seed: int, checkpoint: Path, profile: str, params: dict, settings: str) -> dict:
    """One set's row: the evaluation images as evaluate@<dataset> scores them, the others as generalise@."""
    sampler, readout = _set_inference(kind, dataset, profile, params)
    if kind == "eval":
        data = prepared_dir(dataset)
        split = evaluation_split(Prepared.open(data), "all")
    else:
        data = prepared_dir(f"{dataset}-{kind}")
        split = "test" if "test" in Prepared.open(data).meta["splits"] else "all"
    summary, _, _ = evaluate_prepared(checkpoint, data, split, sampler, readout)
    print(f"{dataset}, train.seed {seed}, {SETS[kind]}: IoU {summary['iou']:.2f}", flush=True)
    return _row(dataset, kind, seed, summary, str(checkpoint), settings)


def _pipeline_rows(dataset: str, profile: str, params: dict, settings: str) -> pd.DataFrame:
    """The pipeline's model's scores (evaluate@ and generalise@<dataset>) when it was trained and scored as
    this benchmark trains and scores (settings that do not change the run, such as checkpoint intervals,
    aside); else none, said in a line."""
    records = {}
    for name, stage in ((f"drc_{dataset}", "evaluate"), (f"generalise_{dataset}", "generalise")):
        path = REPORTS / "metrics" / f"{name}.json"
        if not path.is_file():
            print(f"{path} is missing (dvc repro {stage}@{dataset}): the pipeline's seed is left out")
            return pd.DataFrame()
        records[name] = json.loads(path.read_text())
    scored = {"eval": (records[f"drc_{dataset}"], f"{dataset}/train")}
    scored |= {kind: (records[f"generalise_{dataset}"], f"{dataset}-{kind}/test") for kind in ("heldout", "robust")}
    wanted_train = _run_settings(resolve_section("train", dataset, profile, params))
    wanted_model = to_dict(resolve_section("model", dataset, profile, params))
    rows = []
    for kind, (record, key) in scored.items():
        sampler, readout = _set_inference(kind, dataset, profile, params)
        trained = record["model"]["train"]
        differ = sorted(k for k in wanted_train if trained.get(k) != wanted_train[k])
        differ += ["model"] if record["model"]["model"] != wanted_model else []
        result = record["results"][key]
        differ += [name for name, now in (("sampler", sampler), ("readout", readout)) if result[name] != to_dict(now)]
        if differ:
            print(f"{key} scores a model trained or scored otherwise ({', '.join(differ)}): left out")
            continue
        rows.append(_row(dataset, kind, int(trained["seed"]), result, record["model"]["path"], settings))
    return pd.DataFrame(rows)


def _row(dataset: str, kind: str, seed: int, summary: dict, model: str, settings: str) -> dict:
    unrefined = summary.get("unrefined", summary)
    return {
        "dataset": dataset,
        "set": kind,
        "seed": seed,
        "iou": round(float(summary["iou"]), 2),
        "iou_unrefined": round(float(unrefined["iou"]), 2),
        "images": int(summary["n_images"]),
        "model": model,
        "settings": settings,
    }


def _merge(table: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``rows`` in place of any row of the same dataset, set and seed."""
    if not len(rows):
        return table
    if not len(table):
        return rows.reset_index(drop=True)
    key = ["dataset", "set", "seed"]
    kept = table.merge(rows[key], on=key, how="left", indicator=True)["_merge"] == "left_only"
    return pd.concat([table[kept.to_numpy()], rows], ignore_index=True).sort_values(key, ignore_index=True)


def _write_table(table: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def current_rows(table: pd.DataFrame, digests: dict[str, str]) -> pd.DataFrame:
    """The rows of ``table`` scored under each dataset's settings of today (``digests``: dataset -> its
    ``settings_digest``): a table partly scored again after a change of settings summarises no stale row."""
    return table[table.settings == table.dataset.map(digests)].reset_index(drop=True)


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample standard deviation, min and max over seeds, per dataset and set, for both masks."""
    grouped = table.groupby(["dataset", "set"])
    out = grouped.agg(
        seeds=("seed", "nunique"),
        iou_mean=("iou", "mean"),
        iou_std=("iou", "std"),
        iou_min=("iou", "min"),
        iou_max=("iou", "max"),
        own_mean=("iou_unrefined", "mean"),
        own_std=("iou_unrefined", "std"),
    )
    return out.reset_index()


def gaps(table: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, over the seeds scored on both: the evaluation score less the robustness set's (mean,
    sample standard deviation, max; scored read-out and the model's own masks)."""
    key = ["dataset", "seed"]
    wide = table[table.set == "eval"].merge(table[table.set == "robust"], on=key, suffixes=("_eval", "_robust"))
    wide["gap"] = wide.iou_eval - wide.iou_robust
    wide["own_gap"] = wide.iou_unrefined_eval - wide.iou_unrefined_robust
    out = wide.groupby("dataset").agg(
        seeds=("seed", "nunique"),
        gap_mean=("gap", "mean"),
        gap_std=("gap", "std"),
        gap_max=("gap", "max"),
        own_gap_mean=("own_gap", "mean"),
    )
    return out.reset_index()


def _markdown(spread: pd.DataFrame, gap: pd.DataFrame, profile: str) -> str:
    lines = [
        f"DRC over training seeds, profile `{profile}` (`python -m bench.seed_spread`; per seed:"
        " bench/results/seed_spread.csv). IoU %, mean ± sample standard deviation [min, max].",
        "",
        "| data | set | seeds | DRC | model's own masks |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in spread.itertuples():
        lines.append(
            f"| {r.dataset} | {SETS[r.set]} | {r.seeds} | {r.iou_mean:.1f} ± {r.iou_std:.1f} "
            f"[{r.iou_min:.1f}, {r.iou_max:.1f}] | {r.own_mean:.1f} ± {r.own_std:.1f} |"
        )
    if len(gap):
        lines += [
            "",
            "Evaluation images less robustness set, per seed (IoU points; mean ± sd, largest):",
            "",
            "| data | seeds | DRC | model's own masks |",
            "| --- | --- | --- | --- |",
        ]
        for r in gap.itertuples():
            lines.append(
                f"| {r.dataset} | {r.seeds} | {r.gap_mean:.1f} ± {r.gap_std:.1f} (largest {r.gap_max:.1f}) "
                f"| {r.own_gap_mean:.1f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
