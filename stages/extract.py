"""Stage extract@<folder dataset>: masks and cut-outs of your own images with the model trained on them,
and a contact sheet. Reads the sampler and readout sections (profile files and params.yaml) and
params.yaml's data.<dataset>.path and cpu_isa; resumable (drc/extraction.py)."""

from __future__ import annotations

from pathlib import Path

from drc.config import FolderConfig, from_dict
from drc.cpu_isa import pinned_params
from drc.extraction import extract_folder
from drc.params import data_values, resolve_inference
from drc.stagekit import REPORTS, dataset_parser, model_path, stage


@stage
def main() -> None:
    args = dataset_parser(__doc__).parse_args()
    params = pinned_params()
    sampler, readout = resolve_inference(args.dataset, args.profile, params)
    folder = from_dict(FolderConfig, data_values(args.dataset, args.profile, params), f"data.{args.dataset}")
    source = Path(folder.path).expanduser()
    sheet, out = REPORTS / "extract" / f"{args.dataset}_sheet.png", Path("data/extracted") / args.dataset
    # The stage owns its outputs (DVC outputs): force lets it write them whatever an earlier run left there.
    model = model_path(args.dataset, "all")
    report = extract_folder(model, [source], out, sampler, readout, preview=sheet, force=True)
    # Unreadable files were named one by one (the prepare stage skipped the same ones): not a failure here.
    print(
        f"{report.written} written, {report.up_to_date} up to date, {len(report.failed)} unreadable (skipped), "
        f"{len(report.empty)} empty and {len(report.near_full)} near-full mask(s)"
    )


if __name__ == "__main__":
    main()
