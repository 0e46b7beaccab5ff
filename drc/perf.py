"""How the same math is executed: perf modes, and the switches they turn on.

``eager``      the reference: the modules exactly as written (nn.Upsample, InstanceNorm2d, ...).
``optimised``  the default: same math, faster kernels (measured in docs/performance.md):
               channels-last upsample + conv and instance norm as per-channel ``group_norm`` in
               the generators' up-blocks. On CPU this is deterministic, so a run resumed from a
               checkpoint still continues bit for bit.

torch.compile is not used: on CPU it did not pay (docs/performance.md).

The mode comes from the ``perf`` field of the train / sampler config when it is set, else from the
environment variable ``DRC_PERF``, else ``optimised``. Trainer checkpoints record the mode used.
"""

from __future__ import annotations

import contextlib
import os
import typing
from collections.abc import Iterator
from dataclasses import dataclass

from torch import nn

from drc.config import PerfMode
from drc.errors import DRCError

PERF_MODES = typing.get_args(PerfMode)
ENV = "DRC_PERF"
SWITCHES = ("fast",)  # the class attributes of modules with a fast path


@dataclass(frozen=True)
class PerfOptions:
    fast_kernels: bool = False  # channels-last up+conv, group-norm instance norm


def check_mode(mode: str) -> str:
    if mode not in PERF_MODES:
        raise DRCError(f"perf must be one of {list(PERF_MODES)}, got {mode!r}")
    return mode


def default_mode() -> str:
    return check_mode(os.environ.get(ENV) or "optimised")


def mode_of(config: object) -> str:
    """The perf mode a TrainConfig / SamplerConfig asks for (its ``perf`` field if it is set)."""
    explicit = getattr(config, "perf", None)
    return check_mode(explicit) if explicit else default_mode()


def options(mode: str) -> PerfOptions:
    """The switches ``mode`` turns on."""
    return PerfOptions(fast_kernels=check_mode(mode) != "eager")


def configure(model: nn.Module, mode: str) -> PerfOptions:
    """Switch every submodule of ``model`` that has a fast path to ``mode``; returns the options."""
    opts = options(mode)
    for m in model.modules():
        if hasattr(type(m), "fast"):
            m.fast = opts.fast_kernels
    return opts


@contextlib.contextmanager
def configured(model: nn.Module, mode: str) -> Iterator[PerfOptions]:
    """``configure`` inside the block; every switch it set is as it was afterwards."""
    missing = object()
    before = [(m, {k: m.__dict__.get(k, missing) for k in SWITCHES if hasattr(type(m), k)}) for m in model.modules()]
    try:
        yield configure(model, mode)
    finally:
        for m, switches in before:
            for key, value in switches.items():
                if value is missing:
                    m.__dict__.pop(key, None)
                else:
                    setattr(m, key, value)
