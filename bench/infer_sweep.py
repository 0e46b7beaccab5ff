"""IoU of one checkpoint under several test-time samplers, on images it never saw (a validation seed).

    python -m bench.infer_sweep CHECKPOINT --seed 12 --data texture_colour=colour \
        --plans noise:3x80x20 encoder:3x40x10 encoder:3x20x10 [--set readout.threshold=0.7] [--refine]

A plan is START:RxSxT: R restarts from START (noise or encoder) of S noisy steps and T settling steps
each; everything else is the model's profile's sampler and read-out, changed by --set. Prints one line
per plan: IoU / Dice at the 128 px ground truth (the pipeline's protocol), steps per image, seconds;
with --refine also the IoU after `drc extract --refine grabcut` (the mask redrawn by GrabCut at 128 px);
masks are decided per pixel at 128 px under the profile's readout.full_resolution (``--set`` to change it);
``--vary KEY=V1,V2`` scores GrabCut's edges at several values of a read-out key GrabCut alone reads
(seed_threshold, grabcut_band; repeated, every combination) off one run of the chains (one line and row
each); with --csv PATH also appends one row per plan (and combination) there (what
`python -m bench.budget_figure` draws).
Settings chosen here are chosen on the validation seed (grey 2, coloured 12; with --robust, images of the
second generator, grey 6, coloured 16), never on the pipeline's evaluation, held-out or robustness images.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from bench.inputs import add_data_options, generator_config, tmdsprites_with_originals
from drc.checkpoint import load_model, train_config_of
from drc.config import ReadoutConfig, for_unseen, parse_set
from drc.cpu_isa import pinned_params
from drc.errors import DRCError, exit_cleanly
from drc.fullres import MaskReadout, Renderings
from drc.inference import extract
from drc.metrics import scores_at_target_size
from drc.scoring import inference_settings

GRABCUT_KEYS = ("seed_threshold", "grabcut_band")  # read-out keys read after the chains, by GrabCut alone


def parse_plan(text: str) -> tuple[str, int, int, int]:
    start, _, shape = text.partition(":")
    try:
        restarts, steps, settle = (int(v) for v in shape.split("x"))
    except ValueError:
        raise DRCError(f"a plan is START:RxSxT, e.g. encoder:3x40x10; got {text!r}") from None
    if start not in ("noise", "encoder"):
        raise DRCError(f"a plan starts from noise or encoder, got {start!r}")
    return start, restarts, steps, settle


@exit_cleanly
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    add_data_options(ap, seed=2, robust=True)
    ap.add_argument("--plans", nargs="+", default=["noise:3x80x20"], help="START:RxSxT")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="SECTION.KEY=VALUE")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--refine", action="store_true", help="also score the masks refined by GrabCut at 128 px")
    ap.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help=f"with --refine: GrabCut's edges at each value of readout.KEY ({', '.join(GRABCUT_KEYS)}), off the "
        "same chains; repeated: every combination",
    )
    ap.add_argument("--csv", type=Path, help="append one row per plan to this CSV file")
    args = ap.parse_args()
    pinned_params()  # the stages' kernels (params.yaml's cpu_isa), before any runs
    torch.set_num_threads(args.threads)
    plans = [parse_plan(p) for p in args.plans]
    model, ckpt = load_model(args.checkpoint)
    train = train_config_of(ckpt)
    sampler, readout = inference_settings(ckpt, overrides=parse_set(args.overrides))
    sampler = for_unseen(sampler)
    readouts = grabcut_readouts(readout, args.vary, args.refine)
    x, masks, originals = tmdsprites_with_originals(
        generator_config(args.n, args.seed, args.data, args.robust), model.config.resolution
    )
    generator = "the second generator's" if args.robust else "generator"
    print(f"{args.checkpoint}: {args.n} images of {generator} seed {args.seed} ({' '.join(args.data) or 'defaults'})")
    for start, restarts, steps, settle in plans:
        plan = replace(sampler, init=start, restarts=restarts, steps=steps, settle_steps=settle)
        t = time.perf_counter()
        out = extract(model, x, plan, readout, train.sigma, train.tv_norm, progress=False)
        how = MaskReadout.of(readout, train.sigma)
        renderings = how.renderings(out.fg, out.bg)
        iou, dice = scores_at_target_size(out.soft_mask, masks, originals, how.unrefined(), renderings)
        seconds = time.perf_counter() - t
        for seeded in readouts:
            seeded_how = MaskReadout.of(seeded, train.sigma)
            refined = refined_iou(originals, out.soft_mask, masks, seeded_how, renderings) if args.refine else None
            row = {
                "checkpoint": args.checkpoint,
                "images": args.n,
                "generator_seed": args.seed,
                "data": ("robust " if args.robust else "") + (" ".join(args.data) or "defaults"),
                "start": start,
                "restarts": restarts,
                "steps": steps,
                "settle_steps": settle,
                "steps_per_image": restarts * (steps + settle),
                "full_resolution": seeded.full_resolution,
                "threshold": seeded.threshold,
                "seed_threshold": seeded.seed_threshold,
                "grabcut_band": seeded.grabcut_band,
                "iou": round(100 * float(iou.mean()), 2),
                "dice": round(100 * float(dice.mean()), 2),
                "iou_refined": None if refined is None else round(refined, 2),
                "seconds": round(seconds, 1),
                "threads": args.threads,
            }
            seeded_at = f" (GrabCut seeded at {seeded.seed_threshold}, band {seeded.grabcut_band})" if args.vary else ""
            print(
                f"{start}:{restarts}x{steps}x{settle} ({row['steps_per_image']} steps per image): "
                f"IoU {row['iou']:.1f} Dice {row['dice']:.1f} ({seconds:.0f} s)"
                + (f", refined by GrabCut {refined:.1f}{seeded_at}" if refined is not None else ""),
                flush=True,
            )
            if args.csv:
                append_row(args.csv, row)


def grabcut_readouts(readout: ReadoutConfig, vary: list[str], refine: bool) -> list[ReadoutConfig]:
    """The read-outs GrabCut's edges are scored under: ``readout`` itself, or one per combination of the
    ``--vary KEY=V1,V2`` values (each value read as ``--set readout.KEY=V`` reads it)."""
    if not vary:
        return [readout]
    if not refine:
        raise DRCError("--vary changes what GrabCut reads: it needs --refine")
    grids = []
    for item in vary:
        key, sep, values = item.partition("=")
        if not sep or key not in GRABCUT_KEYS:
            raise DRCError(f"--vary takes KEY=V1,V2 with KEY one of {', '.join(GRABCUT_KEYS)}; got {item!r}")
        grids.append([parse_set([f"readout.{key}={v}"])["readout"] for v in values.split(",")])
    combos = itertools.product(*grids)
    return [replace(readout, **{k: v for change in combo for k, v in change.items()}) for combo in combos]


def check_columns(path: Path, columns: list[str]) -> None:
    """Fail where the CSV file ``path`` exists with other columns than ``columns`` (before any work, to
    benchmarks that know their rows' columns up front)."""
    if path.is_file():
        with path.open(newline="") as f:
            header = next(csv.reader(f), [])
        if header != columns:
            raise DRCError(f"{path} has other columns ({', '.join(header)}); write these rows to a new file")


def append_row(path: Path, row: dict) -> None:
    """Append ``row`` to a CSV file, writing the header when the file is new."""
    new = not path.is_file()
    check_columns(path, list(row))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def refined_iou(
    originals: np.ndarray,
    soft_masks: torch.Tensor,
    targets: np.ndarray,
    how: MaskReadout,
    renderings: Renderings | None,
) -> float:
    """Mean IoU (%) of the masks as `drc extract` writes them with readout.refine=grabcut."""
    grabcut = replace(how, refine="grabcut")
    return float(100 * scores_at_target_size(soft_masks, targets, originals, grabcut, renderings)[0].mean())


if __name__ == "__main__":
    main()
