"""Stage prepare@<dataset> (and prepare_heldout@<dataset>): generate a TM-dSprites variant, or download
and prepare a real dataset. Reads the profile's data settings and params.yaml's data.<dataset>."""

from __future__ import annotations

import argparse
from pathlib import Path

from drc.config import dataset_kind
from drc.params import data_values, load_params, tmdsprites_configs
from drc.stagekit import prepared_dir, stage


@stage
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dataset")
    ap.add_argument("--profile", required=True)
    ap.add_argument("--heldout", action="store_true", help="the held-out set of a generated dataset")
    args = ap.parse_args()
    params = load_params()
    values = data_values(args.dataset, args.profile, params)
    if dataset_kind(args.dataset) == "tmdsprites":
        from drc.data.tmdsprites import prepare_tmdsprites

        main_set, heldout = tmdsprites_configs(values, args.dataset)
        if args.heldout:  # same generator, unseen seed: the generalisation check
            prepare_tmdsprites(heldout, prepared_dir(f"{args.dataset}-heldout"), name=f"{args.dataset}-heldout")
        else:
            prepare_tmdsprites(main_set, prepared_dir(args.dataset), name=args.dataset)
    else:
        from drc.data.real import prepare_real

        downloads = Path((params.get("data") or {}).get("downloads") or "data/downloads")
        prepare_real(args.dataset, values, prepared_dir(args.dataset), downloads)


if __name__ == "__main__":
    main()
