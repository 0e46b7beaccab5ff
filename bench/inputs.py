"""TM-dSprites images for the benchmarks, generated on the fly, and the options that choose them."""

from __future__ import annotations

import argparse

import numpy as np
import torch
import yaml

from drc.config import RobustConfig, TMDSpritesConfig, from_dict
from drc.data.prepared import resize_images, to_model_range
from drc.data.tmdsprites import generate
from drc.data.tmdsprites_robust import robust_images
from drc.errors import DRCError


def add_data_options(parser: argparse.ArgumentParser, seed: int, robust: bool = False, many: bool = False) -> None:
    """--n, --seed (with ``many``: --seeds, a set per seed), --data; with ``robust`` also --robust (for benches
    that score, never for training)."""
    parser.add_argument("--n", type=int, default=200, help="images to generate")
    if many:
        parser.add_argument("--seeds", nargs="+", type=int, default=[seed], help="generator seeds, a set each")
    else:
        parser.add_argument("--seed", type=int, default=seed, help="generator seed (the pipeline trains on seed 0)")
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a TM-dSprites generator setting (drc.config.TMDSpritesConfig), e.g. texture_colour=colour",
    )
    if robust:
        parser.add_argument(
            "--robust",
            action="store_true",
            help="images of the second generator (drc.config.RobustConfig; --data sets its keys), as the "
            "robustness set is drawn; its validation seeds are grey 6, coloured 16 (the pipeline scores 5, 15)",
        )


def data_config(items: list[str], robust: bool = False, **base: object) -> TMDSpritesConfig | RobustConfig:
    """The generator's settings (the second generator's with ``robust``): its defaults, then ``base``, then
    ``--data KEY=VALUE`` items (YAML values)."""
    values: dict[str, object] = dict(base)
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            raise DRCError(f"--data takes KEY=VALUE, got {item!r}")
        values[key.strip()] = yaml.safe_load(text)
    return from_dict(RobustConfig if robust else TMDSpritesConfig, values, "--data")


def generator_config(n: int, seed: int, items: list[str], robust: bool = False) -> TMDSpritesConfig | RobustConfig:
    """``n`` images of generator seed ``seed``, all of them evaluated, with ``--data`` items on top."""
    if robust:
        return data_config(items, robust=True, n_images=n, seed=seed)
    return data_config(items, n_images=n, eval_size=min(n, 1000), seed=seed)


def tmdsprites_inputs(cfg: TMDSpritesConfig | RobustConfig, res: int) -> tuple[torch.Tensor, np.ndarray]:
    """The images of ``cfg`` as N x 3 x r x r in [-1, 1] at the model's ``res`` px, and the N x 128 x 128
    ground-truth masks (scored as the pipeline does, with ``scores_at_target_size``)."""
    x, masks, _ = tmdsprites_with_originals(cfg, res)
    return x, masks


def tmdsprites_with_originals(
    cfg: TMDSpritesConfig | RobustConfig, res: int
) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """``tmdsprites_inputs`` and the uint8 N x 128 x 128 x 3 originals (for work at the full size)."""
    if isinstance(cfg, RobustConfig):
        images, masks = robust_images(cfg)
    else:
        images, masks, _ = generate(cfg)
    return to_model_range(resize_images(images, res)), masks, images
