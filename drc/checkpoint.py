"""Checkpoints: written atomically, loaded with clear errors, enough to rebuild the model alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from drc.atomic import atomic_path
from drc.config import ModelConfig, TrainConfig, from_dict
from drc.errors import DRCError
from drc.model.drc import DRC

FORMAT = "drc-checkpoint-v1"


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    with atomic_path(path, replace=True) as tmp:
        torch.save({"format": FORMAT, **payload}, tmp)


def snapshot_path(directory: str | Path, iteration: int) -> Path:
    """Where the copy of a run's checkpoint at ``iteration`` is kept (``train.snapshot_every``)."""
    return Path(directory) / f"iteration_{iteration:07d}.pt"


def snapshots(directory: str | Path) -> list[tuple[int, Path]]:
    """(iteration, path) of every snapshot kept in ``directory``, earliest first."""
    found = [(int(p.stem.removeprefix("iteration_")), p) for p in Path(directory).glob("iteration_*.pt")]
    return sorted(found)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise DRCError(f"checkpoint {path} does not exist; train a model first (drc train / dvc repro)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a damaged file
        raise DRCError(
            f"checkpoint {path} is unreadable ({type(exc).__name__}): damaged, cut short or not a checkpoint; "
            "pass a file that drc train (or dvc repro) wrote"
        ) from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise DRCError(f"{path} is not a DRC checkpoint ({FORMAT}); pass a file written by drc train")
    return ckpt


def model_config_of(ckpt: dict[str, Any]) -> ModelConfig:
    """The architecture a checkpoint was trained with (one clear error if this drc does not know it)."""
    return from_dict(ModelConfig, ckpt["model_config"], "checkpoint model")


def train_config_of(ckpt: dict[str, Any]) -> TrainConfig:
    """The learning settings a checkpoint was trained with (sigma and the TV weight define its posterior)."""
    return from_dict(TrainConfig, ckpt["train_config"], "checkpoint train")


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[DRC, dict[str, Any]]:
    """Rebuild the model from a checkpoint alone; returns (model in eval mode, checkpoint dict)."""
    ckpt = read_checkpoint(path)
    model = DRC(model_config_of(ckpt))
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise DRCError(f"checkpoint {path} does not match its model config ({first}); retrain it") from exc
    return model.to(device).eval(), ckpt
