"""Training runs on prepared datasets: the function the CLI and the train stage call.

It resumes a checkpoint that continues the same run (same settings and data), logs curves, the
persistent chains' IoU and sample grids to DVCLive, and prints how many images it trains on (with a
warning under ``FEW_IMAGES``).

A checkpoint of another run (other settings or data) is never written over silently: the CLI refuses it
in one line that names the differing settings, unless ``--fresh``; the DVC train stage owns its
checkpoint (a DVC output) and trains afresh, printing the same line. A file at the checkpoint's path that
is not a readable checkpoint is written over only with ``--force`` (drc/outputs.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

from drc.atomic import write_text
from drc.checkpoint import read_checkpoint, snapshots
from drc.config import ModelConfig, TrainConfig, to_dict
from drc.data.prepared import Prepared, PreparedDataset
from drc.errors import DRCError
from drc.outputs import output_file, output_folder
from drc.reports.grids import sample_grid
from drc.training import Trainer

OtherRun = Literal["refuse", "retrain"]  # a checkpoint of another run at the path: stop, or train afresh over it
# Fewer training images than this draws a warning: DRC learns what a background is from how backgrounds vary
# across images (the paper trains on 6K-20K); under about 100, i.e. six batches of 16 (the photos profile's),
# the generators can memorise every image whole and the masks say little.
FEW_IMAGES = 100


def build_trainer(
    dataset_dir: str | Path,
    split: str,
    model: ModelConfig,
    train: TrainConfig,
    checkpoint: str | Path,
    resume: bool,
    profile: str | None = None,
    trainer_class: type[Trainer] = Trainer,
    other_run: OtherRun = "refuse",
    force: bool = False,
) -> tuple[Trainer, Prepared, np.ndarray, PreparedDataset, bool]:
    """A trainer over ``split`` of a prepared dataset, resumed from ``checkpoint`` when it continues this run.

    ``resume=False`` (``--fresh``) trains afresh over a checkpoint of this or another run; a checkpoint
    of another run otherwise stops with one line (``other_run="refuse"``) or is trained afresh over
    (``"retrain"``); ``force`` lets a file that is not a readable checkpoint be written over.
    Returns (trainer, prepared dataset, training rows, the in-memory dataset, whether it resumed).
    """
    checkpoint = Path(checkpoint)
    ckpt = existing_checkpoint(checkpoint, force)
    prepared = Prepared.open(dataset_dir)
    rows = prepared.split(split)[: train.max_images]
    total = len(prepared.split(split))
    capped = f" (the first {len(rows)} of {total}: train.max_images)" if len(rows) < total else ""
    print(f"training on {len(rows)} images of {prepared.name}, split {split}{capped}", flush=True)
    if len(rows) < FEW_IMAGES:
        print(
            f"warning: {len(rows)} images are few for DRC, which learns what a background is from how "
            f"backgrounds vary across images; expect poor masks under about {FEW_IMAGES} (docs/own-images.md)",
            flush=True,
        )
    data = PreparedDataset(prepared, rows, resolution=model.resolution)
    info = {
        "name": prepared.name,
        "split": split,
        "n_images": len(rows),
        "root": str(dataset_dir),
        "checksums": prepared.meta.get("checksums", {}),
    }
    trainer = trainer_class(model, train, data.images, dataset_info=info, profile=profile)
    resumed = ckpt is not None and resume and _continues(checkpoint, ckpt, trainer, other_run)
    if resumed:
        trainer.load(checkpoint)
    elif ckpt is not None and not resume:
        print(f"--fresh: training afresh over {checkpoint}", flush=True)
    return trainer, prepared, rows, data, resumed


def existing_checkpoint(path: Path, force: bool) -> dict[str, Any] | None:
    """The checkpoint at ``path``; None when there is none, or (``force``) a file that is not one."""
    if path.is_dir():
        raise DRCError(f"--out {path} is a folder; name a checkpoint file, e.g. {path / 'model.pt'}")
    if not path.exists():
        return None
    try:
        return read_checkpoint(path)
    except DRCError:
        output_file(path, "--out", lambda _: False, "a readable DRC checkpoint", force)
        return None


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
    other_run: OtherRun = "refuse",
    force: bool = False,
) -> Trainer:
    """Train DRC on ``split`` of a prepared dataset; resumes from ``checkpoint`` when it continues this run
    (``build_trainer`` says what happens to one that does not).

    Snapshots (``train.snapshot_every``) go to ``snapshot_dir``, which is created even when none is due
    (a pipeline output); a run that starts afresh first removes those of an earlier run there.

    The persistent-chain IoU of the ``monitor_split`` images that are also training images is
    logged every ``train.monitor_every`` iterations (a cheap learning curve; no extra sampling),
    scored like the evaluation, at the dataset's resolution.
    """
    trainer, prepared, rows, data, resumed = build_trainer(
        dataset_dir, split, model, train, checkpoint, resume, profile, other_run=other_run, force=force
    )
    checkpoint = Path(checkpoint)
    if snapshot_dir is not None:
        Path(snapshot_dir).mkdir(parents=True, exist_ok=True)
        _clear_snapshots(snapshot_dir, after=trainer.iteration)
    monitor = _monitor_positions(prepared, rows, monitor_split if prepared.masks is not None else None)
    monitor_masks = np.asarray(prepared.masks[rows[monitor]]) if len(monitor) else None  # at the data's resolution
    live = _open_live(live_dir, resumed, trainer.iteration)
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


def _continues(path: Path, ckpt: dict[str, Any], trainer: Trainer, other_run: OtherRun) -> bool:
    """Whether the checkpoint continues this run; one that does not is refused or trained afresh over."""
    differences = run_differences(ckpt, trainer)
    if not differences:
        return True
    listed = ", ".join(differences[:6]) + (f" and {len(differences) - 6} more" if len(differences) > 6 else "")
    if other_run == "refuse":
        raise DRCError(
            f"{path} is another run's checkpoint ({listed}); the same settings resume it: pass --fresh to "
            "train afresh over it, or choose another --out"
        )
    print(f"{path} is another run's checkpoint ({listed}); training afresh", flush=True)
    return False


def run_differences(ckpt: dict[str, Any], trainer: Trainer) -> list[str]:
    """What makes a checkpoint another run than ``trainer``'s, one phrase each (none: it continues it).
    Settings in ``RESUME_FREE`` may differ; the model and the other train settings, the profile and
    the training images may not."""
    differences = []
    now = {"model": to_dict(trainer.model_config), "train": to_dict(trainer.config)}
    for section, recorded in (("model", ckpt["model_config"]), ("train", ckpt["train_config"])):
        for key in sorted(set(recorded) | set(now[section])):
            old, new = recorded.get(key), now[section].get(key)
            if old != new and not (section == "train" and key in RESUME_FREE):
                differences.append(f"{section}.{key} {old!r} -> {new!r}")
    profile = ckpt.get("profile")
    if profile is not None and trainer.profile is not None and profile != trainer.profile:
        differences.insert(0, f"profile {profile} -> {trainer.profile}")
    data, info = ckpt.get("dataset", {}), trainer.dataset_info
    if data.get("n_images") != info.get("n_images"):
        differences.append(f"{data.get('n_images')} -> {info.get('n_images')} training images")
    elif data.get("checksums") != info.get("checksums"):
        differences.append("other training images (the prepared dataset's checksums differ)")
    return differences


def _monitor_positions(prepared: Prepared, rows: np.ndarray, split: str | None) -> np.ndarray:
    """Positions (into ``rows``) of the monitor split's images that are being trained on."""
    if split is None or split not in prepared.meta["splits"]:
        return np.zeros(0, dtype=np.int64)
    wanted = set(prepared.split(split).tolist())
    return np.asarray([i for i, r in enumerate(rows.tolist()) if r in wanted], dtype=np.int64)


def is_live_folder(folder: Path) -> bool:
    """Whether DVCLive has logged into ``folder`` (its metric series)."""
    return (folder / "plots" / "metrics").is_dir()


def claim_live_dir(folder: Path) -> None:
    """Refuse a DVCLive folder that holds other files: a run that starts afresh clears DVCLive's own names
    there (plots/, metrics.json, params.yaml, dvc.yaml, report.*), so not even --force may name one."""
    output_folder(folder, "--live-dir", is_live_folder, "a DVCLive folder (DVCLive clears its files there)", False)


def _open_live(live_dir: str | Path | None, resume: bool, iteration: int):
    """DVCLive's logger in ``live_dir`` (None: no logging); a resumed run first drops the rows past ``iteration``."""
    if live_dir is None:
        return None
    from dvclive import Live  # imported lazily: heavy, and only training logs

    if resume:
        drop_rows_after(Path(live_dir), iteration)
    return Live(dir=str(live_dir), dvcyaml=None, save_dvc_exp=False, resume=resume, report=None)


def drop_rows_after(live_dir: Path, iteration: int) -> None:
    """Remove the curves' rows (``plots/metrics/**/*.tsv``) logged after ``iteration``. A run killed after its last
    checkpoint has logged them; the run that resumes that checkpoint logs those iterations again, so each
    would otherwise appear twice."""
    for tsv in sorted((live_dir / "plots" / "metrics").rglob("*.tsv")):
        header, *rows = tsv.read_text().splitlines()
        step = header.split("\t").index("step")
        kept = [row for row in rows if int(row.split("\t")[step]) <= iteration]
        if len(kept) < len(rows):
            write_text(tsv, "\n".join([header, *kept]) + "\n", replace=True)
