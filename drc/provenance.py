"""What is recorded beside every score, so that it can be regenerated from the record alone.

A scores file (the evaluate stages' ``reports/metrics/*.json``, ``drc evaluate --json``) holds::

    {"method": "DRC" | "GrabCut", "results": {"<data>/<split>": {"iou", "dice", "n_images", ...,
                                                                 "data": {...}, "sampler": {...}, "readout": {...}}},
     "model": {"path", "sha256", "iteration", "profile", "trained_on", "model": {...}, "train": {...}},
     "code": {"drc", "source_sha256", "git_commit", "git_dirty"},
     "compute": {"torch", "cpu_capability", "cuda"}}

``data`` names the images either as a prepared dataset (``prepared``, ``split``, its files' ``checksums``)
or as two folders (``images``, ``masks``, ``sha256`` over their files). ``drc evaluate --from FILE``
re-runs every result of such a file (drc.scoring.rerun_scores).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drc.config import ReadoutConfig, SamplerConfig, to_dict
from drc.data.prepared import Prepared, sha256_file
from drc.errors import DRCError


def checkpoint_record(path: str | Path, ckpt: dict[str, Any]) -> dict[str, Any]:
    """The trained model behind a score: its file and everything it was trained with."""
    return {
        "path": str(path),
        "sha256": sha256_file(path),
        "iteration": int(ckpt.get("iteration", 0)),
        "profile": ckpt.get("profile"),
        "trained_on": {k: v for k, v in ckpt.get("dataset", {}).items() if k != "root"},
        "model": ckpt["model_config"],
        "train": ckpt["train_config"],
    }


def prepared_record(prepared: Prepared, split: str) -> dict[str, Any]:
    return {"prepared": str(prepared.root), "split": split, "checksums": prepared.meta.get("checksums", {})}


def folder_record(images: Sequence[Path], masks: Sequence[Path], image_dir: Path, mask_dir: Path) -> dict[str, Any]:
    """Two folders of images and same-stem masks, with one sha256 over every file's name and bytes."""
    digest = hashlib.sha256()
    for path in [*images, *masks]:
        digest.update(path.name.encode() + b"\0" + sha256_file(path).encode() + b"\0")
    return {"images": str(image_dir), "masks": str(mask_dir), "sha256": digest.hexdigest()}


def score_record(
    summary: dict[str, Any], data: dict[str, Any], sampler: SamplerConfig, readout: ReadoutConfig
) -> dict[str, Any]:
    return {**summary, "data": data, "sampler": to_dict(sampler), "readout": to_dict(readout)}


def check_checkpoint(record: dict[str, Any]) -> Path:
    """The recorded checkpoint, if it is still the file that was scored."""
    path = Path(record["path"])
    if not path.is_file():
        raise DRCError(f"the scored checkpoint {path} does not exist; run the pipeline (dvc repro) or fetch it")
    if sha256_file(path) != record["sha256"]:
        raise DRCError(f"{path} is not the checkpoint that was scored (its sha256 differs); restore it or score again")
    return path


def check_prepared(data: dict[str, Any]) -> Prepared:
    """The recorded prepared dataset, if its files are those that were scored."""
    prepared = Prepared.open(data["prepared"])
    if prepared.meta.get("checksums", {}) != data["checksums"]:
        raise DRCError(f"{prepared.root} is not the dataset that was scored (its checksums differ); prepare it again")
    return prepared


PAPER_READOUT = "DRC-paper-readout"  # method of a scores file whose model is read out as the paper reads it


def drc_scores(results: dict[str, dict[str, Any]], checkpoint: str | Path, ckpt: dict[str, Any], **extra: Any) -> dict:
    """A scores file of DRC results (``score_record`` each) for one checkpoint."""
    from drc.runinfo import code_version, compute_info  # import torch: only when a file is written

    return {
        "method": "DRC",
        **extra,
        "results": results,
        "model": checkpoint_record(checkpoint, ckpt),
        "code": code_version(),
        "compute": compute_info(),
    }


def read_scores(path: str | Path) -> dict[str, Any]:
    """A scores file (drc/provenance.py), checked to hold its ``results``."""
    try:
        record = json.loads(Path(path).read_text())
        dict(record["results"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DRCError(f"{path} is not a scores file ({exc}); write one with drc evaluate --json or dvc repro") from exc
    return record


def is_scores_file(path: Path) -> bool:
    """Whether ``path`` holds a scores file (a JSON object with its method and results), which a new one may replace."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and "method" in record and isinstance(record.get("results"), dict)
