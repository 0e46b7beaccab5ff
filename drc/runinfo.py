"""Seeding and provenance: what every run records into its outputs."""

from __future__ import annotations

import hashlib
import os
import platform
import random
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch

from drc.cpu_isa import cpu_capability


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), NumPy and ``random`` from one number."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "random": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["random"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


CODE = ("drc", "stages")  # what "dirty" looks at: the code, not the pipeline's outputs (reports/, dvc.lock)


def git_info(where: Path | None = None) -> dict[str, Any]:
    """Commit and dirty flag of the checkout at ``where`` (default: the one the drc package lives in; None outside a
    git checkout). Dirty means
    the code (``CODE``) differs from the commit: the files a run writes (reports/, dvc.lock) and the settings
    (params.yaml, recorded with every result) do not count, so a stage run after another on a clean tree still
    reads clean."""
    here = where or Path(__file__).resolve().parent

    def run(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10, check=True, cwd=here)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    commit = run("rev-parse", "HEAD")
    top = run("rev-parse", "--show-toplevel")
    status = run("-C", top, "status", "--porcelain", "--untracked-files=no", "--", *CODE) if top else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def source_sha256() -> str:
    """sha256 over the drc package's files (sources and packaged profiles), path by path: the code version
    even outside a git checkout or in a dirty one."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".py", ".yaml", ".md")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def code_version() -> dict[str, Any]:
    """What identifies the code that made a result: package version, its sources' sha256, the git state."""
    from drc import __version__

    git = git_info()
    return {
        "drc": __version__,
        "source_sha256": source_sha256(),
        "git_commit": git["commit"],
        "git_dirty": git["dirty"],
    }


def compute_info() -> dict[str, Any]:
    """What the numbers were computed with: torch, the CPU kernels' instruction set (drc/cpu_isa.py), the GPU."""
    return {
        "torch": torch.__version__,
        "cpu_capability": cpu_capability(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def run_info(seed: int) -> dict[str, Any]:
    return {
        "git": git_info(),
        "seed": seed,
        **compute_info(),
        "python": platform.python_version(),
        "host": platform.node(),
        "threads": torch.get_num_threads(),
        "pid": os.getpid(),
    }
