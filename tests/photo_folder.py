"""A folder of 'own images' in every awkward form, for the import, training and extraction tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tests.helpers import squares_on_stripes

EXIF_ORIENTATION = 0x0112
ROTATE_90_CW = 6  # EXIF: the stored pixels must be turned 90 degrees clockwise to be seen upright


def write_photo_folder(root: Path, masks: Path | None = None) -> dict[str, tuple[int, int]]:
    """Images under ``root`` (nested, mixed formats and sizes, grey, RGBA, 16-bit, palette GIF,
    EXIF-rotated, two files with the same stem, one corrupt and one empty file, a HEIC file, which is not
    read, and a text file) and, with ``masks``, their masks (one image has none). Returns {relative path:
    (height, width) as seen} of the readable images."""
    images, truth = squares_on_stripes(n=8, res=48, seed=4)
    seen: dict[str, tuple[int, int]] = {}

    def save(rel: str, array: np.ndarray, mask: np.ndarray | None, **kwargs: object) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(path, **kwargs)
        if masks is not None and mask is not None:
            mask_path = masks / Path(rel).with_suffix(".png")
            mask_path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(mask.astype(np.uint8) * 255).save(mask_path)

    save("a/plain.jpg", images[0], truth[0], quality=95)
    save("a/x.png", images[1], truth[1])
    save("b/x.jpg", images[2], truth[2], quality=95)  # the same stem as a/x.png
    wide = np.concatenate([images[3], images[4][:, :16]], axis=1)  # 48 x 64: not square
    save("b/deeper/wide.webp", wide, np.concatenate([truth[3], truth[4][:, :16]], axis=1), lossless=True)
    save("grey.bmp", images[5].mean(-1).astype(np.uint8), truth[5])
    rgba = np.dstack([images[6], np.where(truth[6], 255, 0).astype(np.uint8)])
    save("rgba.png", rgba, truth[6])
    sixteen = (images[7].mean(-1) * 257).astype(np.uint16)  # 16-bit grey
    save("sixteen.tif", sixteen, truth[7])
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = ROTATE_90_CW
    cols = np.flatnonzero(truth[0].any(0))
    start = min(int(cols.min()), 48 - 24)  # 24 columns that hold the whole square
    tall = np.ascontiguousarray(images[0][:, start : start + 24])  # stored 48 x 24 (h x w), seen 24 x 48
    save("rotated.jpg", tall, None, quality=95, exif=exif)
    if masks is not None:  # its mask as seen: the stored mask turned 90 degrees clockwise
        seen_mask = np.rot90(truth[0][:, start : start + 24], k=-1)
        Image.fromarray(seen_mask.astype(np.uint8) * 255).save(masks / "rotated.png")
    save("c/no_mask.png", images[1], None)  # has no mask when masks are given
    (root / "c/broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "c/empty.png").write_bytes(b"")
    (root / "c/phone.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic")  # a format that is not read: named, skipped
    (root / "c/notes.txt").write_text("not an image: not an input")
    save("palette.gif", images[5], truth[5])
    (root / ".hidden").mkdir()
    save(".hidden/ignored.png", images[0], None)
    for rel in (
        "a/plain.jpg",
        "a/x.png",
        "b/x.jpg",
        "grey.bmp",
        "rgba.png",
        "sixteen.tif",
        "c/no_mask.png",
        "palette.gif",
    ):
        seen[rel] = (48, 48)
    seen["b/deeper/wide.webp"] = (48, 64)
    seen["rotated.jpg"] = (24, 48)
    return seen
