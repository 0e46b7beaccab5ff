"""Images at other sizes, and writing them (reading images: drc/data/folder.py)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from drc.atomic import atomic_path
from drc.data.prepared import resize_images
from drc.errors import DRCError


def resize_rgb(image: np.ndarray, resolution: int) -> np.ndarray:
    """H x W x 3 -> r x r x 3 with the filter the models were trained with (``resize_images``)."""
    return resize_images(image[None], resolution)[0]


def resize_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """An H x W x 3 image at ``height`` x ``width`` (area filter; the image itself when it already is)."""
    if image.shape[:2] == (height, width):
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def resize_soft_mask(soft_mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """A soft mask (r x r) at ``height`` x ``width``, bilinear, float32: how a mask leaves the model at another
    size before it is cut (``drc.readout``)."""
    return cv2.resize(np.asarray(soft_mask).astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)


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
