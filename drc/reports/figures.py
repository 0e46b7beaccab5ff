"""The report's figures as PNG files (matplotlib, Agg canvas: no display and no global pyplot state).

Each function draws one figure from arrays already loaded and writes it to ``path``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from drc.data.prepared import Prepared, resize_images, resize_masks, to_model_range
from drc.reports.grids import extraction_rows, tile, to_uint8

EXTRACTION_ROWS = ["observed", "composite", "masked fg", "background", "GT mask", "inferred mask"]
PAD = 2  # pixels between tiles, as grids.tile draws them


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100, bbox_inches="tight")


def grid_figure(
    rows: Sequence[np.ndarray], row_labels: Sequence[str], column_labels: Sequence[str], title: str, path: Path
) -> None:
    """Rows of equally sized uint8 images, one label per row (left) and per column (below)."""
    picture = tile(rows, PAD)
    n, h, w, _ = rows[0].shape
    fig = Figure(figsize=(1.0 * n + 1.5, 1.0 * len(rows) + 0.8))
    ax = fig.add_subplot()
    ax.imshow(picture, interpolation="nearest")
    ax.set_yticks([PAD + i * (h + PAD) + h / 2 for i in range(len(rows))], list(row_labels))
    ax.set_xticks([PAD + j * (w + PAD) + w / 2 for j in range(n)], list(column_labels), fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title)
    _save(fig, path)


def observed_and_masks(prepared: Prepared, rows: np.ndarray, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The prepared images (N x 3 x r x r in [-1, 1]) and ground-truth masks (N x r x r) of some rows."""
    images = to_model_range(resize_images(np.asarray(prepared.images[rows]), resolution))
    masks = torch.from_numpy(resize_masks(np.asarray(prepared.masks[rows]), resolution))
    return images, masks


def extraction_grid(
    evaluation: Mapping[str, np.ndarray], prepared: Prepared, order: np.ndarray, title: str, path: Path
) -> None:
    """The paper's Fig. 3 layout for the stored extractions ``order``, each column labelled by its IoU."""
    soft_mask = torch.from_numpy(evaluation["soft_mask"][order])
    observed, gt = observed_and_masks(prepared, evaluation["rows"][order], soft_mask.shape[-1])
    parts = {key: torch.from_numpy(evaluation[key][order]) for key in ("composite", "fg", "bg")}
    rows = extraction_rows(observed, parts["composite"], parts["fg"], parts["bg"], soft_mask, gt)
    labels = [f"IoU {100 * v:.1f}" for v in evaluation["iou"][order]]
    grid_figure(rows, EXTRACTION_ROWS, labels, title, path)


def comparison_grid(
    prepared: Prepared,
    rows: np.ndarray,
    grabcut: tuple[np.ndarray, np.ndarray],
    drc: tuple[np.ndarray, np.ndarray],
    title: str,
    path: Path,
) -> None:
    """Image, ground truth, GrabCut mask and DRC mask per column; ``grabcut``/``drc`` = (masks, IoU fractions).

    Everything is shown at the DRC masks' resolution.
    """
    drc_masks, drc_iou = drc
    grabcut_masks, grabcut_iou = grabcut
    resolution = drc_masks.shape[-1]
    observed, gt = observed_and_masks(prepared, rows, resolution)
    grabcut_small = torch.from_numpy(resize_masks(grabcut_masks, resolution))
    pictures = [to_uint8(observed), *(to_uint8(m.float()) for m in (gt, grabcut_small, torch.from_numpy(drc_masks)))]
    labels = [f"GC {100 * g:.0f}\nDRC {100 * d:.0f}" for g, d in zip(grabcut_iou, drc_iou, strict=True)]
    grid_figure(pictures, ["image", "GT mask", "GrabCut", "DRC"], labels, title, path)


def iou_histogram(scores: Mapping[str, np.ndarray], title: str, path: Path) -> None:
    """Per-image IoU (percent) of each method, overlaid, with each method's mean in the legend."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    bins = np.linspace(0, 100, 21)
    for method, iou in scores.items():
        ax.hist(iou, bins=bins, alpha=0.55, label=f"{method} (mean {np.mean(iou):.1f}, n={len(iou)})")
    ax.set_xlabel("IoU per image (%)")
    ax.set_ylabel("images")
    ax.set_title(title)
    ax.legend()
    _save(fig, path)


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


def training_curves(curves: Mapping[str, pd.DataFrame], title: str, path: Path) -> None:
    """Monitor IoU of the persistent chains against the training iteration, one line per run."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for label, curve in curves.items():
        ax.plot(curve["step"], curve["iou"], marker=".", label=label)
    ax.set_xlabel("iteration")
    ax.set_ylabel("monitor IoU (%)")
    ax.set_title(title)
    ax.legend()
    _save(fig, path)
