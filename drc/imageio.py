"""Masks and cut-outs at an image's own size, and writing them (reading images: drc/data/folder.py)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from drc.atomic import atomic_path
from drc.baselines.grabcut import refine_with_grabcut
from drc.data.prepared import resize_images
from drc.errors import DRCError
from drc.fullres import RESIZED, MaskReadout, Renderings, full_resolution_mask


def resize_rgb(image: np.ndarray, resolution: int) -> np.ndarray:
    """H x W x 3 -> r x r x 3 with the filter the models were trained with (``resize_images``)."""
    return resize_images(image[None], resolution)[0]


def resize_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """An H x W x 3 image at ``height`` x ``width`` (area filter; the image itself when it already is)."""
    if image.shape[:2] == (height, width):
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def write_png(path: Path, array: np.ndarray, replace: bool = False) -> None:
    """Write an 8-bit PNG atomically (RGB or RGBA arrays are given in RGB order); ``replace``: an existing
    file there is the caller's own output (drc/atomic.py)."""
    if array.ndim == 3:
        code = cv2.COLOR_RGBA2BGRA if array.shape[2] == 4 else cv2.COLOR_RGB2BGR
        array = cv2.cvtColor(array, code)
    ok, buf = cv2.imencode(".png", array)
    if not ok:
        raise DRCError(f"could not encode {path}")
    with atomic_path(path, replace=replace) as tmp:
        tmp.write_bytes(buf.tobytes())


def soft_mask_at(soft_mask: np.ndarray, height: int, width: int, cut: float = 0.5) -> np.ndarray:
    """The model's soft foreground mask (``Extraction.soft_mask``) resized (bilinear) to ``height`` x
    ``width``, binarised at ``cut`` (0.5: the read-out's threshold, on which the soft mask is recentred).

    This is how a mask leaves the model at any size: cut-outs and scores against ground truth both use it.
    """
    return cv2.resize(soft_mask.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR) > cut


def mask_at(
    soft_mask: np.ndarray, image: np.ndarray, how: MaskReadout = RESIZED, renderings: Renderings | None = None
) -> np.ndarray:
    """bool mask at ``image``'s size: ``soft_mask_at``, or with ``renderings`` (readout.full_resolution)
    decided per pixel of the image (``full_resolution_mask``); under ``how.refine="grabcut"`` that mask,
    at GrabCut's seed threshold (readout.seed_threshold), seeds GrabCut, which redraws its edges on the
    image there (within readout.grabcut_band of them). Masks that are written and masks that are scored both
    leave the model through this function."""
    if how.refine not in ("none", "grabcut"):
        raise DRCError(f"readout.refine must be none | grabcut, got {how.refine!r}")
    if renderings is None:
        mask = soft_mask_at(soft_mask, *image.shape[:2], cut=how.resized_cut())
    else:
        mask = full_resolution_mask(soft_mask, image, renderings, how)
    if how.refine == "none":
        return mask
    return refine_with_grabcut(image, mask, band=how.band_pixels(np.shape(soft_mask)[-1], *image.shape[:2]))


def cutout(
    image: np.ndarray, soft_mask: np.ndarray, how: MaskReadout = RESIZED, renderings: Renderings | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The model's mask at the image's size (``mask_at``); returns (binary mask, RGBA cut-out)."""
    mask = mask_at(soft_mask, image, how, renderings)
    rgba = np.dstack([image, (mask * 255).astype(np.uint8)])
    return mask, rgba
