"""Stage baselines@<dataset>: every baseline (drc/baselines/registry.py: GrabCut, the colour threshold and
the colour threshold's masks redrawn by GrabCut) on the images DRC is scored on (Tables 1 and 3), and
GrabCut's IoU against its rectangle margin; baselines_heldout@ and baselines_heldout_only@<dataset> (--heldout):
every baseline on the dataset's held-out sets. Reads params.yaml's grabcut section. Each writes a scores file per
method with the data's checksums and the code version (drc/provenance.py)."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from drc.atomic import atomic_path, write_json
from drc.baselines.grabcut import grabcut_masks
from drc.baselines.registry import BASELINES, Baseline
from drc.config import GrabCutConfig, from_dict
from drc.data.prepared import Prepared
from drc.metrics import per_image_scores, summarize
from drc.params import is_rendered_clevr, load_params
from drc.provenance import prepared_record
from drc.runinfo import code_version
from drc.stagekit import REPORTS, prepared_dir, stage


def heldout_sets(dataset: str) -> list[str]:
    """The held-out sets stages/prepare.py --heldout writes: another seed, and for TM-dSprites the second
    generator."""
    return [f"{dataset}-heldout"] if is_rendered_clevr(dataset) else [f"{dataset}-heldout", f"{dataset}-robust"]


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


def score(baseline: Baseline, cfg: GrabCutConfig, sets: list[tuple[Prepared, dict[str, str]]]) -> tuple[dict, tuple]:
    """(results keyed as ``evaluated`` says, (rows, masks, per-image IoU) of the first result)."""
    results, first = {}, None
    for prepared, keys in sets:
        for key, split in keys.items():
            rows = prepared.split(split)
            masks, extra = baseline.masks(np.asarray(prepared.images[rows]), cfg, True)
            iou, dice = per_image_scores(masks, prepared.masks[rows])
            data = prepared_record(prepared, split)
            results[key] = {**summarize(iou, dice), "split": split, **extra, "data": data}
            first = first or (prepared, rows, masks, iou)
    return results, first


def write_examples(name: str, first: tuple) -> None:
    """Per-image IoU and the first 16 masks, for the report's histogram and comparison figures."""
    prepared, rows, masks, iou = first
    with atomic_path(REPORTS / "per_image" / f"{name}.csv", replace=True) as tmp:
        pd.DataFrame({"id": [prepared.meta["ids"][r] for r in rows], "iou": 100 * iou}).to_csv(tmp, index=False)
    keep = np.arange(min(16, len(rows)))
    with atomic_path(f"data/eval/{name}.npz", replace=True) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, positions=keep, rows=rows[keep], mask=masks[keep], iou=iou[keep])


def margin_sweep(cfg: GrabCutConfig, prepared: Prepared, rows: np.ndarray, dataset: str) -> None:
    rows = rows[: cfg.margin_sweep_images]
    images, truth = np.asarray(prepared.images[rows]), prepared.masks[rows]
    sweep = []
    for margin in cfg.margin_sweep:
        masks, _ = grabcut_masks(images, margin, cfg.iterations, cfg.workers, progress=False)
        sweep.append({"margin": margin, **summarize(*per_image_scores(masks, truth))})
    with atomic_path(REPORTS / "grabcut" / f"{dataset}_margins.csv", replace=True) as tmp:
        pd.DataFrame(sweep).to_csv(tmp, index=False)


@stage
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dataset")
    ap.add_argument("--heldout", action="store_true", help="score the dataset's held-out sets instead")
    args = ap.parse_args()
    cfg = from_dict(GrabCutConfig, load_params().get("grabcut") or {}, "grabcut")
    names = heldout_sets(args.dataset) if args.heldout else [args.dataset]
    sets = [(p, evaluated(p, args.dataset, args.heldout)) for p in map(Prepared.open, map(prepared_dir, names))]
    tag = f"heldout_{args.dataset}" if args.heldout else args.dataset
    for method, baseline in BASELINES.items():
        results, first = score(baseline, cfg, sets)
        if not args.heldout:
            write_examples(f"{baseline.stem}_{tag}", first)
        scores = {"method": method, **baseline.settings(cfg), "results": results, "code": code_version()}
        write_json(REPORTS / "metrics" / f"{baseline.stem}_{tag}.json", scores, replace=True)
        if method == "GrabCut" and not args.heldout:
            margin_sweep(cfg, first[0], first[1], args.dataset)


if __name__ == "__main__":
    main()
