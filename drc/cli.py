"""The `drc` command line: train, extract foregrounds from your images, evaluate against masks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

from drc.atomic import write_json
from drc.config import SECTIONS, choices_help, parse_set
from drc.errors import DRCError, exit_cleanly

if TYPE_CHECKING:  # the commands import torch-backed modules only when they run
    from drc.config import ReadoutConfig, SamplerConfig

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

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


@app.command()
@exit_cleanly
def train(
    dataset: Annotated[Path, typer.Option(help="prepared dataset folder (e.g. data/prepared/tmdsprites)")],
    out: Annotated[Path, typer.Option(help="checkpoint file to write (resumed if it exists)")],
    profile: Annotated[str | None, typer.Option(help="profile (drc/profiles/): the params file's, else cpu")] = None,
    params: Params = None,
    set_: Set = None,
    split: Annotated[str, typer.Option(help="split to train on: all | train")] = "all",
    live_dir: Annotated[Path | None, typer.Option(help="DVCLive folder for curves and sample grids")] = None,
    fresh: Annotated[bool, typer.Option(help="ignore an existing checkpoint and start again")] = False,
) -> None:
    """Train DRC on a prepared dataset: the profile's settings, then --params, then --set.

    Under torchrun with several ranks (``torchrun --nproc_per_node=N -m drc.cli train ...``) it trains
    with one process per rank (drc/distributed.py); rank 0 prints the losses instead of DVCLive.
    """
    from drc.data.prepared import Prepared
    from drc.distributed import run_ranks, under_torchrun
    from drc.params import resolve_section
    from drc.trainrun import train_model

    values = _params(params)
    profile = profile or (values or {}).get("profile") or "cpu"
    overrides = parse_set(set_ or [])
    name = Prepared.open(dataset).name
    model = resolve_section("model", name, profile, values, overrides)
    learning = resolve_section("train", name, profile, values, overrides)
    if under_torchrun():
        run_ranks(dataset, split, model, learning, out, profile, resume=not fresh)
        return
    trainer = train_model(dataset, split, model, learning, out, live_dir=live_dir, profile=profile, resume=not fresh)
    typer.echo(f"trained {trainer.iteration} iterations -> {out}")


def _inference(checkpoint: Path, params: Path | None, set_: list[str] | None) -> tuple[SamplerConfig, ReadoutConfig]:
    """The model's inference settings (its profile's) for images it never saw: chains from N(0, I)."""
    from drc.checkpoint import read_checkpoint
    from drc.scoring import inference_settings

    overrides = parse_set(set_ or [])
    overrides["sampler"] = {"init": "noise", **overrides.get("sampler", {})}
    return inference_settings(read_checkpoint(checkpoint), _params(params), overrides)


@app.command()
@exit_cleanly
def extract(
    checkpoint: Annotated[Path, typer.Argument(help="trained model (.pt)")],
    inputs: Annotated[list[Path], typer.Argument(help="image files and/or folders of images")],
    out: Annotated[Path, typer.Option(help="output folder: <stem>_mask.png and <stem>_cutout.png")],
    params: Params = None,
    set_: Set = None,
) -> None:
    """Extract the foreground of each image: a binary mask and an RGBA cut-out at the input's size.

    Chains start from N(0, I) and follow the settings of the profile the model was trained under
    (`drc settings --profile NAME` shows them), then --params, then --set (e.g. --set sampler.seed=1).
    """
    from drc.checkpoint import model_config_of, read_checkpoint
    from drc.data.prepared import to_model_range
    from drc.imageio import cutout, find_images, read_rgb, resize_rgb, write_png
    from drc.scoring import extract_images

    res = model_config_of(read_checkpoint(checkpoint)).resolution
    sampler, readout = _inference(checkpoint, params, set_)
    paths = find_images(inputs)
    originals = [read_rgb(p) for p in paths]  # read everything first: a bad file fails before any output
    x = to_model_range(np.stack([resize_rgb(im, res) for im in originals]))
    result = extract_images(checkpoint, x, sampler, readout)
    for path, image, soft in zip(paths, originals, result.soft_mask.numpy(), strict=True):
        mask, rgba = cutout(image, soft)
        write_png(out / f"{path.stem}_mask.png", (mask * 255).astype(np.uint8))
        write_png(out / f"{path.stem}_cutout.png", rgba)
    typer.echo(f"wrote masks and cut-outs of {len(paths)} image(s) to {out}")


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
    from drc.provenance import drc_scores, prepared_record, score_record
    from drc.scoring import evaluate_folders, evaluate_prepared

    sampler, readout = _inference(checkpoint, params, set_)
    if dataset is not None:
        prepared = Prepared.open(dataset)
        summary, _, _ = evaluate_prepared(checkpoint, dataset, split, sampler, readout)
        key, data = f"{prepared.name}/{split}", prepared_record(prepared, split)
    else:
        summary, data = evaluate_folders(checkpoint, images, masks, sampler, readout)
        key = images.name
    scores = drc_scores({key: score_record(summary, data, sampler, readout)}, checkpoint, read_checkpoint(checkpoint))
    typer.echo(json.dumps({"iou": summary["iou"], "dice": summary["dice"], "n_images": summary["n_images"]}))
    if json_out is not None:
        write_json(json_out, scores)


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
    fields: Annotated[bool, typer.Option(help="list every settable key with its type and default instead")] = False,
) -> None:
    """Print the resolved settings of a run as YAML (paper facts, profile, --params, --set)."""
    import yaml

    from drc.config import describe
    from drc.params import resolve_settings

    if fields:
        for section, cls in SECTIONS.items():
            for name, kind, default in describe(cls):
                typer.echo(f"{section}.{name}: {kind} (default {default!r})")
        return
    resolved = resolve_settings(dataset, profile, _params(params), parse_set(set_ or []))
    typer.echo(yaml.safe_dump(resolved.to_dict(), sort_keys=False).rstrip())


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
