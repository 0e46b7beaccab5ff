"""How much a TM-dSprites set's scores depend on its generator seed: DRC beside the baselines, seed by seed.

    python -m bench.set_spread models/tmdsprites_colour/all/model.pt --data texture_colour=colour \
        --seeds 11 12 13 14 15 16 17 18 [--robust] [--n 200] [--threads 2] [--csv bench/results/set_spread.csv]

A generator seed draws its own bank of gratings (20, the paper's bank size) and its images over that bank,
so a set of 200 images holds 20 gratings, and its scores depend on which 20 its seed drew. For each seed:
the model's masks under its profile's sampler and read-out (chains from N(0, I), as the pipeline scores
images it never saw; ``DRC``), the same masks before GrabCut redraws their edges (``DRC-unrefined``),
GrabCut from its rectangle (the pipeline's default margin), the colour threshold and the colour threshold's
masks redrawn by GrabCut. Torch's kernels are pinned to params.yaml's ``cpu_isa`` as the stages pin them, so
a seed of the pipeline's is scored as the pipeline scored it. Prints one line per seed, then each method's
mean, sample sd and range over the seeds, and DRC less each baseline; with --csv appends one row per seed
there and writes the spread of every checkpoint and generator in that file beside it (.md). The seeds may
include the pipeline's held-out, robustness and validation seeds: this measures, it chooses nothing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench.infer_sweep import append_row, check_columns
from bench.inputs import add_data_options, generator_config, tmdsprites_with_originals
from drc.atomic import write_text
from drc.baselines.registry import BASELINES
from drc.checkpoint import load_model, train_config_of
from drc.config import GrabCutConfig, for_unseen
from drc.cpu_isa import pinned_params
from drc.errors import exit_cleanly
from drc.fullres import MaskReadout
from drc.inference import extract
from drc.metrics import per_image_scores, scores_at_target_size
from drc.reports.tables import markdown_table
from drc.scoring import inference_settings

METHODS = ("DRC", "DRC-unrefined", *BASELINES)
COLUMNS = ["checkpoint", "generator", "data", "seed", "images", *METHODS, "seconds"]  # of a --csv row


def baseline_scores(originals: np.ndarray, masks: np.ndarray, cfg: GrabCutConfig) -> dict[str, float]:
    """Mean IoU (%) of every baseline on uint8 N x H x W x 3 images against their bool masks."""
    found = {method: baseline.masks(originals, cfg, False)[0] for method, baseline in BASELINES.items()}
    return {method: 100 * float(per_image_scores(m, masks)[0].mean()) for method, m in found.items()}


def spread(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample sd, smallest and largest of each method's score over the seeds (rows of ``frame``), and
    of DRC less each baseline."""
    columns = {m: frame[m] for m in METHODS if m in frame}
    for baseline in BASELINES:
        if baseline in frame:
            columns[f"DRC less {baseline}"] = frame["DRC"] - frame[baseline]
    table = pd.DataFrame(columns)
    return pd.DataFrame({"mean": table.mean(), "sd": table.std(ddof=1), "min": table.min(), "max": table.max()})


def summary(rows: pd.DataFrame) -> str:
    """Markdown: each checkpoint, data and generator among ``rows`` (a CSV's), seed by seed and their spread."""
    parts = [
        "# DRC and the baselines over generator seeds",
        "",
        "Written by `python -m bench.set_spread ... --csv` from the CSV beside this file (commands in README.md);",
        "IoU % at the 128 px ground truth. Each seed draws its own bank of 20 gratings. Where a seed is one of the",
        "pipeline's (params.yaml: data.<ds>.heldout.seed, robust.seed), its images are the pipeline's held-out or",
        "robustness images, scored as the pipeline scores them.",
    ]
    for (checkpoint, data, generator), group in rows.groupby(["checkpoint", "data", "generator"], sort=False):
        group = group.reset_index(drop=True)
        per_seed = group[["seed", *METHODS]].astype(object)
        per_seed[list(METHODS)] = group[list(METHODS)].map(lambda v: f"{v:.1f}")
        table = spread(group).map(lambda v: f"{v:.1f}").reset_index(names="IoU")
        heading = f"## `{checkpoint}`, {data}, {generator} generator ({group.images.iloc[0]} images a seed)"
        parts += ["", heading, "", markdown_table(per_seed), "", markdown_table(table)]
    return "\n".join(parts) + "\n"


@exit_cleanly
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    add_data_options(ap, seed=2, robust=True, many=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--csv", type=Path, help="append one row per seed to this CSV file")
    args = ap.parse_args()
    if args.csv:
        check_columns(args.csv, COLUMNS)
    pinned_params()  # before any kernel runs: the chains are chaotic, so other kernels' rounding moves the score
    torch.set_num_threads(args.threads)
    model, ckpt = load_model(args.checkpoint)
    train = train_config_of(ckpt)
    sampler, readout = inference_settings(ckpt)
    sampler = for_unseen(sampler)
    how = MaskReadout.of(readout, train.sigma)
    generator, data = ("second" if args.robust else "first"), " ".join(args.data) or "defaults"
    print(f"{args.checkpoint}: {args.n} images per seed of the {generator} generator ({data})")
    rows = []
    for seed in args.seeds:
        t = time.perf_counter()
        x, masks, originals = tmdsprites_with_originals(
            generator_config(args.n, seed, args.data, args.robust), model.config.resolution
        )
        out = extract(model, x, sampler, readout, train.sigma, train.tv_norm, progress=False)
        renderings = how.renderings(out.fg, out.bg)
        scored = {
            "DRC": scores_at_target_size(out.soft_mask, masks, originals, how, renderings)[0],
            "DRC-unrefined": scores_at_target_size(out.soft_mask, masks, originals, how.unrefined(), renderings)[0],
        }
        scores = {m: 100 * float(iou.mean()) for m, iou in scored.items()}
        scores |= baseline_scores(originals, masks, GrabCutConfig(workers=1))  # the pipeline's default margin
        row = {
            "checkpoint": args.checkpoint,
            "generator": generator,
            "data": data,
            "seed": seed,
            "images": args.n,
            **{m: round(scores[m], 2) for m in METHODS},
            "seconds": round(time.perf_counter() - t, 1),
        }
        rows.append(row)
        print(f"seed {seed}: " + ", ".join(f"{m} {scores[m]:.1f}" for m in METHODS) + f" ({row['seconds']:.0f} s)")
        if args.csv:
            append_row(args.csv, row)
    print(f"over {len(rows)} seeds (IoU %):")
    print(spread(pd.DataFrame(rows)).round(1).to_string())
    if args.csv:
        write_text(args.csv.with_suffix(".md"), summary(pd.read_csv(args.csv)))


if __name__ == "__main__":
    main()
