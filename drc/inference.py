"""Inference: posterior Langevin from N(0, I) (or given chains) and the masks it implies."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from drc import perf
from drc.config import SamplerConfig, check_inference
from drc.langevin import frozen, langevin
from drc.model.drc import DRC, Rendering
from drc.readout import Readout


@dataclass
class Extraction:
    """Per-image outputs, all on CPU: masks N x H x W (bool), images N x 3 x H x W in [-1, 1]."""

    mask: torch.Tensor  # soft_mask > 0.5
    soft_mask: torch.Tensor  # N x H x W the read-out (``readout.source``), recentred on ``readout.threshold``
    #   (with ``readout.combine="mean_mask"``: the mean of the restarts' recentred read-outs)
    pi_f: torch.Tensor  # N x H x W the generators' foreground mixing weight
    composite: torch.Tensor
    fg: torch.Tensor
    bg: torch.Tensor
    z: torch.Tensor


def extract(
    model: DRC,
    images: torch.Tensor,
    sampler: SamplerConfig,
    readout: Readout,
    tv_weight: float,
    z_init: torch.Tensor | None = None,
    keys: Sequence[int] | None = None,
    progress: bool = True,
    step_progress: Callable[[float], None] | None = None,
) -> Extraction:
    """Sample z | x by posterior Langevin (``sampler``) and read the foreground mask at z (``readout``).

    ``z_init`` (N x d) starts the chains there (e.g. the stored persistent chains); otherwise
    ``sampler.restarts`` chains per image, one after another, start from N(0, I). Each chain may then descend
    ``sampler.settle_steps`` noise-free steps, so its mask is read near the mode it found rather than
    at its last noisy sample (a CPU-scale deviation, 0 in the paper): only the chain the read-out keeps
    (``sampler.settle="kept"``) or every restart before they are compared (``"every"``). The read-out
    keeps the lowest-energy restart's mask (``readout.combine="lowest_energy"``) or averages every
    restart's soft mask (``"mean_mask"``, a CPU-scale deviation: a Monte Carlo estimate of the posterior
    mean of the mask over the modes the chains found); z and the renderings are the lowest-energy
    restart's either way. The soft mask is ``readout.soft`` (drc/readout.py).

    The chains' energy and the read-out's responsibilities use the likelihood scale ``readout.sigma``
    (``Readout.resolve``: sampler.sigma, else train.sigma).

    The perf mode (drc/perf.py) comes from ``sampler.perf`` if set, else ``DRC_PERF``, else "optimised".
    Image i's chains draw their starts and noise from a generator of its own, seeded from
    ``sampler.seed`` and ``keys[i]`` (default: its position i; ``image_seed``; images from files are
    keyed by their pixels, ``content_key``), so its result depends on neither the batch it is in nor its
    place there, nor on the caller's RNG state. The model and its perf switches are left as they were.

    ``step_progress(n)`` is called after every Langevin step with the images' worth of work it did (the
    batch's images over the steps each image's chains take), so a progress bar counts images inside a batch.
    """
    check_inference(sampler, readout.config)
    if z_init is not None and sampler.restarts > 1:
        raise ValueError("restarts > 1 need chains from N(0, I), not z_init")
    keys = list(range(len(images))) if keys is None else [int(k) for k in keys]
    if len(keys) != len(images):
        raise ValueError(f"{len(keys)} keys for {len(images)} images")
    starts = range(0, len(images), sampler.batch_size)
    was_training = model.training
    model.eval()
    try:
        with perf.configured(model, perf.mode_of(sampler)):
            run = BatchExtractor(model, sampler, readout, tv_weight, step_progress)
            size = sampler.batch_size
            parts = [
                run(images[s : s + size], keys[s : s + size], None if z_init is None else z_init[s : s + size])
                for s in tqdm(starts, disable=not progress, desc="extract", unit="batch")
            ]
    finally:
        model.train(was_training)
    cat = {k: torch.cat([part[k] for part in parts]) for k in parts[0]}
    return Extraction(mask=cat["soft_mask"] > 0.5, **cat)


class BatchExtractor:
    """One batch of :func:`extract`: the chains, their settling and the read-out, on the model's device."""

    def __init__(
        self,
        model: DRC,
        sampler: SamplerConfig,
        readout: Readout,
        tv_weight: float,
        step_progress: Callable[[float], None] | None = None,
    ) -> None:
        self.model, self.sampler, self.readout, self.tv_weight = model, sampler, readout, tv_weight
        self.sigma = readout.sigma
        self.device = next(model.parameters()).device
        self.noise: ImageNoise | None = None  # the batch's per-image streams, set by __call__
        self.step_progress = step_progress
        self.per_step = 0.0  # the batch's images per Langevin step

    def steps_per_image(self, from_given_chains: bool) -> int:
        """Langevin steps each image's chains take in a batch (what a step is worth in images)."""
        s = self.sampler
        if from_given_chains:
            return s.steps + s.settle_steps
        if self.readout.config.combine == "mean_mask" or s.settle == "every":
            return s.restarts * (s.steps + s.settle_steps)
        return s.restarts * s.steps + s.settle_steps

    def stepped(self) -> None:
        if self.step_progress is not None:
            self.step_progress(self.per_step)

    def energy(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.model.posterior_energy(z, x, self.sigma, self.tv_weight)

    def chain(self, z: torch.Tensor, x: torch.Tensor, steps: int, step_size: float, noise: bool) -> torch.Tensor:
        if not steps:
            return z
        with frozen(self.model):
            return langevin(
                z, lambda v: self.energy(v, x), steps, step_size, noise=noise, noise_like=self.noise.like,
                on_step=self.stepped,
            )  # fmt: skip

    def sample(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.chain(z, x, self.sampler.steps, self.sampler.step_size, self.sampler.noise)

    def settle(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.chain(z, x, self.sampler.settle_steps, self.sampler.settle_step_size, noise=False)

    def sample_and_settle(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.settle(self.sample(z, x), x)

    def __call__(
        self, images: torch.Tensor, keys: Sequence[int], z_init: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        sampler, model = self.sampler, self.model
        x = images.to(self.device)
        self.noise = ImageNoise(sampler.seed, keys, self.device)
        self.per_step = len(images) / max(self.steps_per_image(z_init is not None), 1)
        starts = functools.partial(self.noise.normal, model.config.z_dim)
        restarts = functools.partial(run_restarts, model, x, sampler.restarts, starts=starts)
        energy = {"sigma": self.sigma, "tv_weight": self.tv_weight}
        mean_soft = None
        if z_init is not None:
            z = self.sample_and_settle(z_init.to(self.device), x)
        elif self.readout.config.combine == "mean_mask" or sampler.settle == "every":
            read = self.read if self.readout.config.combine == "mean_mask" else None
            z, mean_soft = restarts(self.sample_and_settle, read, **energy)
        else:  # settle only the restart that the lowest energy keeps
            z, _ = restarts(self.sample, None, **energy)
            z = self.settle(z, x)
        with torch.no_grad():
            r = model.render(z)
        outputs = {
            "soft_mask": self.read(z, x, r) if mean_soft is None else mean_soft,
            "pi_f": r.pi_f[:, 0],
            "composite": r.composite,
            "fg": r.fg,
            "bg": r.bg,
            "z": z,
        }
        return {k: v.cpu() for k, v in outputs.items()}

    @torch.no_grad()
    def read(self, z: torch.Tensor, x: torch.Tensor, r: Rendering | None = None) -> torch.Tensor:
        """The soft mask of end points ``z`` (``r``: their rendering, if already computed)."""
        r = self.model.render(z) if r is None else r
        return self.readout.soft(r, x)


class ImageNoise:
    """Per-image random streams for a batch: row i draws from a CPU generator seeded with
    ``image_seed(seed, keys[i])``, so what an image's chains draw does not depend on the other rows."""

    def __init__(self, seed: int, keys: Sequence[int], device: torch.device) -> None:
        self.generators = [torch.Generator().manual_seed(image_seed(seed, k)) for k in keys]
        self.device = device

    def normal(self, d: int) -> torch.Tensor:
        """len(keys) x d standard normal draws, one row per image's stream."""
        return torch.stack([torch.randn(d, generator=g) for g in self.generators]).to(self.device)

    def like(self, z: torch.Tensor) -> torch.Tensor:
        return self.normal(z.shape[1]).to(z.dtype)


def content_key(image: np.ndarray) -> int:
    """The random-stream key of an image read from a file: 63 bits of sha256 over its decoded pixels
    (uint8 H x W x 3) and shape, so identical images draw the same chains wherever they lie, and a resumed
    run draws what an uninterrupted one would (``image_seed`` folds in sampler.seed)."""
    pixels = np.ascontiguousarray(image, dtype=np.uint8)
    digest = hashlib.sha256(repr(pixels.shape).encode() + pixels.tobytes()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def image_seed(seed: int, key: int) -> int:
    """The seed of one image's stream: 63 bits of sha256 over (seed, key)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def run_restarts(
    model: DRC,
    x: torch.Tensor,
    restarts: int,
    run_chain: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    read: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None,
    starts: Callable[[], torch.Tensor],
    sigma: float,
    tv_weight: float,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Run ``restarts`` chains per image, each from a fresh ``starts()`` (N x d), one after another (memory
    stays that of one); keep, per image, the end point with the lowest posterior energy (a CPU-scale deviation: the
    paper runs one chain; restarts escape the local modes a short chain ends in). With ``read`` (end
    points, images -> soft masks), also return the mean of the restarts' soft masks, else None."""
    best, best_energy, mask_sum = None, None, None
    for _ in range(restarts):
        z = run_chain(starts(), x)
        if read is not None:
            mask = read(z, x)
            mask_sum = mask if mask_sum is None else mask_sum + mask
        if restarts == 1:
            return z, mask_sum
        with torch.no_grad():
            e = model.posterior_energies(z, x, sigma, tv_weight)
        if best is None:
            best, best_energy = z, e
        else:
            better = e < best_energy
            best = torch.where(better[:, None], z, best)
            best_energy = torch.where(better, e, best_energy)
    return best, None if mask_sum is None else mask_sum / restarts
