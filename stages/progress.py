"""Stage progress@<dataset>: the scored read-out's IoU against training iterations.

Scores every snapshot the all-data training run kept (train.snapshot_every; the first is the untrained model at
iteration 0, what the read-out gets without training), and the final model, on
the first `progress.images` evaluation images with the evaluation's sampler and read-out: the curve
ends at the model that evaluate@<dataset> scores on all of them. Reads the sampler and readout
sections (profile files and params.yaml), `progress` and `cpu_isa`.
"""

from __future__ import annotations

import pandas as pd

from drc.atomic import atomic_path, write_json
from drc.checkpoint import read_checkpoint, snapshots
from drc.cpu_isa import pinned_params
from drc.data.prepared import Prepared
from drc.errors import DRCError
from drc.params import resolve_inference
from drc.provenance import checkpoint_record, prepared_record, score_record
from drc.scoring import evaluate_prepared, evaluation_split
from drc.stagekit import REPORTS, dataset_parser, model_path, prepared_dir, snapshot_dir, stage


@stage
def main() -> None:
    args = dataset_parser(__doc__).parse_args()
    params = pinned_params()
    images = (params.get("progress") or {}).get("images", 64)
    if not isinstance(images, int) or isinstance(images, bool) or images < 1:
        raise DRCError(f"progress.images must be a whole number >= 1, got {images!r}; set it in params.yaml")
    sampler, readout = resolve_inference(args.dataset, args.profile, params)
    prepared = Prepared.open(prepared_dir(args.dataset))
    split = evaluation_split(prepared, "all")
    final = model_path(args.dataset, "all")
    checkpoints = dict(snapshots(snapshot_dir(args.dataset, "all")))
    checkpoints.setdefault(int(read_checkpoint(final)["iteration"]), final)
    rows, records = [], []
    for iteration, path in sorted(checkpoints.items()):
        summary, _, _ = evaluate_prepared(path, prepared.root, split, sampler, readout, progress=False, limit=images)
        refined = summary.get("refined", {})  # GrabCut's redrawing, where the read-out does it
        rows.append(
            {
                "iteration": iteration,
                "iou": summary["iou"],
                "dice": summary["dice"],
                "iou_refined": refined.get("iou", summary["iou"]),
                "dice_refined": refined.get("dice", summary["dice"]),
                "images": summary["n_images"],
            }
        )
        data = prepared_record(prepared, split) | {"limit": images}
        ckpt = read_checkpoint(path)
        records.append(score_record(summary, data, sampler, readout) | {"model": checkpoint_record(path, ckpt)})
        n = summary["n_images"]
        print(f"iteration {iteration}: IoU {summary['iou']:.1f} on the first {n} {split} images", flush=True)
    with atomic_path(REPORTS / "progress" / f"{args.dataset}.csv", replace=True) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False, float_format="%.3f")
    write_json(
        REPORTS / "progress" / f"{args.dataset}.json", {"dataset": args.dataset, "scores": records}, replace=True
    )


if __name__ == "__main__":
    main()
