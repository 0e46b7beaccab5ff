"""What every DVC stage script shares: params loading, dataset folders, clean failure."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drc.errors import DRCError

PREPARED = Path("data/prepared")
MODELS = Path("models")
REPORTS = Path("reports")


def prepared_dir(dataset: str) -> Path:
    return PREPARED / dataset


def model_path(dataset: str, split: str) -> Path:
    return MODELS / dataset / split / "model.pt"


def stage(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a stage's main(): a DRCError prints one line naming the fix and exits with status 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DRCError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)

    return wrapper
