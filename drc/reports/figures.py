"""The report's figures as PNG (200 dpi) and PDF files (matplotlib, Agg canvas: no display and no pyplot
state; the style is set for each figure and restored after it).

Each function draws one figure from arrays already loaded and writes it to ``path`` (and its PDF beside
it). Image grids are drawn at the scoring resolution: the 128 px images and ground truth, the model's
renderings resized smoothly to that size, and each mask as it was scored there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import ParamSpec

import matplotlib
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from drc.data.prepared import Prepared, to_model_range
from drc.readout import Readout
from drc.reports.grids import extraction_rows, tile, to_uint8

EXTRACTION_ROWS = ["observed", "composite", "fg x DRC mask", "background", "GT mask", "DRC mask"]
# One colour per method, the same in every figure.
METHOD_COLOURS = {
    "DRC (paper)": "grey",
    "DRC, paper's read-out": "tab:cyan",
    "DRC, profile's read-out": "tab:blue",
    "GrabCut": "tab:orange",
    "colour threshold": "tab:green",
    "DRC, redrawn by GrabCut": "tab:purple",
    "colour threshold, redrawn by GrabCut": "tab:olive",
}
# Training's own monitor (the persistent chains), one per run: no method's colour.
CHAIN_COLOURS = ("tab:brown", "tab:pink")
PAD = 4  # pixels between tiles, as grids.tile draws them
DPI = 200
STYLE = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 10,
         "xtick.labelsize": 10, "ytick.labelsize": 10}  # fmt: skip
P = ParamSpec("P")


def styled(draw: Callable[P, None]) -> Callable[P, None]:
    """Draw under the report's style (readable at print size); matplotlib's settings are restored after."""

    @functools.wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        with matplotlib.rc_context(STYLE):
            draw(*args, **kwargs)

    return wrapper


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    # No creation date: a figure drawn again from the same numbers is the same file.
    fig.savefig(path.with_suffix(".pdf"), bbox_inches="tight", metadata={"CreationDate": None})


@styled
def grid_figure(
    rows: Sequence[np.ndarray], row_labels: Sequence[str], column_labels: Sequence[str], title: str, path: Path
) -> None:
    """Rows of equally sized uint8 images, one label per row (left) and per column (below)."""
    picture = tile(rows, PAD)
    n, h, w, _ = rows[0].shape
    fig = Figure(figsize=(1.25 * n + 1.8, 1.25 * len(rows) + 1.0))
    ax = fig.add_subplot()
    ax.imshow(picture, interpolation="nearest")
    ax.set_yticks([PAD + i * (h + PAD) + h / 2 for i in range(len(rows))], list(row_labels))
    ax.set_xticks([PAD + j * (w + PAD) + w / 2 for j in range(n)], list(column_labels))
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title)
    _save(fig, path)


def scored_masks(
    prepared: Prepared, evaluation: Mapping[str, np.ndarray], order: Sequence[int], how: Readout
) -> np.ndarray:
    """bool N x R x R: the stored extractions ``order`` (soft masks and renderings) as they were scored, at
    the ground truth's R px (``Readout.masks``: resized or decided per pixel, then redrawn by GrabCut on the
    image there when the read-out did so)."""
    images = np.asarray(prepared.images[evaluation["rows"][order]])
    renderings = how.renderings(evaluation["fg"][order], evaluation["bg"][order])
    return how.masks(evaluation["soft_mask"][order], images, renderings)


def _smooth(images: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(images.float(), size=(size, size), mode="bilinear", align_corners=False)


def extraction_grid(
    evaluation: Mapping[str, np.ndarray],
    prepared: Prepared,
    order: np.ndarray,
    how: Readout,
    title: str,
    path: Path,
) -> None:
    """The paper's Fig. 3 layout for the stored extractions ``order`` at the scoring resolution, each column
    labelled by its IoU: renderings resized smoothly, the mask as scored."""
    rows = evaluation["rows"][order]
    observed = to_model_range(np.asarray(prepared.images[rows]))
    size = observed.shape[-1]
    gt = torch.from_numpy(np.asarray(prepared.labelled_masks()[rows]))
    mask = torch.from_numpy(scored_masks(prepared, evaluation, order, how)).float()
    parts = {key: _smooth(torch.from_numpy(evaluation[key][order]), size) for key in ("composite", "fg", "bg")}
    pictures = extraction_rows(observed, parts["composite"], parts["fg"], parts["bg"], mask, gt)
    labels = [f"IoU {100 * v:.1f}" for v in evaluation["iou"][order]]
    grid_figure(pictures, EXTRACTION_ROWS, labels, title, path)


def comparison_grid(
    prepared: Prepared,
    rows: np.ndarray,
    grabcut: tuple[np.ndarray, np.ndarray],
    drc: tuple[np.ndarray, np.ndarray],
    title: str,
    path: Path,
) -> None:
    """Image, ground truth, GrabCut mask and DRC's own mask per column, all at the ground truth's resolution;
    ``grabcut``/``drc`` = (bool masks there, as scored; IoU fractions)."""
    drc_masks, drc_iou = drc
    grabcut_masks, grabcut_iou = grabcut
    observed = to_model_range(np.asarray(prepared.images[rows]))
    gt = np.asarray(prepared.labelled_masks()[rows])
    masks = (torch.from_numpy(np.asarray(m, np.float32)) for m in (gt, grabcut_masks, drc_masks))
    pictures = [to_uint8(observed), *(to_uint8(m) for m in masks)]
    labels = [f"GC {100 * g:.0f}\nDRC {100 * d:.0f}" for g, d in zip(grabcut_iou, drc_iou, strict=True)]
    grid_figure(pictures, ["image", "GT mask", "GrabCut", "DRC"], labels, title, path)


@styled
def iou_histogram(scores: Mapping[str, np.ndarray], title: str, path: Path) -> None:
    """Per-image IoU (percent) of each method, overlaid, with each method's mean in the legend."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    bins = np.linspace(0, 100, 21)
    for method, iou in scores.items():
        label = f"{method} (mean {np.mean(iou):.1f}, n={len(iou)})"
        ax.hist(iou, bins=bins, alpha=0.55, color=METHOD_COLOURS.get(method), label=label)
    ax.set_xlabel("IoU per image (%)")
    ax.set_ylabel("images")
    ax.set_title(title)
    ax.legend()
    _save(fig, path)


@styled
def margin_curve(sweep: pd.DataFrame, chosen: float | None, title: str, path: Path) -> None:
    """GrabCut IoU and Dice against the margin of its initial rectangle (fraction of the side)."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.plot(sweep.margin, sweep.iou, marker="o", label="IoU")
    ax.plot(sweep.margin, sweep.dice, marker="s", label="Dice")
    if chosen is not None:
        ax.axvline(chosen, color="grey", linestyle="--", label=f"margin used ({chosen:g})")
    ax.set_xlabel("rectangle margin (fraction of the image side)")
    ax.set_ylabel("score (%)")
    ax.set_title(f"{title} (first {int(sweep.n_images.iloc[0])} images)")
    ax.legend()
    _save(fig, path)


@styled
def training_curves(
    curves: Mapping[str, pd.DataFrame],
    progress: pd.DataFrame | None,
    scored: Mapping[str, tuple[int, float]],
    paper_iou: float | None,
    title: str,
    path: Path,
    scored_on: str = "every evaluation image",
) -> None:
    """IoU against the training iteration: the scored read-out of the run's snapshots on the first
    evaluation images (``progress``: iteration, iou, iou_refined, images; the progress stage), the
    persistent chains' pi_f > 0.5 on the training images (logged while training), one line per run; each
    run's score on ``scored_on`` as a marker at its last iteration; the paper's number as a line."""
    fig = Figure(figsize=(7.5, 4.8))
    ax = fig.add_subplot()
    if progress is not None and len(progress):
        n = int(progress["images"].iloc[0])
        own = METHOD_COLOURS["DRC, profile's read-out"]
        ax.plot(progress["iteration"], progress["iou"], marker="o", color=own, label=f"DRC's masks, first {n} images")
        if "iou_refined" in progress and not np.allclose(progress["iou_refined"], progress["iou"]):
            ax.plot(
                progress["iteration"],
                progress["iou_refined"],
                marker="o",
                linestyle="--",
                color=METHOD_COLOURS["DRC, redrawn by GrabCut"],
                label=f"redrawn by GrabCut (post-processing), first {n} images",
            )
    for i, (label, curve) in enumerate(curves.items()):
        ax.plot(
            curve["step"],
            curve["iou"],
            marker=".",
            alpha=0.7,
            color=CHAIN_COLOURS[i % len(CHAIN_COLOURS)],
            label=f"{label}: persistent chains, pi_f > 0.5",
        )
    for i, (label, (iteration, iou)) in enumerate(scored.items()):
        ax.plot(
            [iteration],
            [iou],
            marker="*P"[i % 2],
            markersize=14,
            linestyle="none",
            color=METHOD_COLOURS["DRC, profile's read-out"],
            label=f"{label}: DRC's masks scored, {scored_on} ({iou:.1f})",
        )
    if paper_iou is not None:
        ax.axhline(paper_iou, color="grey", linestyle="--", label=f"paper ({paper_iou:.1f}, 10K iterations)")
    ax.set_xlabel("training iteration")
    ax.set_ylabel("IoU (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(loc="best", fontsize=10)
    _save(fig, path)


@styled
def table1_bars(scores: pd.DataFrame, title: str, path: Path) -> None:
    """Table 1 as grouped bars: one group per dataset (index), one bar per method (columns), IoU in percent;
    a missing score leaves its bar out."""
    fig = Figure(figsize=(1.6 + 1.9 * len(scores), 4.5))
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(scores.columns))
    x = np.arange(len(scores))
    for j, method in enumerate(scores.columns):
        values = scores[method].to_numpy(float)
        offset = (j - (len(scores.columns) - 1) / 2) * width
        bars = ax.bar(x + offset, values, width, color=METHOD_COLOURS.get(method), label=method)
        ax.bar_label(bars, labels=["" if np.isnan(v) else f"{v:.0f}" for v in values], fontsize=10)
    ax.set_xticks(x, list(scores.index))
    ax.set_ylabel("IoU (%)")
    ax.set_ylim(0, 105)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _save(fig, path)


@styled
def iou_by_period(periods: np.ndarray, curves: Mapping[str, np.ndarray], title: str, path: Path) -> None:
    """Mean IoU per grating of the texture bank against its period (pixels at 128 px), one line per method."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    for label, means in curves.items():
        ax.plot(periods, means, marker="o", color=METHOD_COLOURS.get(label), label=label)
    ax.set_xscale("log")
    ax.set_xlabel("grating period (pixels at 128 px)")
    ax.set_ylabel("mean IoU per image (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend()
    _save(fig, path)
