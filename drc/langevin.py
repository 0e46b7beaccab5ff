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


class GraphedLangevin:
    """CUDA only, UNTESTED (no GPU was available when it was written): one Langevin step captured
    as a CUDA graph, replayed ``n_steps`` times. Shapes are fixed at capture: build one per
    (batch shape, energy); ``x`` (the images, or None for the prior) is copied into a static buffer.

    ``energy(z, x)`` must only read tensors whose storage stays put between calls (model
    parameters updated in place by the optimisers are fine). Noise comes from the CUDA generator,
    whose offsets graphs advance on every replay, so chains stay random across replays.
    """

    def __init__(
        self,
        energy: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
        z: torch.Tensor,
        x: torch.Tensor | None,
        step_size: float,
        noise: bool = True,
        warmup: int = 2,
    ) -> None:
        if not z.is_cuda:
            raise ValueError("GraphedLangevin needs CUDA tensors")
        self.z = z.detach().clone()
        self.x = None if x is None else x.detach().clone()
        self.shape = (tuple(z.shape), None if x is None else tuple(x.shape))
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up before capture (allocator, cuDNN plans); uses up some noise
            for _ in range(warmup):
                self._step(energy, step_size, noise)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self._step(energy, step_size, noise)

    def _step(self, energy, step_size: float, noise: bool) -> None:
        v = self.z.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(energy(v, self.x), v)
        with torch.no_grad():
            new = self.z - 0.5 * step_size**2 * grad
            if noise:
                new = new + step_size * torch.randn_like(new)
            self.z.copy_(new)

    def __call__(self, z: torch.Tensor, x: torch.Tensor | None, n_steps: int) -> torch.Tensor:
        if (tuple(z.shape), None if x is None else tuple(x.shape)) != self.shape:
            raise ValueError(f"GraphedLangevin was captured for shapes {self.shape}")
        with torch.no_grad():
            self.z.copy_(z)
            if x is not None:
                self.x.copy_(x)
        for _ in range(n_steps):
            self.graph.replay()
        return self.z.detach().clone()
