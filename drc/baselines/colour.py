"""The colour-only baseline: foreground where a pixel's saturation exceeds a threshold chosen per image.

Each image's HSV saturation (OpenCV's, 0-255) is split in two by Otsu's method, which picks the
threshold that best separates the image's saturation histogram into two classes; the more saturated
class is the foreground. No label is used, so it is as unsupervised as DRC, and it sees nothing but
colour: where it scores high, colour alone decides the task (grey gratings behind saturated sprites);
where colour does not decide (coloured gratings, photographs), it scores low.

Its masks redrawn by GrabCut (``colour_grabcut_masks``) are the baseline for DRC's read-out under
``readout.refine: grabcut``: the same redrawing from a seed that costs nothing, so what DRC adds to its own
GrabCut-redrawn score is what its masks add as a seed.
"""

from __future__ import annotations

import cv2
import numpy as np
from tqdm import tqdm

from drc.baselines.grabcut import REDRAW_ITERATIONS, refine_with_grabcut

# How GrabCut redraws the colour masks: DRC's read-out's redrawing (drc.readout), without its band.
REDRAWING = {"iterations": REDRAW_ITERATIONS, "band": None}


def saturation(image: np.ndarray) -> np.ndarray:
    """uint8 H x W saturation of a uint8 H x W x 3 RGB image (OpenCV's HSV: max - min over max, x 255)."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"the colour baseline needs a uint8 H x W x 3 RGB image, got {image.dtype} {image.shape}")
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2HSV)[..., 1]


def colour_mask(image: np.ndarray) -> np.ndarray:
    """bool H x W: pixels more saturated than the image's Otsu threshold of saturation."""
    sat = saturation(image)
    threshold, _ = cv2.threshold(sat, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return sat > threshold


def colour_masks(images: np.ndarray) -> np.ndarray:
    """bool N x H x W masks of uint8 N x H x W x 3 RGB images (one threshold per image)."""
    return np.stack([colour_mask(np.asarray(im)) for im in images]) if len(images) else np.zeros((0, 0, 0), bool)


def colour_grabcut_masks(images: np.ndarray, progress: bool = True) -> np.ndarray:
    """bool N x H x W: each image's colour mask redrawn by GrabCut seeded with it (``refine_with_grabcut`` under
    ``REDRAWING``). Unlike DRC's redrawing there is no band (any pixel may change) and no lower seed threshold (a
    colour mask has no soft mask to take one from): those are read-out settings chosen for DRC's masks."""
    masks = colour_masks(images)
    bar = tqdm(zip(images, masks, strict=True), total=len(masks), desc="colour + grabcut", disable=not progress)
    return np.stack([refine_with_grabcut(np.asarray(im), m, **REDRAWING) for im, m in bar]) if len(masks) else masks
