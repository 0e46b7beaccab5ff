"""The `drc` command line: train, extract foregrounds from your images, evaluate against masks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from drc.atomic import write_json
from drc.config import SECTIONS, choices_help, parse_set
from drc.errors import DRCError, exit_cleanly
from drc.outputs import output_file

if TYPE_CHECKING:  # the commands import torch-backed modules only when they run
    from drc.config import ReadoutConfig, SamplerConfig

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

# One rule for the commands that read many inputs (prepare, train, extract), in each one's --help.
EXIT_STATUS = (
    "Exit status: 0 every input processed; 1 some inputs skipped (each named on its own line, the rest "
    "processed and written); 2 an error (one `error:` line, nothing written); 128 + the signal when "
    "interrupted (130 for Ctrl-C), after writing what lets the same command go on."
)
FORCE_HELP = "write into a folder, or over a file, that this command did not write (nothing else there is deleted)"
Force = Annotated[bool, typer.Option("--force", help=FORCE_HELP)]
SET_HELP = (
    f"override one setting, SECTION.KEY=VALUE (sections: {', '.join(SECTIONS)}; `drc settings --fields` lists "
    f"every key); repeatable. Choices: {choices_help()}"
)
Set = Annotated[list[str] | None, typer.Option("--set", help=SET_HELP)]
Params = Annotated[
    Path | None,
    typer.Option(help="a params file whose model/train/sampler/readout sections apply over the profile"),
]


def _params(path: Path | None) -> dict[str, Any] | None:
    from drc.params import load_params

    return None if path is None else load_params(path)


def _overrides(items: list[str] | None, command: str, reads: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``--set`` overrides, refusing a section that ``command`` does not read (it would be ignored)."""
    overrides = parse_set(items or [])
    for item in items or []:
        section = item.partition(".")[0].strip()
        if section not in reads:
            raise DRCError(
                f"drc {command} reads only the {' and '.join(reads)} settings, so --set {item} would be ignored; "
                f"drop it ({section} settings apply to drc {'train' if section in ('model', 'train') else 'extract'})"
            )
    return overrides


@app.command(epilog=EXIT_STATUS)
@exit_cleanly
def prepare(
    folder: Annotated[Path, typer.Argument(help="folder of images (searched recursively)")],
    out: Annotated[Path, typer.Option(help="prepared dataset folder to write: new, empty, or an earlier one")],
    resolution: Annotated[int, typer.Option(help="side of the square images, px (16 to 1024)")] = 128,
    fit: Annotated[str, typer.Option(help="crop (centred square) | pad (edge colours)")] = "crop",
    masks: Annotated[Path | None, typer.Option(help="folder of masks: same relative path and stem")] = None,
    force: Force = False,
) -> None:
    """Make a prepared dataset from a folder of your images (jpg, png, webp, bmp, tiff, gif, avif), masks optional.

    Unreadable files and images of other formats (HEIC, RAW, ...) are named, skipped and counted in the
    dataset's meta.json. Without masks the dataset trains and extracts but is not scored.
    """
    from drc.config import check_resolution
    from drc.data.folder import prepare_folder
    from drc.data.prepared import Prepared

    check_resolution(resolution, "--resolution")
    if fit not in ("crop", "pad"):
        raise DRCError(f"--fit must be crop or pad, got {fit!r}")
    prepared = Prepared.open(prepare_folder(folder, out, resolution, fit, masks, force=force))  # type: ignore[arg-type]
    stats = prepared.meta["stats"]
    labelled = "with masks" if prepared.masks is not None else "without masks (training and extraction only)"
    typer.echo(f"prepared {stats['kept']} of {stats['found']} image(s) {labelled} -> {out}; {stats['skipped']} skipped")
    if stats["skipped"]:
        raise typer.Exit(1)


@app.command(epilog=EXIT_STATUS)
@exit_cleanly
def train(
    dataset: Annotated[Path, typer.Option(help="prepared dataset folder (drc prepare writes one)")],
    out: Annotated[Path, typer.Option(help="checkpoint file to write (the same settings resume it)")],
    profile: Annotated[str | None, typer.Option(help="profile (drc/profiles/): the params file's, else cpu")] = None,
    params: Params = None,
    set_: Set = None,
    split: Annotated[str, typer.Option(help="split to train on: all | train")] = "all",
    live_dir: Annotated[
        Path | None, typer.Option(help="DVCLive folder for curves and sample grids: new, empty, or an earlier one")
    ] = None,
    fresh: Annotated[
        bool, typer.Option(help="train afresh over the checkpoint at --out, even one of other settings")
    ] = False,
    force: Force = False,
) -> None:
    """Train DRC on a prepared dataset: the profile's settings, then --params, then --set (model and train).

    A checkpoint at --out made with the same settings and data is resumed; one of another run is refused
    (the differing settings named) unless --fresh. Ctrl-C stops after the current iteration with a
    checkpoint; a second Ctrl-C aborts without one. Under torchrun with several ranks
    (``torchrun --nproc_per_node=N -m drc.cli train ...``) it trains with one process per rank
    (drc/distributed.py); rank 0 prints the losses instead of DVCLive.
    """
    from drc.data.prepared import Prepared
    from drc.distributed import run_ranks, under_torchrun
    from drc.params import resolve_section
    from drc.trainrun import claim_live_dir, train_model

    values = _params(params)
    profile = profile or (values or {}).get("profile") or "cpu"
    overrides = _overrides(set_, "train", ("model", "train"))
    name = Prepared.open(dataset).name
    model = resolve_section("model", name, profile, values, overrides)
    learning = resolve_section("train", name, profile, values, overrides)
    if live_dir is not None:
        claim_live_dir(live_dir)
    if under_torchrun():
        run_ranks(dataset, split, model, learning, out, profile, resume=not fresh, force=force)
        return
    trainer = train_model(
        dataset, split, model, learning, out, live_dir=live_dir, profile=profile, resume=not fresh, force=force
    )
    typer.echo(f"trained {trainer.iteration} iterations -> {out}")


def _inference(
    checkpoint: Path, params: Path | None, set_: list[str] | None, command: str
) -> tuple[SamplerConfig, ReadoutConfig]:
    """The model's inference settings (its profile's) for images it never saw (no persistent chains)."""
    from drc.checkpoint import read_checkpoint
    from drc.config import for_unseen
    from drc.scoring import inference_settings

    overrides = _overrides(set_, command, ("sampler", "readout"))
    sampler, readout = inference_settings(read_checkpoint(checkpoint), _params(params), overrides)
    return for_unseen(sampler), readout


@app.command(epilog=EXIT_STATUS)
@exit_cleanly
def extract(
    checkpoint: Annotated[Path, typer.Argument(help="trained model (.pt)")],
    inputs: Annotated[list[Path], typer.Argument(help="image files and/or folders of images (searched recursively)")],
    out: Annotated[
        Path,
        typer.Option(help="output folder (new, empty, or an earlier one): <relative path>_mask.png and _cutout.png"),
    ],
    preview: Annotated[Path | None, typer.Option(help="also write a contact sheet here (PNG)")] = None,
    refine: Annotated[
        str | None,
        typer.Option(help="none | grabcut: redraw the mask's edges with GrabCut at full size (readout.refine)"),
    ] = None,
    params: Params = None,
    set_: Set = None,
    force: Force = False,
) -> None:
    """Extract the foreground of each image: a binary mask and an RGBA cut-out at the input's size.

    Outputs mirror the inputs' folders (an --out inside an input folder is left out of its scan). Each
    image is recorded as soon as its outputs are written, and images already extracted with the same
    model and settings are skipped, so a run stopped at any point goes on where it stopped. Masks that
    cover almost none or almost all of their image are named in a warning. Chains start from N(0, I)
    with the settings of the profile the model was trained under (`drc settings --profile NAME`), then
    --params, then --set (sampler and readout), each image's drawn from a stream keyed by its pixels.
    """
    from drc.extraction import extract_folder

    refined = [f"readout.refine={refine}"] if refine else []
    sampler, readout = _inference(checkpoint, params, [*(set_ or []), *refined], "extract")
    report = extract_folder(checkpoint, inputs, out, sampler, readout, preview=preview, force=force)
    flagged = f"; {len(report.empty)} empty and {len(report.near_full)} near-full mask(s), named above"
    typer.echo(
        f"wrote masks and cut-outs of {report.written} image(s) to {out}; {report.up_to_date} already up to date"
        + (flagged if report.empty or report.near_full else "")
        + (f"; wrote {preview}" if preview else "")
    )
    if report.failed:
        names = ", ".join(str(p) for p, _ in report.failed[:10]) + (" ..." if len(report.failed) > 10 else "")
        typer.echo(f"{len(report.failed)} file(s) could not be read and were skipped: {names}", err=True)
        raise typer.Exit(1)


@app.command()
@exit_cleanly
def evaluate(
    checkpoint: Annotated[Path | None, typer.Argument(help="trained model (.pt); not with --from")] = None,
    images: Annotated[Path | None, typer.Option(help="folder of images (with --masks)")] = None,
    masks: Annotated[Path | None, typer.Option(help="folder of binary masks named <image stem>.png")] = None,
    dataset: Annotated[Path | None, typer.Option(help="a prepared dataset instead of --images / --masks")] = None,
    split: Annotated[str, typer.Option(help="with --dataset: the split to score")] = "eval",
    from_: Annotated[
        Path | None, typer.Option("--from", help="re-run every score of a scores file (reports/metrics/*.json)")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the scores and their settings here")] = None,
    params: Params = None,
    set_: Set = None,
    force: Force = False,
) -> None:
    """Score a model against ground-truth masks: IoU and Dice in percent, with what made them.

    Images are resized to the model's resolution; each inferred mask is resized back (bilinear, then
    > 0.5, as `extract` writes it) to its ground-truth mask's own size and scored there. The JSON holds
    the complete settings, the model's and the data's checksums and the code version: `drc evaluate
    --from FILE` re-runs it.
    """
    if from_ is not None:
        if checkpoint or images or masks or dataset:
            raise DRCError("--from re-runs a scores file alone: drop the checkpoint, --images, --masks and --dataset")
        _rerun(from_)
        return
    if checkpoint is None or (dataset is None) == (images is None or masks is None) or (dataset and (images or masks)):
        raise DRCError("give a checkpoint and either --images with --masks, or --dataset (or --from FILE alone)")
    from drc.checkpoint import read_checkpoint
    from drc.data.prepared import Prepared
    from drc.provenance import drc_scores, is_scores_file, prepared_record, score_record
    from drc.scoring import evaluate_folders, evaluate_prepared

    if json_out is not None:
        output_file(json_out, "--json", is_scores_file, "a scores file", force)
    sampler, readout = _inference(checkpoint, params, set_, "evaluate")
    if dataset is not None:
        prepared = Prepared.open(dataset)
        summary, _, _ = evaluate_prepared(checkpoint, dataset, split, sampler, readout)
        key, data = f"{prepared.name}/{split}", prepared_record(prepared, split)
    else:
        summary, data = evaluate_folders(checkpoint, images, masks, sampler, readout)
        key = images.name
    scores = drc_scores({key: score_record(summary, data, sampler, readout)}, checkpoint, read_checkpoint(checkpoint))
    shown = ("iou", "dice", "n_images", "refined")  # refined: the masks redrawn by GrabCut (readout.refine)
    typer.echo(json.dumps({k: summary[k] for k in shown if k in summary}))
    if json_out is not None:
        write_json(json_out, scores, replace=True)


def _rerun(path: Path) -> None:
    from drc.scoring import rerun_scores

    differ = 0
    for key, recorded, now in rerun_scores(path):
        same = all(round(recorded[m], 4) == round(now[m], 4) for m in ("iou", "dice"))
        differ += not same
        verdict = "reproduced" if same else f"DIFFERS (recorded {recorded['iou']:.2f} / {recorded['dice']:.2f})"
        typer.echo(f"{key}: IoU {now['iou']:.2f} / Dice {now['dice']:.2f} on {now['n_images']} images, {verdict}")
    if differ:
        raise typer.Exit(1)


@app.command()
@exit_cleanly
def settings(
    profile: Annotated[str, typer.Option(help="profile (drc/profiles/)")] = "cpu",
    dataset: Annotated[
        str, typer.Option(help="dataset (its paper facts apply: tmdsprites, birds, ...)")
    ] = "tmdsprites",
    params: Params = None,
    set_: Set = None,
    fields: Annotated[
        bool, typer.Option(help="list every settable key with its type, default and what it does instead")
    ] = False,
) -> None:
    """Print the resolved settings of a run as YAML (paper facts, profile, --params, --set)."""
    import yaml

    from drc.config import DOCUMENTED, describe
    from drc.params import check_dataset, resolve_settings

    if fields:
        for section, cls in DOCUMENTED.items():
            for name, kind, default, doc in describe(cls):
                typer.echo(f"{section}.{name}: {kind} (default {default!r})\n    {doc}")
        return
    values = _params(params)
    check_dataset(dataset, values)
    resolved = resolve_settings(dataset, profile, values, parse_set(set_ or []))
    typer.echo(yaml.safe_dump(resolved.to_dict(), sort_keys=False, default_flow_style=None).rstrip())


@app.command()
@exit_cleanly
def report(
    ablations: Annotated[
        bool, typer.Option(help="also Table 2 with a row per DVC experiment (reports/ablations.md)")
    ] = False,
) -> None:
    """Rebuild reports/results.csv, reports/tables/ and reports/figures/ from the pipeline's outputs."""
    from drc.reports.cli import report_command

    report_command(ablations)


if __name__ == "__main__":  # python -m drc.cli (as torchrun runs it)
    app()
