"""Training runs on prepared datasets: the function the CLI and the train stage call.

It resumes a checkpoint that continues the same run (same settings and data), logs curves, the
persistent chains' IoU and sample grids to DVCLive, and prints how many images it trains on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from drc.checkpoint import read_checkpoint, snapshots
from drc.config import ModelConfig, TrainConfig, to_dict
from drc.data.prepared import Prepared, PreparedDataset
from drc.reports.grids import sample_grid
from drc.training import Trainer


def build_trainer(
    dataset_dir: str | Path,
    split: str,
    model: ModelConfig,
    train: TrainConfig,
    checkpoint: str | Path,
    resume: bool,
    profile: str | None = None,
    trainer_class: type[Trainer] = Trainer,
) -> tuple[Trainer, Prepared, np.ndarray, PreparedDataset, bool]:
    """A trainer over ``split`` of a prepared dataset, resumed from ``checkpoint`` when it continues this run.

    Returns (trainer, prepared dataset, training rows, the in-memory dataset, whether it resumed).
    """
    prepared = Prepared.open(dataset_dir)
    rows = prepared.split(split)[: train.max_images]
    total = len(prepared.split(split))
    capped = f" (the first {len(rows)} of {total}: train.max_images)" if len(rows) < total else ""
    print(f"training on {len(rows)} images of {prepared.name}, split {split}{capped}", flush=True)
    data = PreparedDataset(prepared, rows, resolution=model.resolution)
    info = {
        "name": prepared.name,
        "split": split,
        "n_images": len(rows),
        "root": str(dataset_dir),
        "checksums": prepared.meta.get("checksums", {}),
    }
    trainer = trainer_class(model, train, data.images, dataset_info=info, profile=profile)
    checkpoint = Path(checkpoint)
    resumed = resume and checkpoint.is_file() and _resumable(read_checkpoint(checkpoint), trainer)
    if resumed:
        trainer.load(checkpoint)
    return trainer, prepared, rows, data, resumed


def train_model(
    dataset_dir: str | Path,
    split: str,
    model: ModelConfig,
    train: TrainConfig,
    checkpoint: str | Path,
    live_dir: str | Path | None = None,
    profile: str | None = None,
    monitor_split: str | None = "eval",
    resume: bool = True,
    progress: bool = True,
    snapshot_dir: str | Path | None = None,
) -> Trainer:
    """Train DRC on ``split`` of a prepared dataset; resumes from ``checkpoint`` when it exists.

    Snapshots (``train.snapshot_every``) go to ``snapshot_dir``, which is created even when none is due
    (a pipeline output); a run that starts afresh first removes those of an earlier run there.

    The persistent-chain IoU of the ``monitor_split`` images that are also training images is
    logged every ``train.monitor_every`` iterations (a cheap learning curve; no extra sampling),
    scored like the evaluation, at the dataset's resolution.
    """
    trainer, prepared, rows, data, resumed = build_trainer(
        dataset_dir, split, model, train, checkpoint, resume, profile
    )
    checkpoint = Path(checkpoint)
    if snapshot_dir is not None:
        Path(snapshot_dir).mkdir(parents=True, exist_ok=True)
        _clear_snapshots(snapshot_dir, after=trainer.iteration)
    monitor = _monitor_positions(prepared, rows, monitor_split if prepared.masks is not None else None)
    monitor_masks = np.asarray(prepared.masks[rows[monitor]]) if len(monitor) else None  # at the data's resolution
    live = _open_live(live_dir, resumed)
    cfg = train

    def log(iteration: int, logs: dict[str, float], tr: Trainer) -> None:
        if live is None:
            return
        live.step = iteration
        for key, value in logs.items():
            live.log_metric(key, value)
        if cfg.monitor_every and len(monitor) and iteration % cfg.monitor_every < cfg.log_every:
            scores = tr.chain_scores(monitor, monitor_masks)
            live.log_metric("monitor/iou", scores["iou"])
            live.log_metric("monitor/dice", scores["dice"])
        if cfg.image_every and iteration % cfg.image_every < cfg.log_every:
            shown = monitor if len(monitor) else np.arange(min(8, len(rows)))
            live.log_image("samples.png", sample_grid(tr, data, shown))
        live.make_summary()

    try:
        trainer.run(checkpoint_path=checkpoint, log=log, progress=progress, snapshot_dir=snapshot_dir)
    finally:  # an interrupted run keeps the curves it logged, for the run that resumes it
        if live is not None:
            live.end()
    if not checkpoint.is_file():  # iterations == 0
        trainer.save(checkpoint)
    return trainer


# Settings that may change between a checkpoint and its continuation without changing the run
# ("perf" changes how the math executes, not the math; checkpoints older than the field lack it).
RESUME_FREE = {
    "iterations",
    "checkpoint_every",
    "snapshot_every",
    "log_every",
    "image_every",
    "monitor_every",
    "device",
    "perf",
}


def _clear_snapshots(directory: str | Path, after: int) -> None:
    """Remove the snapshots past iteration ``after``: they belong to another run than the one continued."""
    for iteration, path in snapshots(directory):
        if iteration > after:
            path.unlink()


def _resumable(ckpt: dict[str, Any], trainer: Trainer) -> bool:
    """A checkpoint continues this run only if it was made with the same settings and data."""
    same_train = {k: v for k, v in ckpt["train_config"].items() if k not in RESUME_FREE} == {
        k: v for k, v in to_dict(trainer.config).items() if k not in RESUME_FREE
    }
    same = (
        same_train
        and ckpt["model_config"] == to_dict(trainer.model_config)
        and ckpt.get("dataset", {}).get("checksums") == trainer.dataset_info.get("checksums")
        and ckpt.get("dataset", {}).get("n_images") == trainer.dataset_info.get("n_images")
    )
    if not same:
        print("existing checkpoint was made with other settings or data; training afresh")
    return same


def _monitor_positions(prepared: Prepared, rows: np.ndarray, split: str | None) -> np.ndarray:
    """Positions (into ``rows``) of the monitor split's images that are being trained on."""
    if split is None or split not in prepared.meta["splits"]:
        return np.zeros(0, dtype=np.int64)
    wanted = set(prepared.split(split).tolist())
    return np.asarray([i for i, r in enumerate(rows.tolist()) if r in wanted], dtype=np.int64)


def _open_live(live_dir: str | Path | None, resume: bool):
    if live_dir is None:
        return None
    from dvclive import Live  # imported lazily: heavy, and only training logs

    return Live(dir=str(live_dir), dvcyaml=None, save_dvc_exp=False, resume=resume, report=None)
