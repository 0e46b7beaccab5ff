"""How a soft mask becomes a mask at an image's own size (``MaskReadout``), and the full-resolution read-out
(``readout.full_resolution``, a CPU-scale deviation): the mask decided from the image's own pixels, not the
model-resolution mask resized.

A 32 px model reads one mask pixel per 4 x 4 block of a 128 px image, so a sprite's edge is a bilinear
ramp wherever it falls. Here each full-size pixel takes the model-resolution read-out (bilinear) as its
prior odds and updates them with its own colour's likelihood ratio under the two regions' renderings
(bilinear): the E-step posterior of the paper's eq. 7, evaluated per pixel of the image rather than per
pixel of the model. It is decided at ``readout.threshold`` again. The paper's model is as large as its
images, so it has no such step (docs/method.md, docs/cpu-profile.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch

from drc.config import ReadoutConfig
from drc.data.prepared import to_model_range
from drc.model.objective import laplace_loglik, pixel_log_odds, threshold_log_odds

PRIOR_CLIP = 1e-6  # keeps a read-out of exactly 0 or 1 from being certain before the pixel's colour is seen


@dataclass(frozen=True)
class Renderings:
    """The regions' appearances at the model's resolution (``... x 3 x r x r``, in [-1, 1], one image or a
    batch): what a mask is decided with per pixel of the image under ``readout.full_resolution``."""

    fg: np.ndarray
    bg: np.ndarray

    def __getitem__(self, index: int) -> Renderings:
        return Renderings(self.fg[index], self.bg[index])


@dataclass(frozen=True)
class MaskReadout:
    """How a soft mask becomes a mask at an image's size (``drc.imageio.mask_at``): ``readout.refine``, the
    threshold the soft mask was recentred on (``drc.inference.soft_mask``) and GrabCut's seed threshold,
    GrabCut's band, and under ``readout.full_resolution`` the likelihood scale (train.sigma) it is decided with."""

    refine: str = "none"
    full_resolution: bool = False
    sigma: float | None = None  # needed only under full_resolution
    threshold: float = 0.5
    seed_threshold: float | None = None  # None: GrabCut is seeded with the mask decided at ``threshold``
    grabcut_band: int | None = None  # model pixels; None: GrabCut may change any pixel

    @classmethod
    def of(cls, readout: ReadoutConfig, sigma: float | None) -> MaskReadout:
        return cls(
            readout.refine,
            readout.full_resolution,
            sigma,
            readout.threshold,
            readout.seed_threshold,
            readout.grabcut_band,
        )

    def unrefined(self) -> MaskReadout:
        """The same read-out without GrabCut's redrawing: the model's own masks."""
        return replace(self, refine="none")

    def decision_threshold(self) -> float:
        """The threshold the mask is decided at: GrabCut's seed threshold for its seed, else ``threshold``."""
        seeded = self.refine == "grabcut" and self.seed_threshold is not None
        return self.seed_threshold if seeded else self.threshold

    def resized_cut(self) -> float:
        """The level the resized soft mask, recentred on ``threshold`` (``drc.inference.soft_mask``), is cut
        at: 0.5, or where its odds are those of ``decision_threshold()`` (GrabCut's seed)."""
        shift = threshold_log_odds(self.decision_threshold()) - threshold_log_odds(self.threshold)
        return 1.0 / (1.0 + math.exp(-shift))

    def band_pixels(self, model_side: int, height: int, width: int) -> int | None:
        """GrabCut's band in pixels of an image of ``height`` x ``width`` read by a ``model_side`` px model."""
        if self.grabcut_band is None:
            return None
        return max(1, round(self.grabcut_band * max(height, width) / model_side))

    def likelihood_scale(self) -> float:
        """train.sigma, which the per-pixel decision (eq. 7) cannot go without."""
        if self.sigma is None:
            raise ValueError("readout.full_resolution needs the likelihood scale (train.sigma)")
        return self.sigma

    def renderings(self, fg: np.ndarray | torch.Tensor, bg: np.ndarray | torch.Tensor) -> Renderings | None:
        """The renderings the mask is decided with (a batch's or one image's), or None: the soft mask resized."""
        if not self.full_resolution:
            return None
        self.likelihood_scale()  # refused here, before any image is read
        return Renderings(_as_array(fg), _as_array(bg))


RESIZED = MaskReadout()  # the soft mask resized and cut at 0.5, not redrawn (the paper's, at its model's size)


def of_image(renderings: Renderings | None, index: int) -> Renderings | None:
    """Image ``index``'s renderings of a batch's (None stays None: masks resized, not decided per pixel)."""
    return None if renderings is None else renderings[index]


def _as_array(values: np.ndarray | torch.Tensor) -> np.ndarray:
    return values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)


def _at(array: np.ndarray, height: int, width: int) -> torch.Tensor:
    """C x r x r -> 1 x C x height x width, bilinear (as ``soft_mask_at`` resizes the soft mask)."""
    planes = [cv2.resize(np.asarray(p, np.float32), (width, height), interpolation=cv2.INTER_LINEAR) for p in array]
    return torch.from_numpy(np.stack(planes))[None]


def full_resolution_mask(
    soft_mask: np.ndarray, image: np.ndarray, renderings: Renderings, how: MaskReadout
) -> np.ndarray:
    """bool H x W mask of uint8 RGB ``image`` (H x W x 3): the soft mask (r x r) and the renderings brought
    to H x W, each pixel's posterior log odds (eq. 7 with the soft mask as prior, ``how.sigma``) above
    the threshold's. Under ``refine="grabcut"`` with a seed threshold it is GrabCut's seed: the mask the
    read-out would give at that threshold (the soft mask recentred on it, then decided there)."""
    sigma = how.likelihood_scale()
    height, width = image.shape[:2]
    x = to_model_range(image[None].copy())  # writable: torch.from_numpy warns on a read-only (memory-mapped) image
    prior = _at(soft_mask[None], height, width).clamp(PRIOR_CLIP, 1.0 - PRIOR_CLIP)
    log_pf = laplace_loglik(_at(renderings.fg, height, width), x, sigma)
    log_pb = laplace_loglik(_at(renderings.bg, height, width), x, sigma)
    log_odds = pixel_log_odds(prior, log_pf, log_pb)[0, 0]
    decided_at = how.decision_threshold()
    if decided_at != how.threshold:  # recentred from the threshold on the seed's, as drc.inference.soft_mask does
        log_odds = log_odds + threshold_log_odds(how.threshold) - threshold_log_odds(decided_at)
    return (log_odds > threshold_log_odds(decided_at)).numpy()
