"""Reading user images and masks from disk, and writing masks and cut-outs, with clear errors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from drc.atomic import atomic_path
from drc.data.prepared import resize_images
from drc.errors import DRCError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def find_images(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders (non-recursive) into a sorted list of image files."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file():
            found.append(p)
        else:
            raise DRCError(f"{p} does not exist; pass image files or folders of images")
    if not found:
        raise DRCError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {', '.join(map(str, paths))}")
    return found


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DRCError(f"cannot read image {path}; is it a valid image file?")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_mask(path: Path) -> np.ndarray:
    """Binary mask: pixels >= half of the maximum grey level are foreground (SPEC §3: binarised at 0.5)."""
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise DRCError(f"cannot read mask {path}; is it a valid image file?")
    return mask >= 128


def matching_masks(images: Sequence[Path], mask_dir: Path) -> list[Path]:
    """The same-stem PNG in ``mask_dir`` for every image; one error listing what is missing."""
    if not mask_dir.is_dir():
        raise DRCError(f"mask folder {mask_dir} does not exist")
    masks = [mask_dir / f"{p.stem}.png" for p in images]
    missing = [p.name for p, m in zip(images, masks, strict=True) if not m.is_file()]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise DRCError(f"{len(missing)} image(s) have no mask <stem>.png in {mask_dir}: {shown}")
    return masks


def resize_rgb(image: np.ndarray, resolution: int) -> np.ndarray:
    """H x W x 3 -> r x r x 3 with the filter the models were trained with (``resize_images``)."""
    return resize_images(image[None], resolution)[0]


def write_png(path: Path, array: np.ndarray) -> None:
    """Write an 8-bit PNG atomically (RGB or RGBA arrays are given in RGB order)."""
    if array.ndim == 3:
        code = cv2.COLOR_RGBA2BGRA if array.shape[2] == 4 else cv2.COLOR_RGB2BGR
        array = cv2.cvtColor(array, code)
    ok, buf = cv2.imencode(".png", array)
    if not ok:
        raise DRCError(f"could not encode {path}")
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.tobytes())


def soft_mask_at(soft_mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """The model's soft foreground mask (``Extraction.soft_mask``) resized (bilinear) to ``height`` x
    ``width``, binarised at 0.5.

    This is how a mask leaves the model at any size: cut-outs and scores against ground truth both use it.
    """
    return cv2.resize(soft_mask.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR) > 0.5


def cutout(image: np.ndarray, soft_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upsample the model's soft mask to the image's size; return (binary mask, RGBA cut-out)."""
    mask = soft_mask_at(soft_mask, *image.shape[:2])
    rgba = np.dstack([image, (mask * 255).astype(np.uint8)])
    return mask, rgba
