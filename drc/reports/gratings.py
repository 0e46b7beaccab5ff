"""Per-image IoU of a TM-dSprites dataset grouped by its background's grating (fine to coarse)."""

from __future__ import annotations

import numpy as np

from drc.config import TMDSpritesConfig, from_dict
from drc.data.prepared import Prepared
from drc.data.tmdsprites import sample_layout


def generator_config(prepared: Prepared) -> TMDSpritesConfig | None:
    """The TM-dSprites generator settings a prepared dataset was made with (None for any other dataset)."""
    source = prepared.meta.get("source") or {}
    if source.get("generator") != "drc.data.tmdsprites":
        return None
    return from_dict(TMDSpritesConfig, source["config"], "tmdsprites")


def textures_of(cfg: TMDSpritesConfig, ids: np.ndarray) -> np.ndarray:
    """The texture-bank index of each image (``sample_layout`` is a pure function of the seed and index)."""
    return np.array([sample_layout(cfg, int(i)).texture for i in ids], dtype=int)


def bank_periods(cfg: TMDSpritesConfig) -> np.ndarray:
    """The period in pixels (at the generator's resolution) of each texture of the bank, spaced as
    ``drc.data.tmdsprites.texture_bank`` spaces them: geometrically over ``texture_period_range``."""
    return cfg.resolution * np.geomspace(*cfg.texture_period_range, cfg.n_textures)


def iou_by_texture(cfg: TMDSpritesConfig, ids: np.ndarray, iou: np.ndarray) -> np.ndarray:
    """Mean IoU per texture index (NaN where no image has that texture)."""
    texture = textures_of(cfg, ids)
    return np.array([iou[texture == t].mean() if (texture == t).any() else np.nan for t in range(cfg.n_textures)])
