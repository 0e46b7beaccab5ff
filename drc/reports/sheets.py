"""Contact sheets: for each image, the image, its mask drawn over it, and its cut-out on a checkerboard."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

TILE = 160  # px, the long side of each thumbnail
PAD = 4
PER_ROW = 6  # images per row of the sheet
OVERLAY = np.array([255, 40, 200], np.float64)  # the mask's tint: a magenta that natural images rarely hold


def thumbnail(array: np.ndarray, tile: int = TILE) -> np.ndarray:
    """``array`` (H x W x C) fitted into a tile x tile square, centred on white."""
    h, w = array.shape[:2]
    scale = tile / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(array, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    canvas = np.full((tile, tile, array.shape[2]), 255, np.uint8)
    top, left = (tile - size[1]) // 2, (tile - size[0]) // 2
    canvas[top : top + size[1], left : left + size[0]] = small
    return canvas


def overlay(image: np.ndarray, mask: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The image with its foreground tinted and the mask's outline drawn."""
    out = image.astype(np.float64)
    out[mask] = (1 - alpha) * out[mask] + alpha * OVERLAY
    out = out.round().astype(np.uint8)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    thickness = max(1, round(max(mask.shape) / 200))
    return cv2.drawContours(np.ascontiguousarray(out), contours, -1, (255, 255, 0), thickness)


def on_checkerboard(image: np.ndarray, mask: np.ndarray, square: int = 8) -> np.ndarray:
    """The cut-out (foreground pixels only) over a grey checkerboard, so what was cut away shows."""
    yy, xx = np.mgrid[: mask.shape[0], : mask.shape[1]]
    board = np.where(((yy // square + xx // square) % 2)[..., None] == 0, 200, 240).astype(np.uint8)
    return np.where(mask[..., None], image, np.repeat(board, 3, axis=-1))


def contact_sheet(items: Sequence[tuple[np.ndarray, np.ndarray]], per_row: int = PER_ROW) -> np.ndarray:
    """uint8 RGB sheet of (image, bool mask) pairs: a column of image / overlay / cut-out per pair."""
    if not items:
        return np.full((TILE, TILE, 3), 255, np.uint8)
    strips = []
    for image, mask in items:
        square = max(1, round(max(mask.shape) / 24))
        tiles = [thumbnail(image), thumbnail(overlay(image, mask)), thumbnail(on_checkerboard(image, mask, square))]
        strips.append(np.concatenate([np.pad(t, ((PAD, PAD), (PAD, PAD), (0, 0)), constant_values=255) for t in tiles]))
    while len(strips) % per_row and len(strips) > per_row:
        strips.append(np.full_like(strips[0], 255))
    rows = [np.concatenate(strips[i : i + per_row], axis=1) for i in range(0, len(strips), per_row)]
    return np.concatenate(rows, axis=0)
