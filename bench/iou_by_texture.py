"""Per-image TM-dSprites IoU grouped by the background's grating (texture index, fine to coarse).

    python -m bench.iou_by_texture [reports/per_image/drc_tmdsprites.csv] [--dataset data/prepared/tmdsprites]

Reads a per-image IoU table written by the evaluate stage (columns ``id``, ``iou`` in percent) and
the generator settings the prepared dataset was made with (its meta.json), recovers each image's grating with
``sample_layout`` (a pure function of the seed and the image index) and prints the mean IoU per
texture index and for the fine (0-8), coarse (9-19) and six coarsest (14-19) gratings: the numbers
the failure analysis in docs/cpu-profile.md (the report's iou_by_period figure draws them). The bank's
periods grow with the index.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from drc.data.prepared import Prepared
from drc.errors import DRCError, exit_cleanly
from drc.reports.gratings import generator_config, textures_of

GROUPS = {"fine 0-8": range(0, 9), "coarse 9-19": range(9, 20), "six coarsest 14-19": range(14, 20)}


@exit_cleanly
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("table", nargs="?", default="reports/per_image/drc_tmdsprites.csv")
    ap.add_argument("--dataset", default="data/prepared/tmdsprites", help="the prepared TM-dSprites it scored")
    args = ap.parse_args()
    try:
        table = pd.read_csv(args.table)
    except FileNotFoundError as err:
        raise DRCError(f"{args.table} does not exist; run the evaluate stage first (dvc repro)") from err
    cfg = generator_config(Prepared.open(args.dataset))
    if cfg is None:
        raise DRCError(f"{args.dataset} was not made by the TM-dSprites generator")
    texture = textures_of(cfg, table["id"].to_numpy())
    iou = table["iou"].to_numpy()
    per = [iou[texture == t].mean() for t in range(cfg.n_textures)]
    print(f"{args.table}: {len(iou)} images, IoU {iou.mean():.1f}")
    print("IoU by texture (fine to coarse): " + ", ".join(f"{v:.1f}" for v in per))
    for name, group in GROUPS.items():
        print(f"{name}: {iou[np.isin(texture, list(group))].mean():.1f}")


if __name__ == "__main__":
    main()
