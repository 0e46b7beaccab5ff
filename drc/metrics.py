"""Foreground-extraction scores (the paper §4.1): per-image IoU and Dice, averaged over images, in percent."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from drc.imageio import resize_soft_mask

ArrayLike = np.ndarray | torch.Tensor


def as_bool(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x).astype(bool)


def per_image_scores(pred: ArrayLike, target: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """IoU and Dice of each image (fractions in [0, 1]) for boolean masks of shape N x H x W.

    Both masks empty counts as a perfect match (1.0): nothing to find and nothing found.
    """
    p, t = as_bool(pred), as_bool(target)
    if p.shape != t.shape:
        raise ValueError(f"prediction {p.shape} and target {t.shape} differ in shape")
    p, t = p.reshape(len(p), -1), t.reshape(len(t), -1)
    inter = (p & t).sum(1).astype(np.float64)
    union = (p | t).sum(1).astype(np.float64)
    total = p.sum(1).astype(np.float64) + t.sum(1)
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    dice = np.where(total > 0, 2 * inter / np.maximum(total, 1), 1.0)
    return iou, dice


def resized_scores(soft_masks: ArrayLike, targets: Sequence[ArrayLike]) -> tuple[np.ndarray, np.ndarray]:
    """IoU and Dice of each image with its soft mask (r x r) resized (bilinear) to its ground-truth mask's size
    and cut at 0.5: the paper's read-out of pi_f, scored at the resolution the ground truth was given in."""
    soft = soft_masks.detach().cpu().numpy() if isinstance(soft_masks, torch.Tensor) else np.asarray(soft_masks)
    if len(soft) != len(targets):
        raise ValueError(f"{len(soft)} predictions for {len(targets)} ground-truth masks")
    cut = [resize_soft_mask(p, *np.shape(t)) > 0.5 for p, t in zip(soft, targets, strict=True)]
    return stacked_scores(cut, targets)


def stacked_scores(masks: Sequence[np.ndarray], targets: Sequence[ArrayLike]) -> tuple[np.ndarray, np.ndarray]:
    """IoU and Dice of each mask against its target, masks and targets of any size each (pairs agree)."""
    scores = [per_image_scores(m[None], as_bool(t)[None]) for m, t in zip(masks, targets, strict=True)]
    return np.array([s[0][0] for s in scores]), np.array([s[1][0] for s in scores])


def summarize(iou: np.ndarray, dice: np.ndarray) -> dict[str, float | int]:
    """Mean over images in percent, the form every table of the project uses."""
    return {"iou": float(100 * np.mean(iou)), "dice": float(100 * np.mean(dice)), "n_images": int(len(iou))}


def score_masks(pred: ArrayLike, target: ArrayLike) -> dict[str, float | int]:
    return summarize(*per_image_scores(pred, target))
