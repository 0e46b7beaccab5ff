"""Stage train@<dataset> (all data, Table 1) and train_split@<dataset> (train split, Tables 3-4)."""

from __future__ import annotations

import argparse

import torch

from drc.atomic import write_json
from drc.experiment import train_model
from drc.params import load_params, resolve_settings
from drc.stagekit import REPORTS, model_path, prepared_dir, stage


@stage
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dataset")
    ap.add_argument("split", choices=["all", "train"])
    args = ap.parse_args()
    params = load_params()
    settings = resolve_settings(params, args.dataset)
    torch.set_num_threads(params["threads"] or torch.get_num_threads())
    run = f"{args.dataset}-{args.split}"
    write_json(REPORTS / "training" / run / "settings.json", {"profile": params["profile"], **settings.to_dict()})
    train_model(
        prepared_dir(args.dataset),
        args.split,
        settings,
        model_path(args.dataset, args.split),
        live_dir=REPORTS / "training" / run / "live",
    )


if __name__ == "__main__":
    main()
