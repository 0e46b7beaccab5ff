"""GrabCut baseline (Rother et al. 2004; the paper's Table 1 row) via OpenCV.

Initialisation is a rectangle: the image minus ``margin * side`` on every side; pixels outside it
are fixed background, so an object that reaches into that border loses those pixels.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor

import cv2
import numpy as np
from tqdm import tqdm

_CHUNK = 64  # images per pool task: small enough for a smooth progress bar, large enough to amortise IPC
REDRAW_ITERATIONS = 5  # GrabCut's iterations when it redraws a mask (DRC's read-out and the colour baseline's)


def _check_rgb(array: np.ndarray, ndim: int, what: str) -> None:
    if not isinstance(array, np.ndarray):
        raise ValueError(f"GrabCut needs {what}, got {type(array).__name__}")
    if array.dtype != np.uint8 or array.ndim != ndim or array.shape[-1] != 3:
        raise ValueError(f"GrabCut needs {what}, got {array.dtype} {array.shape}")


def rectangle(height: int, width: int, margin: float) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the initial rectangle: ``margin`` (fraction of each side) removed on every side."""
    if not 0 <= margin < 0.5:
        raise ValueError(f"margin must be in [0, 0.5) (fraction of the side), got {margin}")
    mx, my = round(margin * width), round(margin * height)
    return mx, my, width - 2 * mx, height - 2 * my


def rectangle_mask(height: int, width: int, margin: float) -> np.ndarray:
    """bool H x W: True inside the initial rectangle (the trivial 'the object is in the middle' guess)."""
    x, y, w, h = rectangle(height, width, margin)
    mask = np.zeros((height, width), bool)
    mask[y : y + h, x : x + w] = True
    return mask


def _grabcut(image: np.ndarray, margin: float, iterations: int) -> tuple[np.ndarray, bool]:
    """(foreground mask, failed). On an OpenCV error the rectangle mask is returned and failed=True."""
    _check_rgb(image, 3, "a uint8 H x W x 3 RGB image")
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    height, width = image.shape[:2]
    rect = rectangle(height, width, margin)
    gc_mask = np.zeros((height, width), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut's GMM initialisation uses k-means with OpenCV's global RNG
    try:
        # Channel order does not matter to GrabCut (colour GMMs and edge weights are symmetric in it).
        cv2.grabCut(np.ascontiguousarray(image), gc_mask, rect, bgd, fgd, iterations, cv2.GC_INIT_WITH_RECT)
    except cv2.error:
        # E.g. an empty background (margin 0) or foreground sample: GrabCut cannot fit its GMMs.
        return rectangle_mask(height, width, margin), True
    return (gc_mask == cv2.GC_FGD) | (gc_mask == cv2.GC_PR_FGD), False


def refine_with_grabcut(
    image: np.ndarray, mask: np.ndarray, iterations: int = REDRAW_ITERATIONS, band: int | None = None
) -> np.ndarray:
    """A mask's edges redrawn by GrabCut at the image's own size: seeded with the mask (its pixels probable
    foreground, the rest probable background), so GrabCut's colour models and edge weights move only
    where they disagree with it. With ``band`` (pixels), pixels farther than that from the mask in x or y
    are fixed background: GrabCut may move the mask's edges but not spread it over texture far from it.
    A mask that is empty or full (nothing to seed one model) comes back as is."""
    _check_rgb(image, 3, "a uint8 H x W x 3 RGB image")
    mask = np.asarray(mask, bool)
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask {mask.shape} and image {image.shape[:2]} differ in size")
    if band is not None and band < 1:
        raise ValueError(f"band must be at least 1 pixel, got {band}")
    if mask.all() or not mask.any():
        return mask
    gc_mask = np.where(mask, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    if band is not None:
        near = cv2.dilate(mask.astype(np.uint8), np.ones((2 * band + 1, 2 * band + 1), np.uint8))
        gc_mask[near == 0] = cv2.GC_BGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(np.ascontiguousarray(image), gc_mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return mask
    return (gc_mask == cv2.GC_FGD) | (gc_mask == cv2.GC_PR_FGD)


def grabcut_mask(image: np.ndarray, margin: float = 1 / 8, iterations: int = 5) -> np.ndarray:
    """bool H x W foreground of one uint8 RGB image (the rectangle itself if GrabCut fails)."""
    return _grabcut(image, margin, iterations)[0]


def _grabcut_chunk(images: np.ndarray, margin: float, iterations: int) -> tuple[np.ndarray, int]:
    results = [_grabcut(im, margin, iterations) for im in images]
    return np.stack([m for m, _ in results]), sum(f for _, f in results)


def grabcut_masks(
    images: np.ndarray,
    margin: float = 1 / 8,
    iterations: int = 5,
    workers: int = 2,
    progress: bool = True,
) -> tuple[np.ndarray, int]:
    """(bool N x H x W masks, number of images where GrabCut failed and the rectangle was used).

    Deterministic and independent of ``workers`` (OpenCV's RNG is reseeded for every image).
    """
    _check_rgb(images, 4, "uint8 N x H x W x 3 RGB images")
    rectangle(images.shape[1], images.shape[2], margin)  # validate margin before starting workers
    spans = [(a, min(a + _CHUNK, len(images))) for a in range(0, len(images), _CHUNK)]
    masks = np.zeros(images.shape[:3], bool)
    failed = 0
    with contextlib.ExitStack() as stack:
        bar = stack.enter_context(tqdm(total=len(images), desc="grabcut", unit="img", disable=not progress))
        if workers > 1:
            # spawn, not fork: a process that already ran OpenCV or torch threads can deadlock in a forked
            # child. One OpenCV thread per worker: the workers already occupy the cores.
            pool = ProcessPoolExecutor(
                workers, mp_context=mp.get_context("spawn"), initializer=cv2.setNumThreads, initargs=(1,)
            )
            stack.enter_context(pool)
            # np.asarray: a memory-mapped input (a prepared dataset) is sent as plain arrays.
            futures = [pool.submit(_grabcut_chunk, np.asarray(images[a:b]), margin, iterations) for a, b in spans]
            outputs = (f.result() for f in futures)
        else:
            outputs = (_grabcut_chunk(images[a:b], margin, iterations) for a, b in spans)
        for (a, b), (chunk, n_failed) in zip(spans, outputs, strict=True):
            masks[a:b], failed = chunk, failed + n_failed
            bar.update(b - a)
    return masks, failed
