"""What every DVC stage script shares: its dataset arguments, the data and model folders, clean failure."""

from __future__ import annotations

import argparse
from pathlib import Path

from drc.errors import exit_cleanly

PREPARED = Path("data/prepared")
RENDERS = Path("data/renders")  # rendered scenes, kept so that an interrupted render resumes
MODELS = Path("models")
REPORTS = Path("reports")


def dataset_parser(description: str | None, dataset_help: str = "the dataset") -> argparse.ArgumentParser:
    """The arguments dvc.yaml gives every per-dataset stage: the dataset, and the profile as --profile."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("dataset", help=dataset_help)
    parser.add_argument("--profile", required=True)
    return parser


def prepared_dir(dataset: str) -> Path:
    return PREPARED / dataset


def model_path(dataset: str, split: str, seed: int | None = None) -> Path:
    """The checkpoint of a training run; ``seed``: a run of the spread over training seeds (seed_train@)."""
    return MODELS / dataset / (split if seed is None else f"{split}-seed{seed}") / "model.pt"


def snapshot_dir(dataset: str, split: str) -> Path:
    """Where training keeps copies of its checkpoint along the way (``train.snapshot_every``)."""
    return MODELS / dataset / split / "snapshots"


# A stage's main(): a DRCError prints one line naming the fix and exits with status 2.
stage = exit_cleanly
