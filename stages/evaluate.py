"""Stage evaluate@<dataset>: score the all-data model on its evaluation images (Table 1).

With --paper-readout NAME it also scores the first images as the paper reads them out (one chain from
N(0, I) at the same number of Langevin steps, pi_f > 0.5 at the model's size: `paper_chain`, `ReadoutConfig()`),
into reports/metrics/NAME.json: the like-for-like number beside the paper's.
With --seed N it serves seed_evaluate@<dataset>-<N>: the model of seed_train@ scored the same way, its scores
file alone under reports/seeds/ (the spread over training seeds; figures and per-image tables are seed 0's).
Also serves generalise@<dataset> (--on <other prepared dataset>: images never trained on) and
evaluate_split@<dataset> (the train-split model on train / test / other datasets' test sets).
Reads the sampler and readout sections only (profile files and params.yaml) and `cpu_isa`; the model brings the rest.
Writes a scores file with everything that made each score (drc/provenance.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drc.atomic import atomic_path, write_json
from drc.checkpoint import read_checkpoint
from drc.config import ReadoutConfig, SamplerConfig, for_unseen, paper_chain
from drc.cpu_isa import pinned_params
from drc.data.prepared import Prepared
from drc.params import resolve_inference
from drc.provenance import PAPER_READOUT, drc_scores, prepared_record, score_record
from drc.scoring import evaluate_prepared, evaluation_split
from drc.stagekit import REPORTS, dataset_parser, model_path, prepared_dir, stage

N_VISUAL = 16  # images kept for figures: the first N and the worst N by IoU


def score(model: str, dataset: str, split: str, sampler: SamplerConfig, readout: ReadoutConfig) -> dict:
    prepared = Prepared.open(prepared_dir(dataset))
    split = evaluation_split(prepared, split)
    summary, iou, out = evaluate_prepared(model, prepared_dir(dataset), split, sampler, readout)
    rows = prepared.split(split)
    ids = [prepared.meta["ids"][r] for r in rows]
    record = score_record({**summary, "split": split}, prepared_record(prepared, split), sampler, readout)
    return {"record": record, "ids": ids, "iou": iou, "out": out, "rows": rows}


def write_per_image(name: str, ids: list[str], iou: np.ndarray) -> None:
    with atomic_path(REPORTS / "per_image" / f"{name}.csv", replace=True) as tmp:
        pd.DataFrame({"id": ids, "iou": 100 * np.asarray(iou, float)}).to_csv(tmp, index=False)


def write_outputs(name: str, result: dict) -> None:
    """Per-image IoU table and a small set of extractions (first and worst images) for the figures."""
    iou = result["iou"]
    write_per_image(name, result["ids"], iou)
    keep = np.unique(np.concatenate([np.arange(min(N_VISUAL, len(iou))), np.argsort(iou)[:N_VISUAL]]))
    out = result["out"]
    with atomic_path(f"data/eval/{name}.npz", replace=True) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh,
            positions=keep,
            rows=result["rows"][keep],
            iou=iou[keep],
            soft_mask=out.soft_mask[keep].numpy(),
            composite=out.composite[keep].numpy(),
            fg=out.fg[keep].numpy(),
            bg=out.bg[keep].numpy(),
        )


@stage
def main() -> None:
    ap = dataset_parser(__doc__, dataset_help="dataset the model was trained on")
    ap.add_argument("--model-split", default="all", choices=["all", "train"])
    ap.add_argument("--train-data", action="store_true", help="score the model's own training images")
    ap.add_argument("--on", nargs="*", default=[], help="also score these prepared datasets (never trained on)")
    ap.add_argument("--name", required=True, help="name of the scores file under reports/metrics/ (--seed: seeds/)")
    ap.add_argument("--seed", type=int, help="score the run of this training seed (seed_train@)")
    ap.add_argument("--paper-readout", metavar="NAME", help="also score the first images with the paper's read-out")
    ap.add_argument(
        "--own-images", action="store_true", help="a folder dataset: no figure extractions, and without masks no score"
    )
    args = ap.parse_args()
    params = pinned_params()
    model = model_path(args.dataset, args.model_split, args.seed)
    scores_dir = REPORTS / ("metrics" if args.seed is None else "seeds")
    if args.own_images and Prepared.open(prepared_dir(args.dataset)).masks is None:
        print(f"{args.dataset} has no masks: its model trains and extracts, but it is not scored")
        scores = drc_scores({}, model, read_checkpoint(model), train_data=args.dataset, model_split=args.model_split)
        write_per_image(args.name, [], np.zeros(0))
        write_json(REPORTS / "metrics" / f"{args.name}.json", scores, replace=True)
        return
    # Inference follows params.yaml and the profile, not the checkpoint, so that `dvc exp run -S
    # ++sampler.steps=500` re-scores the same model with 500 steps.
    sampler, readout = resolve_inference(args.dataset, args.profile, params)
    results = []
    if args.train_data:  # Table 1 / Table 3 "train": the training data itself
        split = "all" if args.model_split == "all" else "train"
        results.append((f"{args.dataset}/train", score(model, args.dataset, split, sampler, readout)))
    unseen = for_unseen(sampler)  # images never trained on have no persistent chains
    for other in args.on:
        split = "test" if "test" in Prepared.open(prepared_dir(other)).meta["splits"] else "all"
        results.append((f"{other}/test", score(model, other, split, unseen, readout)))
    ckpt = read_checkpoint(model)
    provenance = {"train_data": args.dataset, "model_split": args.model_split}
    records = {key: result["record"] for key, result in results}
    scores = drc_scores(records, model, ckpt, **provenance)
    first = results[0][1]
    if args.own_images:
        write_per_image(args.name, first["ids"], first["iou"])
    elif args.seed is None:  # figures and per-image tables show the seed of train@
        write_outputs(args.name, first)
    if args.paper_readout:
        key, split = results[0][0], first["record"]["data"]["split"]
        plain = score(model, key.rpartition("/")[0], split, paper_chain(unseen), ReadoutConfig())
        paper = drc_scores({key: plain["record"]}, model, ckpt, **provenance, method=PAPER_READOUT)
        write_json(scores_dir / f"{args.paper_readout}.json", paper, replace=True)
    write_json(scores_dir / f"{args.name}.json", scores, replace=True)


if __name__ == "__main__":
    main()
