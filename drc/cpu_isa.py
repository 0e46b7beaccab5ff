"""The widest vector instructions torch's CPU kernels may use: params.yaml's ``cpu_isa``.

ATen, oneDNN and MKL each pick the widest instructions the CPU offers. Their AVX-512 kernels add in
another order than their AVX2 ones, so the same training run on an AVX-512 CPU leaves an AVX2 CPU's
in the last bits within ten iterations, and the trained model and its scores end up some IoU points
apart (measured: docs/performance.md). With ``cpu_isa: avx2`` every x86-64 CPU that has AVX2 (all
of the last decade) runs the same kernels and gives the same bits. Each library reads its setting
from the environment once, at its first kernel, so the pin must come before the process computes
anything; ``pin_cpu_isa`` checks that it came in time. Child processes inherit it.
"""

from __future__ import annotations

import os

import torch

from drc.errors import DRCError

# The environment variable each library reads, per instruction set.
ISA_ENV: dict[str, dict[str, str]] = {
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
}


def cpu_capability() -> str:
    """The instruction set ATen's CPU kernels use in this process (``AVX2``, ``AVX512``, ``DEFAULT``, ...)."""
    return torch.backends.cpu.get_cpu_capability()


def pin_cpu_isa(isa: str | None) -> None:
    """Limit torch's CPU kernels to ``isa`` for the rest of this process (None: the CPU's widest)."""
    if isa is None:
        return
    if isa not in ISA_ENV:
        raise DRCError(f"cpu_isa must be one of {', '.join(ISA_ENV)} or null, got {isa!r}; set it in params.yaml")
    os.environ.update(ISA_ENV[isa])
    if (used := cpu_capability()) != isa.upper():
        raise DRCError(
            f"torch's CPU kernels use {used}, not {isa.upper()}: this CPU lacks {isa.upper()}, or a tensor was "
            "computed before the pin; set cpu_isa: null in params.yaml (the results then differ in the last "
            "bits from those committed, and the scores by up to a few points)"
        )


def pin_as_recorded(capability: str | None) -> None:
    """Pin the kernels a scores file records (``compute.cpu_capability``), where they can be pinned, so that
    re-running its scores on another CPU computes them as they were computed."""
    if capability and capability.lower() in ISA_ENV:
        pin_cpu_isa(capability.lower())
