"""Contact sheets: for each image, the image, its mask drawn over it, and its cut-out on a checkerboard,
named under the column; a legend on the left names the three rows."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

TILE = 160  # px, the long side of each thumbnail
PAD = 4
PER_ROW = 6  # images per row of the sheet
OVERLAY = np.array([255, 40, 200], np.float64)  # the mask's tint: a magenta that natural images rarely hold
OUTLINE = (255, 255, 0)  # the mask's outline
LEGEND = 76  # px, the width of the legend column
CAPTION = 18  # px, the height of the file name under each column
FONT, SCALE = cv2.FONT_HERSHEY_SIMPLEX, 0.4
INK = (40, 40, 40)


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
    return cv2.drawContours(np.ascontiguousarray(out), contours, -1, OUTLINE, thickness)


def on_checkerboard(image: np.ndarray, mask: np.ndarray, square: int = 8) -> np.ndarray:
    """The cut-out (foreground pixels only) over a grey checkerboard, so what was cut away shows."""
    yy, xx = np.mgrid[: mask.shape[0], : mask.shape[1]]
    board = np.where(((yy // square + xx // square) % 2)[..., None] == 0, 200, 240).astype(np.uint8)
    return np.where(mask[..., None], image, np.repeat(board, 3, axis=-1))


def text(canvas: np.ndarray, words: str, x: int, y: int, colour: tuple[int, ...] = INK) -> None:
    """``words`` drawn on ``canvas`` (RGB) with its baseline's left end at (x, y)."""
    cv2.putText(canvas, words, (x, y), FONT, SCALE, colour, 1, cv2.LINE_AA)


def caption(name: str, width: int) -> np.ndarray:
    """A white strip ``width`` px wide naming a file (its end kept when it is too long)."""
    strip = np.full((CAPTION, width, 3), 255, np.uint8)
    shown, cut = name, 0
    while cut < len(name) and cv2.getTextSize(shown, FONT, SCALE, 1)[0][0] > width - 2 * PAD:
        cut += 1
        shown = "..." + name[cut:]
    text(strip, shown, PAD, CAPTION - 5)
    return strip


def legend(height: int) -> np.ndarray:
    """The legend column of one row of columns: what each of the three tiles shows."""
    column = np.full((height, LEGEND, 3), 255, np.uint8)
    tile = TILE + 2 * PAD
    rows = [("image", INK), ("mask", tuple(int(c) for c in OVERLAY)), ("cut-out", INK)]
    for k, (word, colour) in enumerate(rows):
        text(column, word, PAD, k * tile + tile // 2 + 4, colour)
    text(column, "(outlined)", PAD, tile + tile // 2 + 18)
    text(column, "(checkered)", PAD, 2 * tile + tile // 2 + 18)
    return column


def contact_sheet(items: Sequence[tuple[str, np.ndarray, np.ndarray]], per_row: int = PER_ROW) -> np.ndarray:
    """uint8 RGB sheet of (name, image, bool mask): a column of image / overlay / cut-out per image, its
    name under it, and a legend column on the left of each row."""
    if not items:
        return np.full((TILE, TILE, 3), 255, np.uint8)
    strips = []
    for name, image, mask in items:
        square = max(1, round(max(mask.shape) / 24))
        tiles = [thumbnail(image), thumbnail(overlay(image, mask)), thumbnail(on_checkerboard(image, mask, square))]
        column = np.concatenate([np.pad(t, ((PAD, PAD), (PAD, PAD), (0, 0)), constant_values=255) for t in tiles])
        strips.append(np.concatenate([column, caption(name, column.shape[1])]))
    while len(strips) % per_row and len(strips) > per_row:
        strips.append(np.full_like(strips[0], 255))
    rows = [np.concatenate(strips[i : i + per_row], axis=1) for i in range(0, len(strips), per_row)]
    return np.concatenate([np.concatenate([legend(row.shape[0]), row], axis=1) for row in rows], axis=0)
