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

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import torch

from drc.errors import DRCError
from drc.params import load_params

# The environment variable each library reads, per instruction set.
ISA_ENV: dict[str, dict[str, str]] = {
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
}


def cpu_capability() -> str:
    """The instruction set ATen's CPU kernels use in this process (``AVX2``, ``AVX512``, ``DEFAULT``, ...)."""
    return torch.backends.cpu.get_cpu_capability()


def pin_cpu_isa(isa: str | None) -> None:
    """Limit torch's CPU kernels to ``isa`` for the rest of this process (None: the CPU's widest). Where
    the pin cannot take, the environment is left as it was and the error names the fix."""
    if isa is None:
        return
    if isa not in ISA_ENV:
        raise DRCError(f"cpu_isa must be one of {', '.join(ISA_ENV)} or null, got {isa!r}; set it in params.yaml")
    before = {name: os.environ.get(name) for name in ISA_ENV[isa]}
    os.environ.update(ISA_ENV[isa])
    if (used := cpu_capability()) != isa.upper():
        for name, value in before.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value
        raise DRCError(
            f"torch's CPU kernels use {used}, not {isa.upper()}: this CPU lacks {isa.upper()}, or a tensor was "
            "computed before the pin; set cpu_isa: null in params.yaml (the results then differ in the last "
            "bits from those committed, and the scores by up to a few points)"
        )


def pinned_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """The params file, with the kernels pinned to its ``cpu_isa``: what a stage reads first, before it
    computes anything."""
    params = load_params(path)
    pin_cpu_isa(params.get("cpu_isa"))
    return params


def pin_as_recorded(capability: str | None) -> None:
    """Pin the kernels a scores file records (``compute.cpu_capability``), so that re-running its scores on
    another CPU computes them as they were computed. Where they cannot be pinned (another instruction set
    recorded, a CPU without it, kernels already run in this process), the re-run goes on with this
    process's kernels and says so: its numbers may then differ in the last digits."""
    if not capability:
        return
    isa = capability.lower()
    with contextlib.suppress(DRCError):  # before the first look at the kernels: that fixes torch's choice
        pin_cpu_isa(isa if isa in ISA_ENV else None)
    if (used := cpu_capability()) != capability:
        print(
            f"note: the scores were computed with {capability} kernels, this process runs {used} ones: "
            "the re-run may differ from them in the last digits",
            file=sys.stderr,
        )
