"""Crop geometry and the crop-and-resize of images and masks shared by the real datasets.

Boxes are ``(x1, y1, x2, y2)`` in pixels as the annotations give them. The crop rule is the official
code's (CUB loader): centre ``c = int(box centre)``, half-side ``r = int(scale * max(w, h))``, the
square ``[c - r, c + r)`` clipped to the image, so a crop at the image border is not square; it is
resized to ``resolution`` x ``resolution`` anyway. Ground-truth masks get the same crop and the same
resize as the image (as soft masks), then are binarised at 0.5.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from drc.data.download import iter_tar
from drc.data.prepared import resize_images
from drc.errors import DRCError

Box = tuple[float, float, float, float]
Crop = tuple[int, int, int, int]


def square_crop(box: Box, width: int, height: int, scale: float) -> Crop:
    """The crop ``(x1, y1, x2, y2)`` (x2, y2 exclusive) for ``box`` in a ``width`` x ``height`` image."""
    x1, y1, x2, y2 = box
    r = int(scale * max(x2 - x1, y2 - y1))
    cx, cy = int((x1 + x2) / 2), int((y1 + y2) / 2)
    crop = (max(0, cx - r), max(0, cy - r), min(width, cx + r), min(height, cy + r))
    if crop[2] <= crop[0] or crop[3] <= crop[1]:
        raise ValueError(f"box {box} gives an empty crop {crop} in a {width}x{height} image")
    return crop


def crop_resize_image(image: np.ndarray, crop: Crop, resolution: int) -> np.ndarray:
    """uint8 H x W x 3 -> the crop resized to ``resolution`` x ``resolution`` x 3."""
    x1, y1, x2, y2 = crop
    return resize_images(image[None, y1:y2, x1:x2], resolution)[0]


def crop_resize_mask(mask: np.ndarray, crop: Crop, resolution: int) -> np.ndarray:
    """Foreground probability H x W in [0, 1] (or bool) -> bool crop, resized like the image, then > 0.5."""
    x1, y1, x2, y2 = crop
    soft = np.asarray(mask[y1:y2, x1:x2], dtype=np.float32)
    return resize_images(soft[None], resolution)[0] > 0.5


def decode_image(data: bytes, name: str) -> np.ndarray:
    """Encoded image -> uint8 H x W x 3 RGB (greyscale and CMYK JPEGs included)."""
    return np.asarray(_open(data, name).convert("RGB"))


def decode_mask(data: bytes, name: str) -> np.ndarray:
    """Encoded greyscale mask -> float32 H x W in [0, 1]."""
    return np.asarray(_open(data, name).convert("L"), dtype=np.float32) / 255.0


def _open(data: bytes, name: str) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise DRCError(f"{name} is not a readable image ({exc}); the archive is damaged: delete it") from exc
    return image


@dataclass(frozen=True)
class CropJob:
    """One archive member to crop: its box and, where the dataset has one, its encoded mask."""

    box: Box
    mask: bytes | None = None


def crop_archive(
    archive: Path, jobs: Mapping[str, CropJob], *, resolution: int, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Crop and resize every member named in ``jobs``, in the order of ``jobs``.

    Returns images (N x r x r x 3 uint8) and masks (N x r x r bool; all False where a job has no mask).
    """
    row_of = {name: row for row, name in enumerate(jobs)}
    images = np.zeros((len(jobs), resolution, resolution, 3), np.uint8)
    masks = np.zeros((len(jobs), resolution, resolution), bool)
    done: set[str] = set()
    members = iter_tar(archive, row_of.__contains__)
    for name, data in tqdm(members, total=len(jobs), desc=f"crop {archive.name}", unit="img"):
        job, row = jobs[name], row_of[name]
        image = decode_image(data, name)
        height, width = image.shape[:2]
        try:
            crop = square_crop(job.box, width, height, scale)
        except ValueError as exc:
            raise DRCError(f"{name}: {exc}; its annotation is broken") from exc
        images[row] = crop_resize_image(image, crop, resolution)
        if job.mask is not None:
            mask = decode_mask(job.mask, name)
            if mask.shape != (height, width):
                raise DRCError(f"{name}: mask is {mask.shape[::-1]} but the image is {(width, height)}")
            masks[row] = crop_resize_mask(mask, crop, resolution)
        done.add(name)
        if len(done) == len(jobs):
            break
    missing = [name for name in jobs if name not in done]
    if missing:
        raise DRCError(
            f"{archive} lacks {len(missing)} listed images (first: {missing[0]}): it is not the expected "
            "archive; replace it"
        )
    return images, masks
