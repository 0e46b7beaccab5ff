"""Train and evaluate on prepared datasets: the functions the CLI and the DVC stages call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from drc.checkpoint import load_model, read_checkpoint
from drc.data.prepared import Prepared, PreparedDataset
from drc.errors import DRCError
from drc.inference import Extraction, extract
from drc.metrics import scores_at_target_size, summarize
from drc.model.config import ModelConfig
from drc.reports.grids import sample_grid
from drc.train_config import InferConfig, TrainConfig
from drc.training import Trainer


@dataclass(frozen=True)
class Settings:
    """Everything that decides a run, resolved from params.yaml for one dataset."""

    model: ModelConfig
    train: TrainConfig
    infer: InferConfig
    train_images: int | None = None  # cap on training images (first rows of the split; None = all)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.to_dict(),
            "train": self.train.to_dict(),
            "infer": self.infer.to_dict(),
            "train_images": self.train_images,
        }


def training_rows(prepared: Prepared, split: str, cap: int | None) -> np.ndarray:
    rows = prepared.split(split)
    return rows if cap is None else rows[:cap]


def build_trainer(
    dataset_dir: str | Path,
    split: str,
    settings: Settings,
    checkpoint: str | Path,
    resume: bool,
    trainer_class: type[Trainer] = Trainer,
) -> tuple[Trainer, Prepared, np.ndarray, PreparedDataset, bool]:
    """A trainer over ``split`` of a prepared dataset, resumed from ``checkpoint`` when it continues this run.

    Returns (trainer, prepared dataset, training rows, the in-memory dataset, whether it resumed).
    """
    prepared = Prepared.open(dataset_dir)
    rows = training_rows(prepared, split, settings.train_images)
    data = PreparedDataset(prepared, rows, resolution=settings.model.resolution)
    info = {
        "name": prepared.name,
        "split": split,
        "n_images": len(rows),
        "root": str(dataset_dir),
        "checksums": prepared.meta.get("checksums", {}),
    }
    trainer = trainer_class(
        settings.model, settings.train, data.images, dataset_info=info, infer_config=settings.infer.to_dict()
    )
    checkpoint = Path(checkpoint)
    resumed = resume and checkpoint.is_file() and _resumable(read_checkpoint(checkpoint), trainer)
    if resumed:
        trainer.load(checkpoint)
    return trainer, prepared, rows, data, resumed


def train_model(
    dataset_dir: str | Path,
    split: str,
    settings: Settings,
    checkpoint: str | Path,
    live_dir: str | Path | None = None,
    monitor_split: str | None = "eval",
    resume: bool = True,
    progress: bool = True,
) -> Trainer:
    """Train DRC on ``split`` of a prepared dataset; resumes from ``checkpoint`` when it exists.

    The persistent-chain IoU of the ``monitor_split`` images that are also training images is
    logged every ``train.monitor_every`` iterations (a cheap learning curve; no extra sampling),
    scored like the evaluation, at the dataset's resolution.
    """
    trainer, prepared, rows, data, resumed = build_trainer(dataset_dir, split, settings, checkpoint, resume)
    checkpoint = Path(checkpoint)
    monitor = _monitor_positions(prepared, rows, monitor_split)
    monitor_masks = np.asarray(prepared.masks[rows[monitor]])  # scored at the dataset's resolution
    live = _open_live(live_dir, resumed)
    cfg = settings.train

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
            live.log_image("samples.png", sample_grid(tr, data, monitor if len(monitor) else np.arange(8)))
        live.make_summary()

    trainer.run(checkpoint_path=checkpoint, log=log, progress=progress)
    # iterations == 0 leaves no checkpoint; a finished run continued under other inference settings
    # (which do not change training) takes them, so that `drc extract` infers as params.yaml says.
    if not checkpoint.is_file() or read_checkpoint(checkpoint).get("infer_config") != trainer.infer_config:
        trainer.save(checkpoint)
    if live is not None:
        live.end()
    return trainer


# Settings that may change between a checkpoint and its continuation without changing the run
# ("perf" changes how the math executes, not the math; checkpoints older than the field lack it).
RESUME_FREE = {"iterations", "checkpoint_every", "log_every", "image_every", "monitor_every", "device", "perf"}


def _resumable(ckpt: dict[str, Any], trainer: Trainer) -> bool:
    """A checkpoint continues this run only if it was made with the same settings and data."""
    same_train = {k: v for k, v in ckpt["train_config"].items() if k not in RESUME_FREE} == {
        k: v for k, v in trainer.config.to_dict().items() if k not in RESUME_FREE
    }
    same = (
        same_train
        and ckpt["model_config"] == trainer.model_config.to_dict()
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


def infer_config_of(ckpt: dict[str, Any], **overrides: Any) -> InferConfig:
    """The inference settings stored with a checkpoint (those of its training run), with overrides."""
    return resolve_infer(ckpt.get("infer_config", {}), **overrides)


def resolve_infer(stored: dict[str, Any], **overrides: Any) -> InferConfig:
    """Inference settings from a dict of ``InferConfig`` fields, with explicit overrides (None = keep).

    Chains that start from noise run ``noise_steps`` (when set) unless ``steps`` is overridden.
    """
    explicit = {k: v for k, v in overrides.items() if v is not None}
    values = {**stored, **explicit}
    if values.get("init", "noise") == "noise" and values.get("noise_steps") and "steps" not in explicit:
        values["steps"] = values["noise_steps"]
    return InferConfig.from_dict(values)


def extract_images(
    checkpoint: str | Path,
    images: torch.Tensor,
    infer: InferConfig | None = None,
    z_init: torch.Tensor | None = None,
    progress: bool = True,
) -> Extraction:
    """Run a trained model on N x 3 x r x r images in [-1, 1] (r = the model's resolution)."""
    ckpt = read_checkpoint(checkpoint)
    model, _ = load_model(checkpoint, _device())
    res = model.config.resolution
    if tuple(images.shape[1:]) != (3, res, res):
        raise DRCError(f"images are {tuple(images.shape[1:])}, the model expects 3x{res}x{res}")
    infer = infer or infer_config_of(ckpt)
    train = TrainConfig.from_dict(ckpt["train_config"])
    return extract(model, images, infer, train.sigma, train.tv_weight, z_init=z_init, progress=progress)


def evaluate_prepared(
    checkpoint: str | Path,
    dataset_dir: str | Path,
    split: str,
    infer: InferConfig | None = None,
    progress: bool = True,
) -> tuple[dict[str, Any], np.ndarray, Extraction]:
    """Score a checkpoint on a split of a prepared dataset.

    With ``infer.init == "persistent"`` the chains start from the training run's persistent
    posterior chains (only for images the model was trained on); otherwise from N(0, I).
    Masks are scored at the prepared dataset's resolution (the paper's 128 px), whatever the model's:
    each soft mask is resized there as ``drc extract`` does (``drc.metrics.scores_at_target_size``).
    Returns (summary in percent, per-image IoU fractions, the extraction).
    """
    ckpt = read_checkpoint(checkpoint)
    infer = infer or infer_config_of(ckpt)
    res = ModelConfig.from_dict(ckpt["model_config"]).resolution
    prepared = Prepared.open(dataset_dir)
    rows = prepared.split(split)
    data = PreparedDataset(prepared, rows, resolution=res)
    z_init = _persistent_init(ckpt, prepared, rows) if infer.init == "persistent" else None
    out = extract_images(checkpoint, data.images, infer, z_init=z_init, progress=progress)
    masks = np.asarray(prepared.masks[rows])
    iou, dice = scores_at_target_size(out.soft_mask, masks)
    summary = {
        **summarize(iou, dice),
        **infer.score_fields(),
        "init": infer.init,
        "resolution": res,
        "mask_resolution": int(masks.shape[-1]),
    }
    return summary, iou, out


def _persistent_init(ckpt: dict[str, Any], prepared: Prepared, rows: np.ndarray) -> torch.Tensor:
    info = ckpt.get("dataset", {})
    if info.get("name") != prepared.name:
        raise DRCError(
            f"infer.init=persistent needs the training set's chains, but the model was trained on "
            f"{info.get('name')!r}, not {prepared.name!r}; use infer.init=noise"
        )
    trained_rows = training_rows(prepared, info["split"], info["n_images"])
    position = {int(r): i for i, r in enumerate(trained_rows)}
    missing = [int(r) for r in rows if int(r) not in position]
    if missing:
        raise DRCError(
            f"{len(missing)} evaluation images were not trained on, so they have no persistent chain; "
            "use infer.init=noise"
        )
    return ckpt["z_post"][[position[int(r)] for r in rows]]


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
