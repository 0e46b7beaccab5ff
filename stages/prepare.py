"""Stage prepare@<dataset>: generate (TM-dSprites) or download and prepare a dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from drc.params import load_params
from drc.stagekit import prepared_dir, stage


@stage
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dataset")
    ap.add_argument("--heldout", action="store_true", help="TM-dSprites from the held-out seed")
    args = ap.parse_args()
    data = load_params()["data"]
    if args.dataset == "tmdsprites":
        from drc.data.tmdsprites import TMDSpritesConfig, prepare_tmdsprites

        values = dict(data["tmdsprites"])
        workers = values.pop("workers")
        heldout = values.pop("heldout")
        name = "tmdsprites"
        if args.heldout:  # same generator, unseen seed: the generalisation check of the quality issue
            values.update(seed=heldout["seed"], n_images=heldout["n_images"], eval_size=heldout["n_images"])
            name = "tmdsprites-heldout"
        prepare_tmdsprites(TMDSpritesConfig.from_dict(values), prepared_dir(name), workers=workers)
    else:
        from drc.data.real import prepare_real

        prepare_real(args.dataset, dict(data[args.dataset]), prepared_dir(args.dataset), Path(data["downloads"]))


if __name__ == "__main__":
    main()
