"""The baselines DRC is scored beside, by the name its results carry: how each makes its masks and what its
scores file records. The baselines stage scores every one of them on every set."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from drc.baselines.colour import REDRAWING, colour_grabcut_masks, colour_masks
from drc.baselines.grabcut import grabcut_masks
from drc.config import GrabCutConfig, to_dict


@dataclass(frozen=True)
class Baseline:
    """One baseline: where its scores go, how it makes masks from a set's images, and what settings its
    scores file records beside them (so a score says what made it)."""

    stem: str  # its files' name: reports/metrics/<stem>_<dataset>.json, reports/per_image/<stem>_<dataset>.csv
    # (uint8 N x H x W x 3 images, params.yaml's grabcut section, progress bar?) -> (bool N x H x W masks,
    # what else its scores file records: GrabCut's failures)
    masks: Callable[[np.ndarray, GrabCutConfig, bool], tuple[np.ndarray, dict]]
    settings: Callable[[GrabCutConfig], dict]  # the settings its scores file records


def _grabcut(images: np.ndarray, cfg: GrabCutConfig, progress: bool) -> tuple[np.ndarray, dict]:
    masks, failed = grabcut_masks(images, cfg.margin, cfg.iterations, cfg.workers, progress)
    return masks, {"failed": int(failed)}  # images where GrabCut failed and its rectangle was used


def _colour(images: np.ndarray, cfg: GrabCutConfig, progress: bool) -> tuple[np.ndarray, dict]:
    return colour_masks(images), {}


def _colour_grabcut(images: np.ndarray, cfg: GrabCutConfig, progress: bool) -> tuple[np.ndarray, dict]:
    return colour_grabcut_masks(images, progress), {}


BASELINES = {
    "GrabCut": Baseline("grabcut", _grabcut, lambda cfg: {"grabcut": to_dict(cfg)}),
    "Colour": Baseline("colour", _colour, lambda cfg: {}),
    "Colour+GrabCut": Baseline("colour_grabcut", _colour_grabcut, lambda cfg: {"redrawing": REDRAWING}),
}
