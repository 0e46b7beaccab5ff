"""Langevin dynamics on latent vectors (paper Listing 2): z <- z - s^2/2 grad E(z) + s * noise."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import nn


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Parameters stop requiring gradients inside the block: Langevin steps only differentiate z."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def langevin(
    z: torch.Tensor,
    energy: Callable[[torch.Tensor], torch.Tensor],
    n_steps: int,
    step_size: float,
    noise: bool = True,
    noise_like: Callable[[torch.Tensor], torch.Tensor] | None = None,
    on_step: Callable[[], None] | None = None,
) -> torch.Tensor:
    """Run ``n_steps`` of Langevin dynamics on ``energy`` (a scalar: the batch's summed energy); ``on_step``
    is called after each step (progress).

    Noise is drawn from torch's global generator, so a seeded run is reproducible.
    ``noise=False`` gives plain gradient descent with the same step (used by tests).
    ``noise_like(z)`` replaces ``torch.randn_like(z)`` (distributed training draws the whole
    batch's noise on every rank and keeps its own rows, so the union equals one process's draw).

    Only z is differentiated: ``autograd.grad(..., z)`` computes no parameter gradients (and
    callers also freeze the parameters, see ``frozen``); tests/test_perf.py checks the FLOPs.
    """
    draw = torch.randn_like if noise_like is None else noise_like
    z = z.detach()
    for _ in range(n_steps):
        z.requires_grad_(True)
        (grad,) = torch.autograd.grad(energy(z), z)
        with torch.no_grad():
            z = z - 0.5 * step_size**2 * grad
            if noise:
                z = z + step_size * draw(z)
        if on_step is not None:
            on_step()
    return z.detach()
