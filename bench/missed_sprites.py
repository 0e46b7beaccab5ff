"""Which TM-dSprites sprites a checkpoint's masks miss, by the sprite's size and its distance from the border.

    python -m bench.missed_sprites CHECKPOINT [--robust] [--seed 6] [--data texture_colour=colour] \
        [--set sampler.sigma=0.25 ...] [--n 200] [--threads 2] [--csv bench/results/missed_sprites.csv]

Each ground-truth sprite is a connected component of the 128 px mask (sprites that touch count as one). Its
recall is the share of its pixels a mask holds; below 0.5 it is missed. Sprites are grouped by size (the
longer side of their bounding box, as a fraction of the image's side: the first generator's sprites span
1/6-1/3 of it, the second's 0.12-0.4 before rotation) and by their centre's distance from the nearest
border (the first generator places centres at least 0.18 of the side from it, the second anywhere a sprite
fits). The masks are the model's own and the scored ones (GrabCut's edges), read out as the pipeline reads
them, from chains that start at N(0, I) under the model's profile (images it never saw), changed by
``--set``. Prints, for each, the sprites and the share missed in each group, and the mean IoU of images
with and without a missed sprite; with --csv appends one row per group and mask there (with the
``--set`` items and the masks' mean IoU).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import ndimage

from bench.infer_sweep import append_row, check_columns
from bench.inputs import add_data_options, generator_config, tmdsprites_with_originals
from drc.checkpoint import load_model, train_config_of
from drc.config import for_unseen, parse_set
from drc.cpu_isa import pinned_params
from drc.errors import exit_cleanly
from drc.fullres import MaskReadout, of_image
from drc.imageio import mask_at
from drc.inference import extract
from drc.metrics import per_image_scores
from drc.scoring import inference_settings

MISSED_BELOW = 0.5  # a sprite whose recall is below this is missed
SIZE_BINS = pd.IntervalIndex.from_breaks([0, 1 / 6, 1 / 4, 2], closed="left")  # sprite size / image side
SIZE_LABELS = {SIZE_BINS[0]: "< 1/6", SIZE_BINS[1]: "1/6 to 1/4", SIZE_BINS[2]: ">= 1/4"}
NEAR_BORDER = 0.18  # centre's distance from the border / image side: the first generator's centres lie this far in
BORDER_LABELS = {True: f"< {NEAR_BORDER}", False: f">= {NEAR_BORDER}"}
COLUMNS = [  # of a --csv row
    "checkpoint",
    "generator",
    "data",
    "seed",
    "images",
    "settings",
    "masks",
    "iou",
    "size_group",
    "border_group",
    "sprites",
    "missed",
]


def sprite_recall(predicted: np.ndarray, truth: np.ndarray) -> pd.DataFrame:
    """One row per ground-truth sprite of bool N x H x W ``truth`` (connected components): its image, size
    and centre's distance from the border (fractions of the image's side), and the share of its pixels
    ``predicted`` (bool N x H x W) holds, beside the image's IoU."""
    rows = []
    iou = per_image_scores(predicted, truth)[0]
    for image, (pred, true) in enumerate(zip(predicted, truth, strict=True)):
        side = max(true.shape)
        labels, count = ndimage.label(true)
        for box, sprite in zip(ndimage.find_objects(labels), range(1, count + 1), strict=True):
            pixels = labels == sprite
            ys, xs = np.nonzero(pixels)
            cy, cx = ys.mean(), xs.mean()
            rows.append(
                {
                    "image": image,
                    "size": max(s.stop - s.start for s in box) / side,
                    "border": min(cy + 0.5, cx + 0.5, true.shape[0] - 0.5 - cy, true.shape[1] - 0.5 - cx) / side,
                    "recall": float(pred[pixels].mean()),
                    "image_iou": 100 * float(iou[image]),
                }
            )
    return pd.DataFrame(rows)


def missed_by_group(sprites: pd.DataFrame) -> pd.DataFrame:
    """Sprites and the share missed (%) by size and distance from the border (``sprite_recall``'s rows),
    with an ``all`` row."""
    frame = sprites.assign(
        missed=sprites.recall < MISSED_BELOW,
        size_group=pd.Categorical(pd.cut(sprites["size"], SIZE_BINS).map(SIZE_LABELS), list(SIZE_LABELS.values())),
        border_group=pd.Categorical((sprites.border < NEAR_BORDER).map(BORDER_LABELS), list(BORDER_LABELS.values())),
    )
    grouped = frame.groupby(["size_group", "border_group"], observed=True)
    table = grouped.agg(sprites=("missed", "size"), missed=("missed", "mean")).reset_index()
    everything = {"size_group": "all", "border_group": "all", "sprites": len(frame), "missed": frame.missed.mean()}
    total = pd.DataFrame([everything])
    table = pd.concat([table.astype({"size_group": str, "border_group": str}), total], ignore_index=True)
    table["missed"] = (100 * table.missed).round(1)
    return table


def iou_by_missed(sprites: pd.DataFrame) -> tuple[int, float, float]:
    """(images with a missed sprite, their mean IoU, the other images' mean IoU)."""
    per_image = sprites.groupby("image").agg(recall=("recall", "min"), iou=("image_iou", "first"))
    missing = per_image.recall < MISSED_BELOW
    return int(missing.sum()), float(per_image.iou[missing].mean()), float(per_image.iou[~missing].mean())


@exit_cleanly
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    add_data_options(ap, seed=2, robust=True)
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="SECTION.KEY=VALUE")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--csv", type=Path, help="append one row per group and mask to this CSV file")
    args = ap.parse_args()
    if args.csv:
        check_columns(args.csv, COLUMNS)
    pinned_params()  # the stages' kernels (params.yaml's cpu_isa), before any runs
    torch.set_num_threads(args.threads)
    model, ckpt = load_model(args.checkpoint)
    train = train_config_of(ckpt)
    sampler, readout = inference_settings(ckpt, overrides=parse_set(args.overrides))
    x, truth, originals = tmdsprites_with_originals(
        generator_config(args.n, args.seed, args.data, args.robust), model.config.resolution
    )
    generator, data = ("second" if args.robust else "first"), " ".join(args.data) or "defaults"
    print(f"{args.checkpoint}: {args.n} images of the {generator} generator's seed {args.seed} ({data})")
    out = extract(model, x, for_unseen(sampler), readout, train.sigma, train.tv_norm, progress=False)
    how = MaskReadout.of(readout, train.sigma)
    renderings = how.renderings(out.fg, out.bg)
    soft = out.soft_mask.detach().cpu().numpy()
    settings = " ".join(args.overrides) or "the profile's"
    for name, mask_how in (("own", how.unrefined()), ("scored", how)):
        masks = np.stack([mask_at(soft[i], originals[i], mask_how, of_image(renderings, i)) for i in range(len(soft))])
        iou = 100 * float(per_image_scores(masks, truth)[0].mean())
        sprites = sprite_recall(masks, truth)
        table = missed_by_group(sprites)
        count, with_missed, without = iou_by_missed(sprites)
        print(
            f"\n{name} masks ({settings}): IoU {iou:.1f}; {count} images with a missed sprite score "
            f"{with_missed:.1f}, the others {without:.1f}"
        )
        print(table.to_string(index=False))
        head = {"checkpoint": args.checkpoint, "generator": generator, "data": data, "seed": args.seed}
        head |= {"images": args.n, "settings": settings, "masks": name, "iou": round(iou, 2)}
        for row in table.to_dict("records") if args.csv else []:
            append_row(args.csv, head | row)


if __name__ == "__main__":
    main()
