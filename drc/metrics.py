"""Foreground-extraction scores (the paper §4.1): per-image IoU and Dice, averaged over images, in percent."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from drc.fullres import RESIZED, MaskReadout, Renderings, of_image
from drc.imageio import mask_at, resize_to, soft_mask_at

ArrayLike = np.ndarray | torch.Tensor


def _as_bool(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x).astype(bool)


def per_image_scores(pred: ArrayLike, target: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """IoU and Dice of each image (fractions in [0, 1]) for boolean masks of shape N x H x W.

    Both masks empty counts as a perfect match (1.0): nothing to find and nothing found.
    """
    p, t = _as_bool(pred), _as_bool(target)
    if p.shape != t.shape:
        raise ValueError(f"prediction {p.shape} and target {t.shape} differ in shape")
    p, t = p.reshape(len(p), -1), t.reshape(len(t), -1)
    inter = (p & t).sum(1).astype(np.float64)
    union = (p | t).sum(1).astype(np.float64)
    total = p.sum(1).astype(np.float64) + t.sum(1)
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    dice = np.where(total > 0, 2 * inter / np.maximum(total, 1), 1.0)
    return iou, dice


def scores_at_target_size(
    soft_mask: ArrayLike,
    targets: Sequence[ArrayLike],
    images: Sequence[np.ndarray] | None = None,
    how: MaskReadout = RESIZED,
    renderings: Renderings | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """IoU and Dice of each image with the model's soft masks (N x r x r) brought to each ground-truth
    mask's own size (``drc.imageio.mask_at``): scores at the resolution the ground truth was given in.
    With ``how.refine`` (readout.refine) each mask is redrawn on its uint8 RGB image of ``images``, and with
    ``renderings`` (the batch's, readout.full_resolution) decided per pixel of it; the images are brought
    to the ground truth's size first."""
    soft = soft_mask.detach().cpu().numpy() if isinstance(soft_mask, torch.Tensor) else np.asarray(soft_mask)
    if len(soft) != len(targets):
        raise ValueError(f"{len(soft)} predictions for {len(targets)} ground-truth masks")
    uses_images = how.refine != "none" or renderings is not None
    if uses_images and (images is None or len(images) != len(targets)):
        raise ValueError(f"this read-out needs the {len(targets)} images the masks are decided on")
    scores = []
    for i, (p, t) in enumerate(zip(soft, targets, strict=True)):
        height, width = np.shape(t)
        mask = (
            mask_at(p, resize_to(images[i], height, width), how, of_image(renderings, i))
            if uses_images
            else soft_mask_at(p, height, width)
        )
        scores.append(per_image_scores(mask[None], _as_bool(t)[None]))
    return np.concatenate([s[0] for s in scores]), np.concatenate([s[1] for s in scores])


def summarize(iou: np.ndarray, dice: np.ndarray) -> dict[str, float | int]:
    """Mean over images in percent, the form every table of the project uses."""
    return {"iou": float(100 * np.mean(iou)), "dice": float(100 * np.mean(dice)), "n_images": int(len(iou))}


def score_masks(pred: ArrayLike, target: ArrayLike) -> dict[str, float | int]:
    return summarize(*per_image_scores(pred, target))
