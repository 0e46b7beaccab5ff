"""Stage baselines@<dataset>: GrabCut, the colour threshold and the colour threshold's masks redrawn by
GrabCut on the images DRC is scored on (Tables 1 and 3), and GrabCut's IoU against its rectangle margin;
baselines_heldout@<dataset> (--heldout): the three on the dataset's held-out sets. Reads params.yaml's
grabcut section. Each writes a scores file per method with the data's checksums and the code version
(drc/provenance.py)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import pandas as pd

from drc.atomic import atomic_path, write_json
from drc.baselines.colour import REDRAWING, colour_grabcut_masks, colour_masks
from drc.baselines.grabcut import grabcut_masks
from drc.config import GrabCutConfig, from_dict, to_dict
from drc.data.prepared import Prepared
from drc.metrics import per_image_scores, summarize
from drc.params import load_params
from drc.provenance import prepared_record
from drc.runinfo import code_version
from drc.stagekit import REPORTS, prepared_dir, stage

# uint8 N x H x W x 3 images -> (bool N x H x W masks, what else to record beside the score)
Masks = Callable[[np.ndarray], tuple[np.ndarray, dict]]
HELDOUT = ("-heldout", "-robust")  # the held-out sets of a generated dataset (stages/prepare.py)


def evaluated(prepared: Prepared, dataset: str, heldout: bool) -> dict[str, str]:
    """{result key: split}: the training data (its evaluation subset where one exists) and the test split
    as Tables 1 and 3 score them, or all of a held-out set, keyed as the DRC scores are."""
    splits = prepared.meta["splits"]
    if heldout:
        return {f"{prepared.name}/test": "eval" if "eval" in splits else "all"}
    keys = {f"{dataset}/train": "eval" if "eval" in splits else "all"}
    if "test" in splits:
        keys[f"{dataset}/test"] = "test"
    return keys


def score(method: Masks, sets: list[tuple[Prepared, dict[str, str]]]) -> tuple[dict, tuple]:
    """(results keyed as ``evaluated`` says, (rows, masks, per-image IoU) of the first result)."""
    results, first = {}, None
    for prepared, keys in sets:
        for key, split in keys.items():
            rows = prepared.split(split)
            masks, extra = method(np.asarray(prepared.images[rows]))
            iou, dice = per_image_scores(masks, prepared.masks[rows])
            data = prepared_record(prepared, split)
            results[key] = {**summarize(iou, dice), "split": split, **extra, "data": data}
            first = first or (prepared, rows, masks, iou)
    return results, first


def write_examples(name: str, first: tuple) -> None:
    """Per-image IoU and the first 16 masks, for the report's histogram and comparison figures."""
    prepared, rows, masks, iou = first
    with atomic_path(REPORTS / "per_image" / f"{name}.csv") as tmp:
        pd.DataFrame({"id": [prepared.meta["ids"][r] for r in rows], "iou": 100 * iou}).to_csv(tmp, index=False)
    keep = np.arange(min(16, len(rows)))
    with atomic_path(f"data/eval/{name}.npz") as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, positions=keep, rows=rows[keep], mask=masks[keep], iou=iou[keep])


def margin_sweep(cfg: GrabCutConfig, prepared: Prepared, rows: np.ndarray, dataset: str) -> None:
    rows = rows[: cfg.margin_sweep_images]
    images, truth = np.asarray(prepared.images[rows]), prepared.masks[rows]
    sweep = []
    for margin in cfg.margin_sweep:
        masks, _ = grabcut_masks(images, margin, cfg.iterations, cfg.workers, progress=False)
        sweep.append({"margin": margin, **summarize(*per_image_scores(masks, truth))})
    with atomic_path(REPORTS / "grabcut" / f"{dataset}_margins.csv") as tmp:
        pd.DataFrame(sweep).to_csv(tmp, index=False)


@stage
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dataset")
    ap.add_argument("--heldout", action="store_true", help="score the dataset's held-out sets instead")
    args = ap.parse_args()
    cfg = from_dict(GrabCutConfig, load_params().get("grabcut") or {}, "grabcut")
    names = [args.dataset + suffix for suffix in HELDOUT] if args.heldout else [args.dataset]
    sets = [(p, evaluated(p, args.dataset, args.heldout)) for p in map(Prepared.open, map(prepared_dir, names))]
    tag = f"heldout_{args.dataset}" if args.heldout else args.dataset

    def grabcut(images: np.ndarray) -> tuple[np.ndarray, dict]:
        masks, failed = grabcut_masks(images, cfg.margin, cfg.iterations, cfg.workers)
        return masks, {"failed": int(failed)}  # images where GrabCut failed and its rectangle was used

    def colour(images: np.ndarray) -> tuple[np.ndarray, dict]:
        return colour_masks(images), {}

    def colour_grabcut(images: np.ndarray) -> tuple[np.ndarray, dict]:
        return colour_grabcut_masks(images), {}

    # method: (the stem of its files, its masks, the settings its scores file records)
    methods = {
        "GrabCut": ("grabcut", grabcut, {"grabcut": to_dict(cfg)}),
        "Colour": ("colour", colour, {}),
        "Colour+GrabCut": ("colour_grabcut", colour_grabcut, {"redrawing": REDRAWING}),
    }
    for method, (stem, masks_of, settings) in methods.items():
        results, first = score(masks_of, sets)
        if not args.heldout:
            write_examples(f"{stem}_{tag}", first)
        scores = {"method": method, **settings, "results": results, "code": code_version()}
        write_json(REPORTS / "metrics" / f"{stem}_{tag}.json", scores)
        if method == "GrabCut" and not args.heldout:
            margin_sweep(cfg, first[0], first[1], args.dataset)


if __name__ == "__main__":
    main()
