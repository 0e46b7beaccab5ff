"""IoU against training iterations under the paper's profile, for as long as a GPU is at hand.

    python -m bench.paper_curve [--minutes 4] [--every 25] [--score 48] [--set train.perf=max] \
        [--datasets tmdsprites tmdsprites_colour] [--profile paper] [--out bench/results/paper_curve]

The paper trains 10,000 iterations at batch 48 (128 px, 40 posterior and 60 prior Langevin steps each),
hours on a GPU and out of reach of a CPU. This trains the profile's model on each TM-dSprites variant of
params.yaml, on the training images prepare@<dataset> draws under that profile (20,000 for the paper),
for ``--minutes`` each (or until train.iterations), and every ``--every`` iterations scores the masks its
persistent posterior chains explain (pi_f > 0.5) on the first 1,000 images, the evaluation images: the
curve the training monitor logs. With ``--score N`` each variant's last model is also scored as
evaluate@<dataset> scores: its first N evaluation images from N(0, I) with the profile's sampler and
read-out (5,000 Langevin steps for the paper; ``--set sampler.steps=...`` for fewer).

Writes <out>.csv as it goes (dataset, source "chains" or "scored", iteration, minutes, IoU, Dice, the
foreground fraction and reconstruction error of the last training batch), so a run stopped at a time limit
keeps every row it measured; <out>.json (per dataset: the resolved settings, training images, iterations,
wall seconds per iteration with the chains' scoring, perf mode; the code and compute that ran it) and at the
end <out>.png / .pdf, the curves against the paper's TM-dSprites IoU. The device is train.device (auto: CUDA
when torch sees a GPU). Needs torch, NumPy, pandas, matplotlib, OpenCV, PyYAML and tqdm (not DVC): on a machine
with torch for its GPU, ``PYTHONPATH=. python3 -m bench.paper_curve`` from the repository root runs it
without installing.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from bench.inputs import tmdsprites_with_originals
from bench.quality_run import monitored, scored_from_noise
from drc.atomic import write_json, write_text
from drc.config import Settings, dataset_kind, parse_set
from drc.cpu_isa import pinned_params
from drc.errors import DRCError, exit_cleanly
from drc.params import data_values, resolve_settings, tmdsprites_sets
from drc.reports import figures, paper
from drc.runinfo import code_version, compute_info
from drc.training import Trainer

COLUMNS = ["dataset", "source", "iteration", "minutes", "iou", "dice", "fg_fraction", "recon"]


@exit_cleanly
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=None, help="TM-dSprites variants (default: params.yaml's)")
    ap.add_argument("--profile", default="paper", help="profile (drc/profiles/)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="SECTION.KEY=VALUE, over the profile")
    ap.add_argument("--minutes", type=float, default=4.0, help="training time per dataset")
    ap.add_argument("--every", type=int, default=25, help="score the chains every this many iterations")
    ap.add_argument("--score", type=int, default=0, help="score the last model on this many evaluation images")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--out", type=Path, default=Path("bench/results/paper_curve"), help="CSV / JSON / figure stem")
    args = ap.parse_args()
    if args.every < 1 or args.score < 0 or not args.minutes > 0:
        raise DRCError("--every takes a whole number >= 1, --score one >= 0 and --minutes a time > 0")
    params = pinned_params()  # the stages' kernels (params.yaml's cpu_isa), before any runs
    if args.threads:
        torch.set_num_threads(args.threads)
    datasets = args.datasets or [d for d in params.get("datasets") or [] if dataset_kind(d) == "tmdsprites"]
    if not datasets:
        raise DRCError("params.yaml's datasets hold no TM-dSprites variant; name one with --datasets")
    for dataset in datasets:
        if dataset_kind(dataset) != "tmdsprites":
            raise DRCError(
                f"{dataset} is not a TM-dSprites variant (tmdsprites, tmdsprites_<name>), whose images this bench draws"
            )
    overrides = parse_set(args.overrides)
    overrides["train"] = {"log_every": 10**9, **overrides.get("train", {})}  # the curve is this run's log
    points: list[dict[str, Any]] = []
    record: dict[str, Any] = {"command": vars(args) | {"out": str(args.out)}, **code_version(), **compute_info()}
    for dataset in datasets:
        settings = resolve_settings(dataset, args.profile, params, overrides)
        x, masks, originals = training_images(dataset, args.profile, params, settings)
        rows = np.arange(min(len(x), 1000))
        trainer = Trainer(settings.model, settings.train, x, profile=args.profile)
        print(f"{dataset}: {len(x)} images, {trainer.device}, perf {trainer.perf_mode}", flush=True)
        record[dataset] = {
            "settings": settings.to_dict(),
            "images": len(x),
            "perf": trainer.perf_mode,
            "device": str(trainer.device),
        }
        write_json(args.out.with_suffix(".json"), record)  # before training: a run cut short says what it ran
        start = time.time()
        for point in monitored(trainer, rows, masks[rows], args.minutes, args.every):
            print(json.dumps({"dataset": dataset, **point}), flush=True)
            points.append(row(dataset, "chains", point))
            write_text(args.out.with_suffix(".csv"), curve_table(points).to_csv(index=False))
        seconds = time.time() - start
        record[dataset] |= {
            "iterations": trainer.iteration,
            "seconds_per_iteration": seconds / max(trainer.iteration, 1),
        }
        if args.score:
            n = min(args.score, len(rows))
            scores = scored_from_noise(trainer, settings, x[:n], masks[:n], originals[:n])
            print(json.dumps({"dataset": dataset, "scored": n, **scores}), flush=True)
            point = {**scores, "it": trainer.iteration, "min": round(seconds / 60, 2)}  # minutes of training
            points.append(row(dataset, "scored", point))
            write_text(args.out.with_suffix(".csv"), curve_table(points).to_csv(index=False))
            record[dataset] |= {"scored_images": n, "scoring_minutes": scores["min"], "sampler": scores["sampler"]}
        write_json(args.out.with_suffix(".json"), record)
    draw(curve_table(points), args.profile, args.score, args.out.with_suffix(".png"))


def training_images(
    dataset: str, profile: str, params: dict[str, Any], settings: Settings
) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """The images train@<dataset> trains on under ``profile`` (prepare@ generates them: data.<dataset> of
    params.yaml over the profile's data settings; the first train.max_images of them, which are the same
    however many the generator draws), their 128 px ground truth and originals."""
    cfg = tmdsprites_sets(data_values(dataset, profile, params), dataset)[""]
    n = min(settings.train.max_images or cfg.n_images, cfg.n_images)
    return tmdsprites_with_originals(
        replace(cfg, n_images=n, eval_size=min(cfg.eval_size, n)), settings.model.resolution
    )


def curve_table(points: list[dict[str, Any]]) -> pd.DataFrame:
    """The CSV's rows so far (``row``'s), in its columns."""
    return pd.DataFrame(points, columns=COLUMNS)


def row(dataset: str, source: str, point: dict[str, Any]) -> dict[str, Any]:
    """One CSV row from ``point`` (``monitored``'s keys, or a score's with its iteration and minutes)."""
    return {
        "dataset": dataset,
        "source": source,
        "iteration": point["it"],
        "minutes": point["min"],
        "iou": point["iou"],
        "dice": point["dice"],
        "fg_fraction": point.get("fg"),
        "recon": point.get("recon"),
    }


def draw(table: pd.DataFrame, profile: str, scored_images: int, path: Path) -> None:
    """Each dataset's chain curve, its scored model as a marker, and the paper's TM-dSprites IoU."""
    chains = table[table.source == "chains"]
    curves = {d: c.rename(columns={"iteration": "step"}) for d, c in chains.groupby("dataset", sort=False)}
    scored = {r.dataset: (int(r.iteration), float(r.iou)) for r in table[table.source == "scored"].itertuples()}
    title = f"Profile {profile}: IoU against training iterations"
    paper_iou = paper.TABLE1["DRC"]["tmdsprites"][0]
    figures.training_curves(curves, None, scored, paper_iou, title, path, f"first {scored_images} evaluation images")


if __name__ == "__main__":
    main()
