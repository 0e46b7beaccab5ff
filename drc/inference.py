"""Inference: posterior Langevin from N(0, I) (or given chains) and the masks it implies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from drc import perf
from drc.errors import DRCError
from drc.langevin import GraphedLangevin, frozen, langevin
from drc.model.drc import DRC, Rendering
from drc.model.objective import laplace_loglik, pixel_responsibility
from drc.train_config import InferConfig


@dataclass
class Extraction:
    """Per-image outputs, all on CPU: masks N x H x W (bool), images N x 3 x H x W in [-1, 1]."""

    mask: torch.Tensor  # soft_mask > 0.5
    soft_mask: torch.Tensor  # N x H x W what the mask is read from (``infer.mask_from``)
    pi_f: torch.Tensor  # N x H x W the generators' foreground mixing weight
    composite: torch.Tensor
    fg: torch.Tensor
    bg: torch.Tensor
    z: torch.Tensor


def extract(
    model: DRC,
    images: torch.Tensor,
    config: InferConfig,
    sigma: float,
    tv_weight: float,
    z_init: torch.Tensor | None = None,
    progress: bool = True,
) -> Extraction:
    """Sample z | x by ``config.steps`` posterior Langevin steps and read the foreground mask at z:
    pi_f > 0.5 (paper), or the per-pixel posterior responsibility > 0.5 (``config.mask_from``).

    ``z_init`` (N x d) starts the chains there (e.g. the stored persistent chains); otherwise N(0, I),
    ``config.restarts`` times per image, keeping the chain with the lowest posterior energy. The kept
    end point then descends ``config.settle_steps`` noise-free steps (a CPU-scale deviation, 0 in the
    paper: the mask is read near the mode the chain found, not at its last noisy sample).
    The perf mode (drc/perf.py) comes from ``config.perf`` if set, else ``DRC_PERF``, else "optimised".
    The chains draw from torch's RNG seeded with ``config.seed`` and forked, so the result depends on
    the seed alone and the caller's RNG state is left as it was.
    """
    device = next(model.parameters()).device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seed)
        return _extract(model, images, config, sigma, tv_weight, z_init, progress, device)


def _extract(
    model: DRC,
    images: torch.Tensor,
    config: InferConfig,
    sigma: float,
    tv_weight: float,
    z_init: torch.Tensor | None,
    progress: bool,
    device: torch.device,
) -> Extraction:
    if z_init is not None and config.restarts > 1:
        raise DRCError("infer.restarts > 1 needs chains from N(0, I); set infer.init=noise or infer.restarts=1")
    model.eval()
    opts = perf.configure(model, perf.mode_of(config))
    graphs: dict[tuple, GraphedLangevin] = {}  # perf "max" on CUDA only (UNTESTED)

    def energy(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return model.posterior_energy(v, x, sigma, tv_weight)

    def run_chain(z: torch.Tensor, x: torch.Tensor, steps: int, step_size: float, noise: bool) -> torch.Tensor:
        if not steps:
            return z
        with frozen(model):
            if opts.cuda_graphs and z.is_cuda:
                key = (tuple(z.shape), step_size, noise)
                if key not in graphs:
                    graphs[key] = GraphedLangevin(energy, z, x, step_size, noise=noise)
                return graphs[key](z, x, steps)
            return langevin(z, lambda v: energy(v, x), steps, step_size, noise=noise)

    def sample(z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return run_chain(z, x, config.steps, config.step_size, config.noise)

    outs: dict[str, list[torch.Tensor]] = {k: [] for k in ("soft_mask", "pi_f", "composite", "fg", "bg", "z")}
    starts = range(0, len(images), config.batch_size)
    for start in tqdm(starts, disable=not progress, desc="extract", unit="batch"):
        x = images[start : start + config.batch_size].to(device)
        if z_init is not None:
            z = sample(z_init[start : start + config.batch_size].to(device), x)
        else:
            z = best_of_restarts(model, x, config.restarts, sample, sigma, tv_weight)
        z = run_chain(z, x, config.settle_steps, config.settle_step_size, noise=False)
        with torch.no_grad():
            r = model.render(z)
        for key, value in (
            ("soft_mask", soft_mask(r, x, config.mask_from, sigma)),
            ("pi_f", r.pi_f[:, 0]),
            ("composite", r.composite),
            ("fg", r.fg),
            ("bg", r.bg),
            ("z", z),
        ):
            outs[key].append(value.cpu())
    cat = {k: torch.cat(v) for k, v in outs.items()}
    return Extraction(mask=cat["soft_mask"] > 0.5, **cat)


def soft_mask(r: Rendering, x: torch.Tensor, mask_from: str, sigma: float) -> torch.Tensor:
    """N x H x W soft foreground mask of rendering ``r`` of images ``x``: the mixing weight pi_f (the
    paper's read-out), or each pixel's posterior responsibility gamma_f (eq. 7; a CPU-scale deviation:
    pi_f is what the generators expect before seeing the pixel, gamma_f also weighs how well each region
    explains its colour)."""
    if mask_from == "pi_f":
        return r.pi_f[:, 0]
    log_pf, log_pb = laplace_loglik(r.fg, x, sigma), laplace_loglik(r.bg, x, sigma)
    return pixel_responsibility(r.pi_f, log_pf, log_pb)[:, 0]


def best_of_restarts(
    model: DRC,
    x: torch.Tensor,
    restarts: int,
    run_chain: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    sigma: float,
    tv_weight: float,
) -> torch.Tensor:
    """Run ``restarts`` chains per image from N(0, I), one after another (memory stays that of one);
    keep, per image, the end point with the lowest posterior energy (a CPU-scale deviation: the
    paper runs one chain; restarts escape the local modes a short chain ends in)."""
    best, best_energy = None, None
    for _ in range(restarts):
        z = run_chain(torch.randn(len(x), model.config.z_dim).to(x.device), x)
        if restarts == 1:
            return z
        with torch.no_grad():
            e = model.posterior_energies(z, x, sigma, tv_weight)
        if best is None:
            best, best_energy = z, e
        else:
            better = e < best_energy
            best = torch.where(better[:, None], z, best)
            best_energy = torch.where(better, e, best_energy)
    return best
