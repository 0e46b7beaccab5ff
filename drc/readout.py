"""The mask read-out: from the chains' end points to a mask at an image's own size, in one place.

Scoring, extraction, the reports and the benchmarks all read masks through a ``Readout`` built once from
the resolved ``readout`` settings (``Readout.of``). Its steps, each a setting (docs/method.md):

1. ``soft``: the soft mask at the model's resolution, pi_f (the paper's) or each pixel's responsibility
   gamma_f (eq. 7, ``readout.source``), recentred so that it exceeds 0.5 exactly where the read-out exceeds
   ``readout.threshold``. (The chains average it over restarts under ``readout.combine``: drc/inference.py.)
2. ``mask``: at the image's size, the soft mask resized (bilinear) and cut, or, under
   ``readout.full_resolution``, decided per pixel of the image: the resized soft mask as prior odds times the
   pixel's own likelihood ratio under the two regions' renderings (eq. 7 evaluated per pixel of the image).
3. Under ``readout.refine=grabcut`` that mask, decided at ``readout.seed_threshold``, seeds GrabCut at the
   image's size, which redraws its edges (within ``readout.grabcut_band`` model pixels of the seed).
4. ``cutout``: the mask and the RGBA cut-out.

A 32 px model reads one mask pixel per 4 x 4 block of a 128 px image; steps 2 and 3 put a sprite's edge where
the image's pixels put it. The paper's model is as large as its images, so it has neither (paper profile:
pi_f > 0.5 resized, nothing redrawn).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch

from drc.baselines.grabcut import refine_with_grabcut
from drc.config import ReadoutConfig, SamplerConfig, TrainConfig
from drc.data.prepared import to_model_range
from drc.imageio import resize_soft_mask, resize_to
from drc.metrics import ArrayLike, resized_scores, stacked_scores
from drc.model.drc import Rendering
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
class Readout:
    """The ``readout`` settings and the likelihood scale of eq. 5 they are read with: the chains' (sampler.sigma,
    else train.sigma), for the soft mask's responsibilities and the per-pixel decision alike (None: a read-out
    that needs neither, pi_f resized)."""

    config: ReadoutConfig = ReadoutConfig()
    sigma: float | None = None

    @classmethod
    def resolve(cls, config: ReadoutConfig, sampler: SamplerConfig, train: TrainConfig) -> Readout:
        """The read-out of a model trained with ``train`` whose chains run under ``sampler``."""
        return cls(config, likelihood_scale(sampler, train))

    @property
    def own(self) -> Readout:
        """The same read-out without GrabCut's redrawing: the model's own masks."""
        return replace(self, config=replace(self.config, refine="none"))

    @property
    def uses_images(self) -> bool:
        """Whether masks are decided on the images at the ground truth's size, not from the soft masks alone."""
        return self.config.uses_images

    # -- step 1: the soft mask at the model's resolution -------------------------------------------------
    def soft(self, r: Rendering, x: torch.Tensor) -> torch.Tensor:
        """N x H x W soft foreground mask of rendering ``r`` of images ``x``: the mixing weight pi_f (the
        paper's read-out), or each pixel's posterior responsibility gamma_f (eq. 7; a CPU-scale deviation:
        pi_f is what the generators expect before seeing the pixel, gamma_f also weighs how well each region
        explains its colour).

        Recentred on ``readout.threshold`` t (paper 0.5): the read-out's odds are divided by t / (1 - t), so
        the soft mask exceeds 0.5 exactly where the read-out exceeds t. For gamma_f this is the Bayes decision
        when calling a background pixel foreground costs t / (1 - t) times as much as the converse.
        """
        threshold = self.config.threshold
        shift = threshold_log_odds(threshold)
        if self.config.source == "pi_f":
            pi_f = r.pi_f[:, 0]
            return pi_f if threshold == 0.5 else torch.sigmoid(torch.logit(pi_f) - shift)
        sigma = self._sigma()
        log_odds = pixel_log_odds(r.pi_f, laplace_loglik(r.fg, x, sigma), laplace_loglik(r.bg, x, sigma))
        return torch.sigmoid(log_odds[:, 0] - shift)

    # -- steps 2 and 3: the mask at an image's size ---------------------------------------------------------
    def renderings(self, fg: ArrayLike, bg: ArrayLike) -> Renderings | None:
        """The renderings the masks are decided with (a batch's or one image's), or None: soft masks resized."""
        if not self.config.full_resolution:
            return None
        self._sigma()  # refused here, before any image is read
        return Renderings(_as_array(fg), _as_array(bg))

    def seed(self, soft: np.ndarray, image: np.ndarray, renderings: Renderings | None = None) -> np.ndarray:
        """bool mask of uint8 RGB ``image`` (H x W x 3) at its size from the soft mask (r x r), before GrabCut:
        resized, or with ``renderings`` decided per pixel of the image; at GrabCut's seed threshold under
        ``refine=grabcut`` (the model's own mask otherwise)."""
        if renderings is None:
            return resize_soft_mask(soft, *image.shape[:2]) > self._resized_cut()
        return self._decided_per_pixel(soft, image, renderings)

    def mask(self, soft: np.ndarray, image: np.ndarray, renderings: Renderings | None = None) -> np.ndarray:
        """The mask of ``image`` at its size: ``seed``, redrawn by GrabCut on the image under ``refine=grabcut``
        (within the band of the seed). Masks that are written and masks that are scored both leave the model
        here."""
        seed = self.seed(soft, image, renderings)
        if self.config.refine == "none":
            return seed
        return refine_with_grabcut(image, seed, band=self._band_pixels(np.shape(soft)[-1], *image.shape[:2]))

    def masks(self, soft: ArrayLike, images: Sequence[np.ndarray], renderings: Renderings | None = None) -> np.ndarray:
        """bool N x H x W: ``mask`` of each image of a batch (``renderings``: the batch's)."""
        soft = _as_array(soft)
        return np.stack([self.mask(soft[i], image, of_image(renderings, i)) for i, image in enumerate(images)])

    def cutout(
        self, image: np.ndarray, soft: np.ndarray, renderings: Renderings | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The mask at the image's size (``mask``) and the RGBA cut-out it makes."""
        mask = self.mask(soft, image, renderings)
        return mask, np.dstack([image, (mask * 255).astype(np.uint8)])

    def scores(
        self,
        soft: ArrayLike,
        targets: Sequence[ArrayLike],
        images: Sequence[np.ndarray] | None = None,
        renderings: Renderings | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """IoU and Dice of each image, its mask made at its ground-truth mask's own size (the images, uint8 RGB,
        are brought to that size first): scores at the resolution the ground truth was given in."""
        if self.config.refine == "none" and renderings is None:
            return resized_scores(soft, targets)
        soft = _as_array(soft)
        if len(soft) != len(targets) or images is None or len(images) != len(targets):
            raise ValueError(f"this read-out needs {len(targets)} soft masks and the images they are decided on")
        masks = [
            self.mask(p, resize_to(images[i], *np.shape(t)), of_image(renderings, i))
            for i, (p, t) in enumerate(zip(soft, targets, strict=True))
        ]
        return stacked_scores(masks, targets)

    # -- the decisions' details -------------------------------------------------------------------------------
    def _decision_threshold(self) -> float:
        """The threshold the mask is decided at: GrabCut's seed threshold for its seed, else ``threshold``."""
        seeded = self.config.refine == "grabcut" and self.config.seed_threshold is not None
        return self.config.seed_threshold if seeded else self.config.threshold

    def _resized_cut(self) -> float:
        """The level the resized soft mask, recentred on ``threshold``, is cut at: 0.5, or where its odds are
        those of the decision threshold (GrabCut's seed)."""
        shift = threshold_log_odds(self._decision_threshold()) - threshold_log_odds(self.config.threshold)
        return 1.0 / (1.0 + math.exp(-shift))

    def _band_pixels(self, model_side: int, height: int, width: int) -> int | None:
        """GrabCut's band in pixels of an image of ``height`` x ``width`` read by a ``model_side`` px model."""
        band = self.config.grabcut_band
        return None if band is None else max(1, round(band * max(height, width) / model_side))

    def _sigma(self) -> float:
        if self.sigma is None:
            raise ValueError("this read-out needs the likelihood scale of the chains (sampler.sigma or train.sigma)")
        return self.sigma

    def _decided_per_pixel(self, soft: np.ndarray, image: np.ndarray, renderings: Renderings) -> np.ndarray:
        """bool H x W: the soft mask (r x r) and the renderings brought to the image's H x W, each pixel's
        posterior log odds (eq. 7 with the soft mask as prior) above the decision threshold's; for GrabCut's
        seed, the soft mask's odds are first recentred from ``threshold`` on the seed's."""
        sigma = self._sigma()
        height, width = image.shape[:2]
        x = to_model_range(image[None].copy())  # writable: torch.from_numpy warns on a read-only image
        prior = _at(soft[None], height, width).clamp(PRIOR_CLIP, 1.0 - PRIOR_CLIP)
        log_pf = laplace_loglik(_at(renderings.fg, height, width), x, sigma)
        log_pb = laplace_loglik(_at(renderings.bg, height, width), x, sigma)
        log_odds = pixel_log_odds(prior, log_pf, log_pb)[0, 0]
        decided_at = self._decision_threshold()
        if decided_at != self.config.threshold:
            log_odds = log_odds + threshold_log_odds(self.config.threshold) - threshold_log_odds(decided_at)
        return (log_odds > threshold_log_odds(decided_at)).numpy()


PAPER = Readout()  # pi_f > 0.5, resized, not redrawn: the paper's read-out at its model's size


def likelihood_scale(sampler: SamplerConfig, train: TrainConfig) -> float:
    """The Laplace likelihood's scale (eq. 5) of the test-time chains and their read-out: sampler.sigma, else
    the model's train.sigma (the paper's: one sigma throughout)."""
    return train.sigma if sampler.sigma is None else sampler.sigma


def of_image(renderings: Renderings | None, index: int) -> Renderings | None:
    """Image ``index``'s renderings of a batch's (None stays None: masks resized, not decided per pixel)."""
    return None if renderings is None else renderings[index]


def _as_array(values: ArrayLike) -> np.ndarray:
    return values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)


def _at(array: np.ndarray, height: int, width: int) -> torch.Tensor:
    """C x r x r -> 1 x C x height x width, bilinear (as ``resize_soft_mask`` resizes the soft mask)."""
    planes = [cv2.resize(np.asarray(p, np.float32), (width, height), interpolation=cv2.INTER_LINEAR) for p in array]
    return torch.from_numpy(np.stack(planes))[None]
