"""Stage prepare@<dataset>: generate a TM-dSprites variant, render CLEVR6 scenes (clevr6_rendered), download
and prepare a real dataset, or import a folder of your own images (prepare_folder@<dataset>); and
prepare_heldout@<dataset>: a variant's held-out sets (<dataset>-heldout from another seed, <dataset>-robust
from the second generator; clevr6_rendered has the first only). Reads the profile's data settings, params.yaml's
data.<dataset> and cpu_isa. --tfrecords PATH also writes rendered CLEVR6 scenes as a clevr_with_masks file."""

from __future__ import annotations

from pathlib import Path

from drc.config import FolderConfig, dataset_kind, from_dict
from drc.cpu_isa import pinned_params
from drc.errors import DRCError
from drc.params import data_values, is_rendered_clevr, tmdsprites_sets
from drc.stagekit import RENDERS, dataset_parser, prepared_dir, stage


@stage
def main() -> None:
    ap = dataset_parser(__doc__)
    ap.add_argument("--heldout", action="store_true", help="the held-out sets of a generated dataset")
    ap.add_argument("--tfrecords", type=Path, help="rendered CLEVR6: also write its scenes as a clevr_with_masks file")
    args = ap.parse_args()
    params = pinned_params()
    values = data_values(args.dataset, args.profile, params)
    downloads = Path((params.get("data") or {}).get("downloads") or "data/downloads")
    if args.tfrecords is not None and not is_rendered_clevr(args.dataset):
        raise DRCError(f"--tfrecords writes rendered CLEVR6 scenes; {args.dataset} is not clevr6_rendered")
    if is_rendered_clevr(args.dataset):
        from drc.data.clevr_rendered import config_from_values, prepare_clevr_rendered

        name = f"{args.dataset}-heldout" if args.heldout else args.dataset
        prepare_clevr_rendered(
            config_from_values(values, args.dataset),
            prepared_dir(name),
            download_dir=downloads / "clevr6_rendered",
            render_root=RENDERS / args.dataset,
            name=args.dataset,
            heldout=args.heldout,
            tfrecords=args.tfrecords,
        )
    elif dataset_kind(args.dataset) == "tmdsprites":
        from drc.data.tmdsprites import prepare_tmdsprites
        from drc.data.tmdsprites_robust import prepare_robust

        sets = tmdsprites_sets(values, args.dataset)
        if args.heldout:  # images never trained on: the generalisation and robustness checks
            name = f"{args.dataset}-heldout"
            prepare_tmdsprites(sets["-heldout"], prepared_dir(name), name=name)
            prepare_robust(sets["-robust"], prepared_dir(f"{args.dataset}-robust"), name=f"{args.dataset}-robust")
        else:
            prepare_tmdsprites(sets[""], prepared_dir(args.dataset), name=args.dataset)
    elif dataset_kind(args.dataset) is not None:
        from drc.data.real import prepare_real

        prepare_real(args.dataset, values, prepared_dir(args.dataset), downloads)
    else:  # your own images: data.<dataset>.path (and masks)
        from drc.data.folder import prepare_folder

        if values.get("path") is None:
            raise DRCError(f"data.{args.dataset}.path is not set; set it to the folder of your images in params.yaml")
        folder = from_dict(FolderConfig, values, f"data.{args.dataset}")
        prepare_folder(folder.path, prepared_dir(args.dataset), folder.resolution, folder.fit, folder.masks)


if __name__ == "__main__":
    main()
