"""The `drc` command line: train, extract foregrounds from your images, evaluate against masks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer

from drc.atomic import write_json
from drc.errors import exit_cleanly

if TYPE_CHECKING:  # the commands import torch-backed modules only when they run
    from drc.train_config import InferConfig

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

# Inference options shared by `extract` and `evaluate` (None = the settings stored with the model).
Steps = Annotated[int | None, typer.Option(help="posterior Langevin steps (default: the model's)")]
Restarts = Annotated[int | None, typer.Option(help="chains per image from N(0, I) (default: the model's)")]
CombineRestarts = Annotated[
    str | None,
    typer.Option(
        help="lowest_energy: the mask of the restart with the lowest energy; mean_mask: the mean of the "
        "restarts' masks (default: the model's)"
    ),
]
SettleSteps = Annotated[
    int | None,
    typer.Option(
        help="noise-free steps before the mask is read, from the kept chain (every chain with mean_mask; "
        "default: the model's)"
    ),
]
BatchSize = Annotated[int | None, typer.Option(help="images per batch")]
Seed = Annotated[int, typer.Option(help="seed of the Langevin chains")]
MaskFrom = Annotated[
    str | None,
    typer.Option(help="read the mask from pi_f (paper) or responsibility (default: the model's)"),
]
MaskThreshold = Annotated[
    float | None,
    typer.Option(help="foreground where the read-out exceeds this (paper 0.5; default: the model's)"),
]


@app.command()
@exit_cleanly
def train(
    dataset: Annotated[Path, typer.Option(help="prepared dataset folder (e.g. data/prepared/tmdsprites)")],
    out: Annotated[Path, typer.Option(help="checkpoint file to write (resumed if it exists)")],
    name: Annotated[str, typer.Option(help="dataset name in params.yaml's paper_by_dataset")] = "tmdsprites",
    split: Annotated[str, typer.Option(help="split to train on: all | train")] = "all",
    params: Annotated[Path, typer.Option(help="params file")] = Path("params.yaml"),
    profile: Annotated[str | None, typer.Option(help="override params.yaml's profile")] = None,
    live_dir: Annotated[Path | None, typer.Option(help="DVCLive folder for curves and sample grids")] = None,
    fresh: Annotated[bool, typer.Option(help="ignore an existing checkpoint and start again")] = False,
) -> None:
    """Train DRC on a prepared dataset with the settings of params.yaml.

    Under torchrun with several ranks (``torchrun --nproc_per_node=N -m drc.cli train ...``) it trains
    with one process per rank (drc/distributed.py); rank 0 prints the losses instead of DVCLive.
    """
    from drc.distributed import run_ranks, under_torchrun
    from drc.experiment import train_model
    from drc.params import load_params, resolve_settings

    settings = resolve_settings(load_params(params), name, profile)
    if under_torchrun():
        run_ranks(dataset, split, settings, out, resume=not fresh)
        return
    trainer = train_model(dataset, split, settings, out, live_dir=live_dir, resume=not fresh)
    typer.echo(f"trained {trainer.iteration} iterations -> {out}")


def _infer_for_new_images(
    ckpt: dict,
    steps: int | None,
    restarts: int | None,
    settle_steps: int | None,
    batch_size: int | None,
    seed: int,
    mask_from: str | None,
    mask_threshold: float | None,
    combine_restarts: str | None,
) -> InferConfig:
    """The inference settings stored with the model for images it never saw (chains from N(0, I)),
    with the command's options where given (None = the model's)."""
    from drc.experiment import infer_config_of

    options = {"steps": steps, "restarts": restarts, "settle_steps": settle_steps, "batch_size": batch_size}
    readout = {"mask_from": mask_from, "mask_threshold": mask_threshold, "combine_restarts": combine_restarts}
    return infer_config_of(ckpt, **options, **readout, init="noise", seed=seed)


@app.command()
@exit_cleanly
def extract(
    checkpoint: Annotated[Path, typer.Argument(help="trained model (.pt)")],
    inputs: Annotated[list[Path], typer.Argument(help="image files and/or folders of images")],
    out: Annotated[Path, typer.Option(help="output folder: <stem>_mask.png and <stem>_cutout.png")],
    steps: Steps = None,
    restarts: Restarts = None,
    settle_steps: SettleSteps = None,
    batch_size: BatchSize = None,
    seed: Seed = 0,
    mask_from: MaskFrom = None,
    mask_threshold: MaskThreshold = None,
    combine_restarts: CombineRestarts = None,
) -> None:
    """Extract the foreground of each image: a binary mask and an RGBA cut-out at the input's size."""
    from drc.checkpoint import read_checkpoint
    from drc.data.prepared import to_model_range
    from drc.experiment import extract_images
    from drc.imageio import cutout, find_images, read_rgb, resize_rgb, write_png
    from drc.model.config import ModelConfig

    ckpt = read_checkpoint(checkpoint)
    res = ModelConfig.from_dict(ckpt["model_config"]).resolution
    paths = find_images(inputs)
    originals = [read_rgb(p) for p in paths]  # read everything first: a bad file fails before any output
    x = to_model_range(np.stack([resize_rgb(im, res) for im in originals]))
    infer = _infer_for_new_images(
        ckpt, steps, restarts, settle_steps, batch_size, seed, mask_from, mask_threshold, combine_restarts
    )
    result = extract_images(checkpoint, x, infer)
    for path, image, soft in zip(paths, originals, result.soft_mask.numpy(), strict=True):
        mask, rgba = cutout(image, soft)
        write_png(out / f"{path.stem}_mask.png", (mask * 255).astype(np.uint8))
        write_png(out / f"{path.stem}_cutout.png", rgba)
    typer.echo(f"wrote masks and cut-outs of {len(paths)} image(s) to {out}")


@app.command()
@exit_cleanly
def evaluate(
    checkpoint: Annotated[Path, typer.Argument(help="trained model (.pt)")],
    images: Annotated[Path, typer.Option(help="folder of images")],
    masks: Annotated[Path, typer.Option(help="folder of binary masks named <image stem>.png")],
    json_out: Annotated[Path | None, typer.Option("--json", help="write the scores to this JSON file")] = None,
    steps: Steps = None,
    restarts: Restarts = None,
    settle_steps: SettleSteps = None,
    batch_size: BatchSize = None,
    seed: Seed = 0,
    mask_from: MaskFrom = None,
    mask_threshold: MaskThreshold = None,
    combine_restarts: CombineRestarts = None,
) -> None:
    """Score a model on any folder of images against same-stem masks: IoU and Dice in percent.

    Images are resized to the model's resolution; each inferred mask is resized back (bilinear, then
    > 0.5, as `extract` writes it) to its ground-truth mask's own size and scored there.
    """
    from drc.checkpoint import read_checkpoint
    from drc.data.prepared import to_model_range
    from drc.experiment import extract_images
    from drc.imageio import find_images, matching_masks, read_mask, read_rgb, resize_rgb
    from drc.metrics import scores_at_target_size, summarize
    from drc.model.config import ModelConfig

    ckpt = read_checkpoint(checkpoint)
    res = ModelConfig.from_dict(ckpt["model_config"]).resolution
    paths = find_images([images])
    mask_paths = matching_masks(paths, masks)
    x = to_model_range(np.stack([resize_rgb(read_rgb(p), res) for p in paths]))
    gt = [read_mask(p) for p in mask_paths]
    infer = _infer_for_new_images(
        ckpt, steps, restarts, settle_steps, batch_size, seed, mask_from, mask_threshold, combine_restarts
    )
    result = extract_images(checkpoint, x, infer)
    scores = {
        **summarize(*scores_at_target_size(result.soft_mask, gt)),
        **infer.score_fields(),
    }
    typer.echo(json.dumps(scores))
    if json_out is not None:
        write_json(json_out, scores)


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
