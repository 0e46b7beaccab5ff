"""Stage train@<dataset> (all data, Table 1) and train_split@<dataset> (train split, Tables 3-4).

With --seed N it serves seed_train@<dataset>-<N>: the same run with train.seed = N, for the spread over
training seeds (its checkpoint and logs apart, under models/<dataset>/all-seedN and reports/seeds/training).
Reads the model and train sections only (profile files and params.yaml), `threads` and `cpu_isa`.
"""

from __future__ import annotations

import dataclasses

import torch

from drc.atomic import write_json
from drc.config import to_dict
from drc.cpu_isa import pinned_params
from drc.params import resolve_section
from drc.runinfo import code_version
from drc.stagekit import REPORTS, dataset_parser, model_path, prepared_dir, snapshot_dir, stage
from drc.trainrun import train_model


@stage
def main() -> None:
    ap = dataset_parser(__doc__)
    ap.add_argument("split", choices=["all", "train"])
    ap.add_argument("--seed", type=int, help="train.seed over params.yaml: one run of the spread over seeds")
    args = ap.parse_args()
    params = pinned_params()
    model = resolve_section("model", args.dataset, args.profile, params)
    train = resolve_section("train", args.dataset, args.profile, params)
    torch.set_num_threads(params.get("threads") or torch.get_num_threads())
    run = f"{args.dataset}-{args.split}"
    logs, snapshots = REPORTS / "training" / run, snapshot_dir(args.dataset, args.split)
    if args.seed is not None:
        train = dataclasses.replace(train, seed=args.seed)
        logs, snapshots = REPORTS / "seeds" / "training" / f"{run}-seed{args.seed}", None
    settings = {"profile": args.profile, "model": to_dict(model), "train": to_dict(train), "code": code_version()}
    write_json(logs / "settings.json", settings, replace=True)
    train_model(
        prepared_dir(args.dataset),
        args.split,
        model,
        train,
        model_path(args.dataset, args.split, args.seed),
        live_dir=logs / "live",
        profile=args.profile,
        snapshot_dir=snapshots,
        other_run="retrain",  # the stage owns its checkpoint (a DVC output): other settings train afresh
        force=True,
    )


if __name__ == "__main__":
    main()
