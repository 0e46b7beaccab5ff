"""The full-resolution read-out (``readout.full_resolution``, a CPU-scale deviation): the foreground mask
decided at the image's own size from the image's own pixels, not the model-resolution mask resized.

A 32 px model reads one mask pixel per 4 x 4 block of a 128 px image, so a sprite's edge is a bilinear
ramp wherever it falls. Here each full-size pixel takes the model-resolution read-out (bilinear) as its
prior odds and updates them with its own colour's likelihood ratio under the two regions' renderings
(bilinear): the E-step posterior of the paper's eq. 7, evaluated per pixel of the image rather than per
pixel of the model. It is decided at ``readout.threshold`` again. The paper's model is as large as its
images, so it has no such step (docs/method.md, docs/cpu-profile.md).
"""

from __future__ import annotations

from dataclasses import dataclass

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
    batch) with the likelihood scale (train.sigma), the threshold the mask is decided at and, where GrabCut
    is seeded with the mask at another threshold (readout.seed_threshold), that one."""

    fg: np.ndarray
    bg: np.ndarray
    sigma: float
    threshold: float
    seed_threshold: float | None = None  # None: GrabCut is seeded with the mask decided at ``threshold``

    def __getitem__(self, index: int) -> Renderings:
        return Renderings(self.fg[index], self.bg[index], self.sigma, self.threshold, self.seed_threshold)


@dataclass(frozen=True)
class MaskReadout:
    """How a soft mask becomes a mask at an image's size (``drc.imageio.mask_at``): ``readout.refine``, and
    under ``readout.full_resolution`` the likelihood scale (train.sigma) and threshold it is decided with."""

    refine: str = "none"
    full_resolution: bool = False
    sigma: float | None = None  # needed only under full_resolution
    threshold: float = 0.5
    seed_threshold: float | None = None

    @classmethod
    def of(cls, readout: ReadoutConfig, sigma: float | None) -> MaskReadout:
        return cls(readout.refine, readout.full_resolution, sigma, readout.threshold, readout.seed_threshold)

    def renderings(self, fg: np.ndarray | torch.Tensor, bg: np.ndarray | torch.Tensor) -> Renderings | None:
        """The renderings the mask is decided with (a batch's or one image's), or None: the soft mask resized."""
        if not self.full_resolution:
            return None
        if self.sigma is None:
            raise ValueError("readout.full_resolution needs the likelihood scale (train.sigma)")
        return Renderings(_as_array(fg), _as_array(bg), self.sigma, self.threshold, self.seed_threshold)


def of_image(renderings: Renderings | None, index: int) -> Renderings | None:
    """Image ``index``'s renderings of a batch's (None stays None: masks resized, not decided per pixel)."""
    return None if renderings is None else renderings[index]


def renderings_for(
    fg: np.ndarray | torch.Tensor, bg: np.ndarray | torch.Tensor, sigma: float, readout: ReadoutConfig
) -> Renderings | None:
    """What ``readout`` decides a mask with besides the soft mask: the renderings under
    ``readout.full_resolution``, else None."""
    return MaskReadout.of(readout, sigma).renderings(fg, bg)


def _as_array(values: np.ndarray | torch.Tensor) -> np.ndarray:
    return values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)


def _at(array: np.ndarray, height: int, width: int) -> torch.Tensor:
    """C x r x r -> 1 x C x height x width, bilinear (as ``soft_mask_at`` resizes the soft mask)."""
    planes = [cv2.resize(np.asarray(p, np.float32), (width, height), interpolation=cv2.INTER_LINEAR) for p in array]
    return torch.from_numpy(np.stack(planes))[None]


def full_resolution_mask(
    soft_mask: np.ndarray, image: np.ndarray, renderings: Renderings, for_seed: bool = False
) -> np.ndarray:
    """bool H x W mask of uint8 RGB ``image`` (H x W x 3): the soft mask (r x r) and the renderings brought
    to H x W, each pixel's posterior log odds (eq. 7 with the soft mask as prior) above the threshold's.

    ``for_seed``: the mask GrabCut is seeded with. At ``renderings.seed_threshold`` (when set) that is the
    mask the read-out would give at that threshold: the soft mask, recentred on ``threshold`` by the
    inference (``drc.inference.soft_mask``), is recentred on the seed threshold, then decided there.
    """
    height, width = image.shape[:2]
    x = to_model_range(image[None].copy())  # writable: torch.from_numpy warns on a read-only (memory-mapped) image
    prior = _at(soft_mask[None], height, width).clamp(PRIOR_CLIP, 1.0 - PRIOR_CLIP)
    log_pf = laplace_loglik(_at(renderings.fg, height, width), x, renderings.sigma)
    log_pb = laplace_loglik(_at(renderings.bg, height, width), x, renderings.sigma)
    log_odds = pixel_log_odds(prior, log_pf, log_pb)[0, 0]
    threshold = renderings.threshold
    if for_seed and renderings.seed_threshold is not None:
        log_odds = log_odds + threshold_log_odds(threshold) - threshold_log_odds(renderings.seed_threshold)
        threshold = renderings.seed_threshold
    return (log_odds > threshold_log_odds(threshold)).numpy()
