"""Textured Multi-dSprites (TM-dSprites; DRC supplementary §A.5), generated from a seed.

Each image holds 2-3 non-overlapping sprites (square, circle, triangle) of uniform saturated colour
at continuous positions, on a background that is a randomly shifted crop of one of a bank of 20
sinusoidal gratings with different frequencies and orientations (the Textured MNIST backgrounds of
Tagger, Greff et al. 2016). The paper's data files are not public, so what the paper leaves open
(sprite sizes, position range, grating periods, grey or coloured gratings) is a parameter;
docs/tmdsprites.md gives the reading behind each default and the measurements that set them.

Determinism: image ``i`` depends only on the config and ``i`` (its random stream is seeded from
``(seed, i)``), so the output does not depend on chunking or the number of worker processes, and
the first ``eval_size`` images are the same whatever ``n_images`` is.

Masks are exact by construction: sprites are rasterised without anti-aliasing into a label map,
and the image takes each sprite's colour exactly where the label map names that sprite.
"""

from __future__ import annotations

import colorsys
import functools
import math
import multiprocessing as mp
import typing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from drc.config import Shape, TMDSpritesConfig, to_dict
from drc.data.prepared import write_prepared
from drc.errors import DRCError

GENERATOR_VERSION = 1  # bump whenever the same config would produce different bytes
SHAPES = typing.get_args(Shape)
_CHUNK = 500  # images per worker task; does not affect the output
_SUBPIXEL_BITS = 4  # cv2 drawing `shift`: vertices are placed to 1/16 px, so positions stay continuous
_TRY_BATCH = 64  # candidate layouts drawn per vectorised rejection-sampling round


@dataclass(frozen=True)
class Sprite:
    shape: str
    size: float  # px, side of the bounding square
    cx: float  # px, centre; pixel centres are at integer coordinates 0..resolution-1
    cy: float
    rgb: tuple[int, int, int]


@dataclass(frozen=True)
class Layout:
    """Everything random about one image."""

    sprites: tuple[Sprite, ...]
    texture: int  # index into the texture bank
    offset: tuple[int, int]  # (row, column) of the crop's top-left corner in the bank texture


def _image_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, 1, index])


@functools.lru_cache(maxsize=4)
def texture_bank(cfg: TMDSpritesConfig) -> np.ndarray:
    """uint8 n_textures x 2R x 2R x 3 gratings (read-only, cached); a background is an R x R crop of one.

    Periods are spaced geometrically over ``texture_period_range`` and orientations evenly over
    180 degrees, paired by a seeded permutation, so every grating differs in both.
    """
    rng = np.random.default_rng([cfg.seed, 0])
    n, side = cfg.n_textures, 2 * cfg.resolution
    periods = cfg.resolution * np.geomspace(*cfg.texture_period_range, n)
    angles = np.pi * rng.permutation(n) / n
    phases = rng.uniform(0, 2 * np.pi, n)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64)
    proj = np.cos(angles)[:, None, None] * xx + np.sin(angles)[:, None, None] * yy
    g = 0.5 + 0.5 * np.cos(2 * np.pi * proj / periods[:, None, None] + phases[:, None, None])
    if cfg.texture_colour == "grey":
        low, high = np.zeros((n, 3)), np.full((n, 3), 255.0)
    else:
        low, high = rng.uniform(0, 255, (n, 3)), rng.uniform(0, 255, (n, 3))
    bank = np.rint(low[:, None, None] + (high - low)[:, None, None] * g[..., None]).astype(np.uint8)
    bank.setflags(write=False)
    return bank


def _saturated_rgb(hue: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue, 1.0, 1.0)
    return round(255 * r), round(255 * g), round(255 * b)


def _place(sizes: np.ndarray, cfg: TMDSpritesConfig, rng: np.random.Generator, index: int) -> np.ndarray:
    """Centres (k x 2, x then y) such that bounding squares are ``min_gap_px`` apart, by rejection."""
    k, top = len(sizes), cfg.resolution - 1
    half = sizes / 2
    low = np.maximum(half, cfg.position_range[0] * top)
    high = np.maximum(low, np.minimum(top - half, cfg.position_range[1] * top))
    need = half[:, None] + half[None, :] + cfg.min_gap_px  # min centre distance along x OR y, per pair
    pairs = np.triu_indices(k, 1)
    tried = 0
    while tried < cfg.max_placement_tries:
        batch = min(_TRY_BATCH, cfg.max_placement_tries - tried)
        tried += batch
        centres = rng.uniform(low[None, :, None], high[None, :, None], (batch, k, 2))
        gap = np.abs(centres[:, :, None, :] - centres[:, None, :, :])  # batch x k x k x 2
        apart = (gap >= need[None, :, :, None]).any(-1)[:, pairs[0], pairs[1]].all(-1)
        if apart.any():
            return centres[int(np.argmax(apart))]
    raise DRCError(
        f"tmdsprites: could not place {k} non-overlapping sprites of {np.round(sizes, 1).tolist()} px in a "
        f"{cfg.resolution} px image (image {index}, {cfg.max_placement_tries} tries); lower size_range, "
        "max_sprites or min_gap_px, or widen position_range"
    )


def sample_layout(cfg: TMDSpritesConfig, index: int) -> Layout:
    """The random content of image ``index``: a pure function of ``(cfg, index)``."""
    rng = _image_rng(cfg.seed, index)
    k = int(rng.integers(cfg.min_sprites, cfg.max_sprites + 1))
    shapes = [cfg.shapes[i] for i in rng.integers(0, len(cfg.shapes), k)]
    sizes = cfg.resolution * rng.uniform(*cfg.size_range, k)
    hues = rng.uniform(0, 1, k)
    texture = int(rng.integers(0, cfg.n_textures))
    offset = rng.integers(0, cfg.resolution + 1, 2)
    centres = _place(sizes, cfg, rng, index)
    sprites = tuple(
        Sprite(shape=s, size=float(z), cx=float(c[0]), cy=float(c[1]), rgb=_saturated_rgb(float(h)))
        for s, z, c, h in zip(shapes, sizes, centres, hues, strict=True)
    )
    return Layout(sprites=sprites, texture=texture, offset=(int(offset[0]), int(offset[1])))


def draw_labels(sprites: tuple[Sprite, ...] | list[Sprite], resolution: int) -> np.ndarray:
    """uint8 R x R label map: 0 = background, j + 1 = sprite j. No anti-aliasing (cv2.LINE_8)."""
    labels = np.zeros((resolution, resolution), np.uint8)
    scale = 1 << _SUBPIXEL_BITS

    def fixed(x: float) -> int:
        return round(x * scale)

    for j, sp in enumerate(sprites, start=1):
        h = sp.size / 2
        if sp.shape == "circle":
            centre = (fixed(sp.cx), fixed(sp.cy))
            cv2.circle(labels, centre, fixed(h), j, thickness=-1, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
            continue
        if sp.shape == "square":
            x0, x1, y0, y1 = sp.cx - h, sp.cx + h, sp.cy - h, sp.cy + h
            pts = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        else:  # equilateral triangle, apex up, centred in its bounding square
            t = sp.size * math.sqrt(3) / 4
            pts = [(sp.cx - h, sp.cy + t), (sp.cx + h, sp.cy + t), (sp.cx, sp.cy - t)]
        poly = np.array([[fixed(x), fixed(y)] for x, y in pts], np.int32)
        cv2.fillPoly(labels, [poly], j, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    return labels


def _render_into(
    cfg: TMDSpritesConfig, start: int, images: np.ndarray, labels: np.ndarray, backgrounds: np.ndarray
) -> None:
    """Render images ``start, start + 1, ...`` into the given (equally long) output arrays.

    A background is a slice copy out of the precomputed bank, so no sinusoid is evaluated per image.
    """
    bank, res = texture_bank(cfg), cfg.resolution
    for row in range(len(images)):
        layout = sample_layout(cfg, start + row)
        y, x = layout.offset
        backgrounds[row] = bank[layout.texture, y : y + res, x : x + res]
        labels[row] = draw_labels(layout.sprites, res)
        images[row] = backgrounds[row]
        palette = np.array([(0, 0, 0), *(sp.rgb for sp in layout.sprites)], np.uint8)  # row j = label j
        fg = labels[row] > 0
        images[row][fg] = palette[labels[row][fg]]


def _empty_outputs(n: int, res: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.empty((n, res, res, 3), np.uint8), np.empty((n, res, res), np.uint8), np.empty((n, res, res, 3), np.uint8)


def _render_chunk(cfg: TMDSpritesConfig, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Worker task: images, labels and backgrounds of images start..stop-1."""
    out = _empty_outputs(stop - start, cfg.resolution)
    _render_into(cfg, start, *out)
    return out


def generate_with_labels(cfg: TMDSpritesConfig, workers: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images uint8 N x R x R x 3, labels uint8 N x R x R with 0 = background, backgrounds uint8).

    ``workers`` > 1 renders chunks of images in that many processes; the bytes are the same for any
    value. On a 2-core machine one process is as fast: copying the chunks back costs what it saves.
    """
    images, labels, backgrounds = _empty_outputs(cfg.n_images, cfg.resolution)
    if workers <= 1:
        _render_into(cfg, 0, images, labels, backgrounds)
        return images, labels, backgrounds
    spans = [(a, min(a + _CHUNK, cfg.n_images)) for a in range(0, cfg.n_images, _CHUNK)]
    # spawn, not fork: a process that already ran OpenCV or torch threads can deadlock in a forked child.
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(_render_chunk, cfg, a, b) for a, b in spans]
        for (a, b), fut in zip(spans, futures, strict=True):
            images[a:b], labels[a:b], backgrounds[a:b] = fut.result()
    return images, labels, backgrounds


def generate(cfg: TMDSpritesConfig, workers: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images uint8 N x R x R x 3, masks bool N x R x R, clean backgrounds uint8 N x R x R x 3)."""
    images, labels, backgrounds = generate_with_labels(cfg, workers)
    return images, labels > 0, backgrounds


def dataset_stats(cfg: TMDSpritesConfig, labels: np.ndarray) -> dict[str, Any]:
    """Foreground fraction and sprite-count histogram (sprite j has label j + 1, so max label = count)."""
    counts = labels.reshape(len(labels), -1).max(1)
    fg = (labels > 0).reshape(len(labels), -1).mean(1)
    hist = {str(k): int((counts == k).sum()) for k in range(cfg.min_sprites, cfg.max_sprites + 1)}
    return {
        "foreground_fraction_mean": float(fg.mean()),
        "foreground_fraction_min": float(fg.min()),
        "foreground_fraction_max": float(fg.max()),
        "sprite_count_histogram": hist,
    }


def prepare_tmdsprites(cfg: TMDSpritesConfig, out_dir: str | Path, workers: int = 1, name: str = "tmdsprites") -> Path:
    """Generate the dataset and write it in the prepared format (atomically) at ``out_dir`` under ``name``.

    Splits: ``all`` and ``eval`` (the first ``eval_size`` rows); extra array ``backgrounds``.
    """
    images, labels, backgrounds = generate_with_labels(cfg, workers)
    width = len(str(cfg.n_images - 1))
    return write_prepared(
        out_dir,
        name=name,
        images=images,
        masks=labels > 0,
        ids=[f"{i:0{width}d}" for i in range(cfg.n_images)],
        splits={"eval": range(cfg.eval_size)},
        source={"generator": "drc.data.tmdsprites", "version": GENERATOR_VERSION, "config": to_dict(cfg)},
        extra_arrays={"backgrounds": backgrounds},
        stats=dataset_stats(cfg, labels),
    )


def sample_sheet(images: np.ndarray, backgrounds: np.ndarray, masks: np.ndarray, n: int = 16) -> np.ndarray:
    """uint8 RGB picture of the first ``n`` samples: rows = image, clean background, mask (as in Fig. S2)."""
    pad = 2
    mask_rgb = np.repeat(masks[:n, ..., None].astype(np.uint8) * 255, 3, axis=-1)
    rows = []
    for block in (images[:n], backgrounds[:n], mask_rgb):
        tiles = [np.pad(t, ((pad, pad), (pad, pad), (0, 0)), constant_values=255) for t in block]
        rows.append(np.concatenate(tiles, axis=1))
    return np.concatenate(rows, axis=0)
