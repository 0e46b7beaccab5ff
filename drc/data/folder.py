"""Your own images: a plain folder (searched recursively) into the prepared format, masks optional.

Each image is read with its EXIF orientation applied, converted to 8-bit RGB (grey, palette, 16-bit and
RGBA images included; transparency is composited over white; an animated GIF's first frame), made square
(a centred crop, or padding with its edge colours), and shrunk with an antialiasing filter to the
resolution. Masks, when given, are found under the masks folder at the image's relative path and stem
(any image suffix), binarised at half their range and squared and resized exactly as their image. A file
that cannot be read (corrupt, empty, not an image, an image format this does not read such as HEIC) is
named on one line, skipped and counted in ``meta.json``; so is an image without a mask when masks are
given. A folder with no readable image is one clear error.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from drc.data.prepared import claim_prepared, resize_images, resize_masks, write_prepared
from drc.errors import DRCError
from drc.outputs import outside_inputs, within

SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".avif")
# Image files that are not read (no decoder here, or not a raster photo): named as skipped, never ignored.
UNSUPPORTED = (".heic", ".heif", ".jxl", ".svg", ".psd", ".dng", ".raw", ".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2")
Fit = Literal["crop", "pad"]
UNREADABLE = (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError, SyntaxError)


@dataclass(frozen=True)
class Scan:
    """The image files under a folder, each list sorted by relative path."""

    images: list[Path]  # of a format that is read (SUFFIXES)
    unsupported: list[Path]  # of an image format that is not (UNSUPPORTED): to be named as skipped


def scan_images(root: Path, exclude: Iterable[Path] = ()) -> Scan:
    """Image files under ``root`` (any depth), hidden folders and the ``exclude`` paths (a command's own
    outputs inside the folder) left out."""
    if not root.is_dir():
        raise DRCError(f"{root} is not a folder; pass the folder that holds your images")
    excluded = [Path(e) for e in exclude if within(Path(e), root)]
    found: dict[bool, list[Path]] = {True: [], False: []}
    for p in root.rglob("*"):
        suffix = p.suffix.lower()
        if suffix not in SUFFIXES and suffix not in UNSUPPORTED:
            continue
        if any(part.startswith(".") for part in p.relative_to(root).parts) or not p.is_file():
            continue
        if any(within(p, e) for e in excluded):
            continue
        found[suffix in SUFFIXES].append(p)
    order = {"key": lambda p: p.relative_to(root).as_posix()}
    return Scan(sorted(found[True], **order), sorted(found[False], **order))


def unsupported_reason(path: Path) -> str:
    return f"{path.suffix.lower()} images are not read here; convert it to JPEG or PNG"


def _open(path: Path) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # a decompression bomb is unreadable
        image = Image.open(path)
        image.load()
    return ImageOps.exif_transpose(image)


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and float greys scaled to 0-255 by their type's range."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        top = 65535.0 if image.mode != "I" or np.asarray(image).max() > 255 else 255.0
        return Image.fromarray((np.asarray(image, np.float64) * 255.0 / top).round().clip(0, 255).astype(np.uint8))
    if image.mode == "F":
        return Image.fromarray((np.asarray(image, np.float64).clip(0, 1) * 255).round().astype(np.uint8))
    return image


def read_image(path: Path) -> np.ndarray:
    """uint8 H x W x 3 RGB, EXIF orientation applied, transparency composited over white."""
    image = _to_8bit(_open(path))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    rgb = np.asarray(image.convert("RGB"))
    if rgb.size == 0:
        raise ValueError("the image has no pixels")
    return rgb


def read_mask(path: Path) -> np.ndarray:
    """bool H x W: pixels at or above half the mask's range (any bit depth), EXIF orientation applied."""
    image = _open(path)
    values = np.asarray(image.convert("L") if image.mode not in ("I;16", "I;16B", "I;16L", "I", "F", "L") else image)
    if values.ndim == 3:
        values = values[..., 0]
    top = {np.dtype(np.uint8): 255, np.dtype(np.bool_): 1}.get(values.dtype, 65535 if values.max() > 255 else 255)
    return values.astype(np.float64) >= top / 2


def square(array: np.ndarray, fit: Fit) -> np.ndarray:
    """The centred square of an H x W [x C] array: cropped to the short side, or padded to the long one
    with its edge values (so a border adds no new colour)."""
    h, w = array.shape[:2]
    side = min(h, w) if fit == "crop" else max(h, w)
    if fit == "crop":
        top, left = (h - side) // 2, (w - side) // 2
        return array[top : top + side, left : left + side]
    pad = [((side - h) // 2, side - h - (side - h) // 2), ((side - w) // 2, side - w - (side - w) // 2)]
    return np.pad(array, pad + [(0, 0)] * (array.ndim - 2), mode="edge")


def mask_for(image: Path, root: Path, masks: Path) -> Path | None:
    """The mask of ``image``: same relative folder and stem under ``masks``, any image suffix."""
    rel = image.relative_to(root).with_suffix("")
    for suffix in (".png", *SUFFIXES):
        candidate = masks / rel.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def prepare_folder(
    root: str | Path,
    out_dir: str | Path,
    resolution: int = 128,
    fit: Fit = "crop",
    masks: str | Path | None = None,
    name: str = "folder",
    force: bool = False,
) -> Path:
    """Read every image under ``root`` (and its mask under ``masks``) and write the prepared format.

    Ids are the images' paths relative to ``root``. Splits: ``all`` and ``eval`` (every image).
    ``meta.json`` ``stats`` counts what was found, kept and skipped, and names every skipped file and why.
    ``out_dir`` must be new, empty, an earlier prepared dataset or, with ``force``, any folder; it may lie
    inside ``root`` (it is left out of the scan, as is ``masks``) but not be ``root`` or ``masks`` itself.
    """
    root, out_dir = Path(root).expanduser(), Path(out_dir)
    masks_root = None if masks is None else Path(masks).expanduser()
    if masks_root is not None and not masks_root.is_dir():
        raise DRCError(f"mask folder {masks_root} does not exist")
    if fit not in ("crop", "pad"):
        raise DRCError(f"fit must be crop or pad, got {fit!r}")
    outside_inputs(out_dir, "--out", [root] + ([] if masks_root is None else [masks_root]))
    claim_prepared(out_dir, force)
    scan = scan_images(root, exclude=[out_dir] + ([] if masks_root is None else [masks_root]))
    paths = scan.images
    skipped: list[dict[str, str]] = []
    images, labels, ids = [], [], []

    def skip(rel: str, reason: str) -> None:
        skipped.append({"path": rel, "reason": reason})
        print(f"skipped {rel}: {reason}", flush=True)

    for path in scan.unsupported:
        skip(path.relative_to(root).as_posix(), unsupported_reason(path))
    for path in paths:
        rel = path.relative_to(root).as_posix()
        try:
            image = read_image(path)
        except UNREADABLE as exc:
            skip(rel, f"cannot be read as an image ({type(exc).__name__}: {str(exc)[:100]})")
            continue
        mask_path = None if masks_root is None else mask_for(path, root, masks_root)
        if masks_root is not None and mask_path is None:
            skip(rel, f"no mask of the same relative path and stem under {masks_root}")
            continue
        try:
            mask = None if mask_path is None else read_mask(mask_path)
        except UNREADABLE as exc:
            skip(rel, f"its mask {mask_path} cannot be read ({type(exc).__name__})")
            continue
        if mask is not None and mask.shape != image.shape[:2]:
            skip(
                rel, f"its mask is {mask.shape[1]} x {mask.shape[0]} px, the image {image.shape[1]} x {image.shape[0]}"
            )
            continue
        images.append(resize_images(square(image, fit)[None], resolution)[0])
        if mask is not None:
            labels.append(resize_masks(square(mask, fit)[None], resolution)[0])
        ids.append(rel)
    if not images:
        raise DRCError(f"no readable image ({', '.join(SUFFIXES)}) under {root}; {len(skipped)} file(s) skipped")
    stats = {
        "found": len(paths) + len(scan.unsupported),
        "kept": len(images),
        "skipped": len(skipped),
        "skipped_files": skipped,
    }
    source = {"folder": str(root), "masks": None if masks_root is None else str(masks_root), "fit": fit}
    return write_prepared(
        out_dir,
        name=name,
        images=np.stack(images),
        masks=np.stack(labels) if masks_root is not None else None,
        ids=ids,
        splits={"eval": range(len(images))},
        source={**source, "resolution": resolution},
        stats=stats,
        force=force,
    )
