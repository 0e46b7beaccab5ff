"""Stage grabcut@<dataset>: the GrabCut baseline on the same images as DRC, and IoU against the margin.

Reads params.yaml's grabcut section. Writes a scores file with the data's checksums and the code version.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from drc.atomic import atomic_path, write_json
from drc.baselines.grabcut import grabcut_masks
from drc.config import GrabCutConfig, from_dict, to_dict
from drc.data.prepared import Prepared
from drc.metrics import per_image_scores, summarize
from drc.params import load_params
from drc.provenance import prepared_record
from drc.runinfo import code_version
from drc.stagekit import REPORTS, prepared_dir, stage


@stage
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dataset")
    args = ap.parse_args()
    cfg = from_dict(GrabCutConfig, load_params().get("grabcut") or {}, "grabcut")
    prepared = Prepared.open(prepared_dir(args.dataset))
    splits = prepared.meta["splits"]
    # Table 1 scores the training data (its evaluation subset where one exists), Table 3 the test split.
    evaluated = {"train": "eval" if "eval" in splits else "all"}  # the images evaluate@<ds> scores
    if "test" in splits:
        evaluated["test"] = "test"
    results, first = {}, None
    for label, split in evaluated.items():
        rows = prepared.split(split)
        masks, failed = grabcut_masks(np.asarray(prepared.images[rows]), cfg.margin, cfg.iterations, cfg.workers)
        iou, dice = per_image_scores(masks, prepared.masks[rows])
        results[f"{args.dataset}/{label}"] = {
            **summarize(iou, dice),
            "split": split,
            "failed": int(failed),
            "data": prepared_record(prepared, split),
        }
        if first is None:
            first = (rows, masks, iou)
    rows, masks, iou = first
    with atomic_path(REPORTS / "per_image" / f"grabcut_{args.dataset}.csv") as tmp:
        pd.DataFrame({"id": [prepared.meta["ids"][r] for r in rows], "iou": 100 * iou}).to_csv(tmp, index=False)
    keep = np.arange(min(16, len(rows)))
    with atomic_path(f"data/eval/grabcut_{args.dataset}.npz") as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, positions=keep, rows=rows[keep], mask=masks[keep], iou=iou[keep])

    sweep_rows = rows[: cfg.margin_sweep_images]
    sweep = []
    for margin in cfg.margin_sweep:
        m, _ = grabcut_masks(
            np.asarray(prepared.images[sweep_rows]), margin, cfg.iterations, cfg.workers, progress=False
        )
        sweep.append({"margin": margin, **summarize(*per_image_scores(m, prepared.masks[sweep_rows]))})
    with atomic_path(REPORTS / "grabcut" / f"{args.dataset}_margins.csv") as tmp:
        pd.DataFrame(sweep).to_csv(tmp, index=False)
    scores = {"method": "GrabCut", "grabcut": to_dict(cfg), "results": results, "code": code_version()}
    write_json(REPORTS / "metrics" / f"grabcut_{args.dataset}.json", scores)


if __name__ == "__main__":
    main()
