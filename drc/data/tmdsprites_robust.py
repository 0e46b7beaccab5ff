"""A second TM-dSprites generator, written apart from the first (drc/data/tmdsprites.py), that reads every
choice the paper leaves open another way: the robustness held-out set.

A model trained on the first generator's images and scored here shows whether it learnt the task or
the one reading of the paper it was tuned on. What stays (the paper states it): 128 px images, 2-3
sprites of uniform saturated colour, square / circle / triangle, no occlusion, a bank of 20 sinusoidal
gratings as backgrounds, grey or coloured as the variant. What changes (``RobustConfig``): sprite sizes,
placement anywhere in the image, squares and triangles at any angle, sprite saturation and value,
grating periods, orientations and contrast. Masks are exact, drawn into a label map as the first
generator does (no anti-aliasing).

Image ``i`` depends only on the config and ``i`` (its stream is seeded from ``(seed, i)``).
"""

from __future__ import annotations

import colorsys
import functools
import math
from pathlib import Path

import cv2
import numpy as np

from drc.config import RobustConfig, to_dict
from drc.data.prepared import write_prepared
from drc.errors import DRCError

GENERATOR_VERSION = 1  # bump whenever the same config would produce different bytes
SHAPES = ("square", "circle", "triangle")
_SUBPIXEL_BITS = 4
_TRIES = 10_000  # candidate layouts per image before a clear error
_TRIES_PER_DRAW = 200  # candidate positions per draw of the sizes


@functools.lru_cache(maxsize=4)
def robust_bank(cfg: RobustConfig) -> np.ndarray:
    """uint8 n x 2R x 2R x 3 gratings: periods geometric over the range (shuffled), orientations and phases
    uniformly random, each with its own contrast around its mid colour."""
    rng = np.random.default_rng([cfg.seed, 7])
    n, side = cfg.n_textures, 2 * cfg.resolution
    periods = cfg.resolution * np.geomspace(*cfg.texture_period_range, n)[rng.permutation(n)]
    angles = rng.uniform(0, np.pi, n)
    phases = rng.uniform(0, 2 * np.pi, n)
    contrast = rng.uniform(*cfg.texture_contrast_range, n)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64)
    proj = np.cos(angles)[:, None, None] * xx + np.sin(angles)[:, None, None] * yy
    wave = np.cos(2 * np.pi * proj / periods[:, None, None] + phases[:, None, None])  # -1 .. 1
    if cfg.texture_colour == "grey":
        mid, half = np.full((n, 3), 127.5), np.full((n, 3), 127.5)
    else:
        a, b = rng.uniform(0, 255, (n, 3)), rng.uniform(0, 255, (n, 3))
        mid, half = (a + b) / 2, (b - a) / 2
    half = half * contrast[:, None]
    bank = np.rint(mid[:, None, None] + half[:, None, None] * wave[..., None]).clip(0, 255).astype(np.uint8)
    bank.setflags(write=False)
    return bank


def _polygon(shape: str, size: float, cx: float, cy: float, angle: float) -> np.ndarray:
    """Vertices (k x 2, x then y) of a square or an equilateral triangle of side ``size``, rotated."""
    if shape == "square":
        pts = np.array([(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)]) * size
    else:  # equilateral triangle centred on its centroid
        r = size / math.sqrt(3)  # circumradius
        pts = np.array([(r * math.cos(t), r * math.sin(t)) for t in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)])
    c, s = math.cos(angle), math.sin(angle)
    return pts @ np.array([[c, s], [-s, c]]) + (cx, cy)


def _radius(shape: str, size: float) -> float:
    """Radius of a circle around the sprite whatever its angle (placement keeps these circles apart)."""
    return {"circle": size / 2, "square": size / math.sqrt(2), "triangle": size / math.sqrt(3)}[shape]


def _draw(labels: np.ndarray, j: int, shape: str, size: float, angle: float, cx: float, cy: float) -> None:
    """Rasterise sprite ``j`` into a label map, without anti-aliasing, vertices to 1/16 px."""
    scale = 1 << _SUBPIXEL_BITS
    if shape == "circle":
        centre = (round(cx * scale), round(cy * scale))
        cv2.circle(labels, centre, round(size / 2 * scale), j, -1, cv2.LINE_8, _SUBPIXEL_BITS)
    else:
        poly = np.rint(_polygon(shape, size, cx, cy, angle) * scale).astype(np.int32)
        cv2.fillPoly(labels, [poly], j, cv2.LINE_8, _SUBPIXEL_BITS)


def _layout(cfg: RobustConfig, rng: np.random.Generator, index: int) -> tuple[list, np.ndarray]:
    """Sprites (shape, size, angle, centre) whose pixels stay ``min_gap_px`` apart, and their label map.

    Positions are drawn by rejection against the rasterised sprites themselves (rotated shapes pack
    closer than their bounding circles); after ``_TRIES_PER_DRAW`` failed positions the sizes are drawn
    again, which favours smaller sprites only where three large ones cannot fit.
    """
    res, gap = cfg.resolution, int(math.ceil(cfg.min_gap_px))
    kernel = np.ones((2 * gap + 1, 2 * gap + 1), np.uint8)
    for _ in range(_TRIES // _TRIES_PER_DRAW):
        k = int(rng.integers(cfg.min_sprites, cfg.max_sprites + 1))
        shapes = [SHAPES[i] for i in rng.integers(0, len(SHAPES), k)]
        sizes = res * rng.uniform(*cfg.size_range, k)
        angles = rng.uniform(0, 2 * np.pi, k) if cfg.rotate else np.zeros(k)
        radii = np.array([_radius(s, z) for s, z in zip(shapes, sizes, strict=True)])
        for _ in range(_TRIES_PER_DRAW):
            centres = rng.uniform(radii[:, None], res - 1 - radii[:, None], (k, 2))
            labels, taken = np.zeros((res, res), np.uint8), np.zeros((res, res), np.uint8)
            for j, (shape, size, angle, (cx, cy)) in enumerate(zip(shapes, sizes, angles, centres, strict=True), 1):
                own = np.zeros((res, res), np.uint8)
                _draw(own, 1, shape, size, angle, cx, cy)
                if (own & taken).any():
                    break
                labels[own > 0] = j
                taken |= cv2.dilate(own, kernel)
            else:
                sprites = list(zip(shapes, sizes, angles, centres, strict=True))
                return sprites, labels
    raise DRCError(f"robust tmdsprites: could not place the sprites of image {index}; lower size_range or max_sprites")


def render(cfg: RobustConfig, index: int) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 R x R x 3 image, uint8 R x R label map with 0 = background, j = sprite j) of image ``index``."""
    rng = np.random.default_rng([cfg.seed, 8, index])
    res = cfg.resolution
    sprites, labels = _layout(cfg, rng, index)
    k = len(sprites)
    hues, sats, vals = (
        rng.uniform(0, 1, k),
        rng.uniform(*cfg.sprite_saturation_range, k),
        rng.uniform(*cfg.sprite_value_range, k),
    )
    colours = [
        tuple(round(255 * c) for c in colorsys.hsv_to_rgb(h, s, v)) for h, s, v in zip(hues, sats, vals, strict=True)
    ]
    texture = int(rng.integers(0, cfg.n_textures))
    y0, x0 = (int(v) for v in rng.integers(0, res + 1, 2))
    image = robust_bank(cfg)[texture, y0 : y0 + res, x0 : x0 + res].copy()
    palette = np.array([(0, 0, 0), *colours], np.uint8)
    fg = labels > 0
    image[fg] = palette[labels[fg]]
    return image, labels


def robust_images(cfg: RobustConfig) -> tuple[np.ndarray, np.ndarray]:
    """Every image of ``cfg``: (uint8 N x R x R x 3 images, bool N x R x R foreground masks)."""
    images = np.empty((cfg.n_images, cfg.resolution, cfg.resolution, 3), np.uint8)
    masks = np.empty((cfg.n_images, cfg.resolution, cfg.resolution), bool)
    for i in range(cfg.n_images):
        images[i], labels = render(cfg, i)
        masks[i] = labels > 0
    return images, masks


def prepare_robust(cfg: RobustConfig, out_dir: str | Path, name: str) -> Path:
    """Generate the robustness set and write it in the prepared format (every image evaluated)."""
    images, masks = robust_images(cfg)
    width = len(str(cfg.n_images - 1))
    return write_prepared(
        out_dir,
        name=name,
        images=images,
        masks=masks,
        ids=[f"{i:0{width}d}" for i in range(cfg.n_images)],
        splits={"eval": range(cfg.n_images)},
        source={"generator": "drc.data.tmdsprites_robust", "version": GENERATOR_VERSION, "config": to_dict(cfg)},
        stats={"foreground_fraction_mean": float(masks.mean())},
    )
