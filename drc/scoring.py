"""Inference and scores with a trained checkpoint: the functions the CLI and the scoring stages call."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from drc.checkpoint import load_model, model_config_of, read_checkpoint, train_config_of
from drc.config import ReadoutConfig, SamplerConfig, from_dict
from drc.cpu_isa import pin_as_recorded
from drc.data.folder import SUFFIXES, UNREADABLE, mask_for, read_image, read_mask, scan_images, unsupported_reason
from drc.data.prepared import Prepared, PreparedDataset, to_model_range
from drc.devices import resolve_device
from drc.errors import DRCError
from drc.imageio import resize_rgb, resize_to
from drc.inference import Extraction, content_key, extract
from drc.metrics import summarize
from drc.params import resolve_inference
from drc.provenance import check_checkpoint, check_prepared, folder_record, read_scores
from drc.readout import Readout, Renderings


def inference_settings(
    ckpt: dict[str, Any],
    params: dict[str, Any] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> tuple[SamplerConfig, ReadoutConfig]:
    """The sampler and read-out for a checkpoint: those of the profile it was trained under (the paper's
    when it names none) for its dataset, then a params file's sections and ``--set`` overrides."""
    dataset = str(ckpt.get("dataset", {}).get("name", ""))
    profile = ckpt.get("profile") or "paper"
    return resolve_inference(dataset, profile, params, overrides)


def model_readout(ckpt: dict[str, Any], sampler: SamplerConfig, readout: ReadoutConfig) -> Readout:
    """The read-out of a checkpoint's model whose chains run under ``sampler`` (``Readout.resolve``)."""
    return Readout.resolve(readout, sampler, train_config_of(ckpt))


def extract_images(
    checkpoint: str | Path,
    images: torch.Tensor,
    sampler: SamplerConfig,
    readout: Readout,
    z_init: torch.Tensor | None = None,
    keys: Sequence[int] | None = None,
    progress: bool = True,
) -> Extraction:
    """Run a trained model on N x 3 x r x r images in [-1, 1] (r = the model's resolution); ``keys`` name
    each image's random stream (``drc.inference.extract``)."""
    model, ckpt = load_model(checkpoint, resolve_device("auto"))
    res = model.config.resolution
    if tuple(images.shape[1:]) != (3, res, res):
        raise DRCError(f"images are {tuple(images.shape[1:])}, the model expects 3x{res}x{res}")
    return extract(model, images, sampler, readout, train_config_of(ckpt).tv_norm, z_init, keys, progress)


def evaluation_split(prepared: Prepared, wanted: str) -> str:
    """The evaluation subset when the dataset defines one (TM-dSprites, CLEVR6), else ``wanted``."""
    return "eval" if wanted == "all" and "eval" in prepared.meta["splits"] else wanted


def evaluate_prepared(
    checkpoint: str | Path,
    dataset_dir: str | Path,
    split: str,
    sampler: SamplerConfig,
    readout: ReadoutConfig,
    progress: bool = True,
    limit: int | None = None,
) -> tuple[dict[str, Any], np.ndarray, Extraction]:
    """Score a checkpoint on a split of a prepared dataset (its first ``limit`` images, if given).

    With ``sampler.init == "persistent"`` the chains start from the training run's persistent
    posterior chains (only for images the model was trained on); otherwise from N(0, I).
    Masks are scored at the prepared dataset's resolution (the paper's 128 px), whatever the model's:
    each soft mask is read out there as ``drc extract`` reads it (``drc.readout.Readout.scores``). The
    summary and the per-image IoU are the model's own masks; under ``readout.refine=grabcut`` the summary
    also records the ``refined`` score, the same masks redrawn by GrabCut on the prepared image (a
    post-processing step, reported apart). Returns (summary in percent, per-image IoU fractions, the
    extraction).
    """
    ckpt = read_checkpoint(checkpoint)
    res = model_config_of(ckpt).resolution
    prepared = Prepared.open(dataset_dir)
    prepared.labelled_masks()  # before minutes of inference: a dataset without masks cannot be scored
    rows = prepared.split(split)[:limit]
    data = PreparedDataset(prepared, rows, resolution=res)
    z_init = _persistent_init(ckpt, prepared, rows) if sampler.init == "persistent" else None
    how = model_readout(ckpt, sampler, readout)
    out = extract_images(checkpoint, data.images, sampler, how, z_init, keys=rows, progress=progress)
    masks = np.asarray(prepared.labelled_masks()[rows])
    renderings = how.renderings(out.fg, out.bg)
    originals = np.asarray(prepared.images[rows]) if how.uses_images else None
    iou, dice = how.own.scores(out.soft_mask, masks, originals, renderings)
    summary = {**summarize(iou, dice), "resolution": res, "mask_resolution": int(masks.shape[-1])}
    return {**summary, **_refined(out, masks, how, originals, renderings)}, iou, out


def evaluate_folders(
    checkpoint: str | Path,
    image_dir: Path,
    mask_dir: Path,
    sampler: SamplerConfig,
    readout: ReadoutConfig,
    progress: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Score a checkpoint on a folder of images (searched recursively) against masks of any size with the
    same relative path and stem.

    Images are resized to the model's resolution; each inferred mask is brought to its ground-truth
    mask's own size as ``drc extract`` writes it, and scored there. Each image's chains are keyed by its
    pixels (``content_key``), as ``drc extract`` keys them. Returns (summary, data record).
    """
    ckpt = read_checkpoint(checkpoint)
    res = model_config_of(ckpt).resolution
    paths, mask_paths = labelled_images(Path(image_dir), Path(mask_dir))
    masks = [_readable(read_mask, p) for p in mask_paths]
    small, originals, keys = [], [], []  # originals at their masks' sizes, held only to refine there
    for path, mask in zip(paths, masks, strict=True):
        image = _readable(read_image, path)
        small.append(resize_rgb(image, res))
        keys.append(content_key(image))
        if readout.uses_images:
            originals.append(resize_to(image, *mask.shape[:2]))
    x = to_model_range(np.stack(small))
    how = model_readout(ckpt, sampler, readout)
    out = extract_images(checkpoint, x, sampler, how, keys=keys, progress=progress)
    renderings = how.renderings(out.fg, out.bg)
    summary = summarize(*how.own.scores(out.soft_mask, masks, originals, renderings))
    refined = _refined(out, masks, how, originals, renderings)
    return {**summary, **refined}, folder_record(paths, mask_paths, image_dir, mask_dir)


def _refined(
    out: Extraction,
    masks: Sequence[np.ndarray],
    how: Readout,
    originals: Sequence[np.ndarray] | None,
    renderings: Renderings | None,
) -> dict[str, Any]:
    """{"refined": the score of the model's masks redrawn by GrabCut} when the read-out refines them, else {}."""
    if how.config.refine == "none":
        return {}
    iou, dice = how.scores(out.soft_mask, masks, originals, renderings)
    return {"refined": {"iou": float(100 * iou.mean()), "dice": float(100 * dice.mean())}}


def labelled_images(image_dir: Path, mask_dir: Path) -> tuple[list[Path], list[Path]]:
    """The images under ``image_dir`` (recursively) and their masks: same relative path and stem under
    ``mask_dir``. One error lists the images without one (a score needs every image's mask)."""
    if not mask_dir.is_dir():
        raise DRCError(f"mask folder {mask_dir} does not exist")
    scan = scan_images(image_dir)
    for path in scan.unsupported:
        print(f"skipped {path}: {unsupported_reason(path)}", flush=True)
    paths = scan.images
    if not paths:
        raise DRCError(f"no images ({', '.join(SUFFIXES)}) under {image_dir}")
    masks = [mask_for(p, image_dir, mask_dir) for p in paths]
    missing = [p.relative_to(image_dir).as_posix() for p, m in zip(paths, masks, strict=True) if m is None]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise DRCError(
            f"{len(missing)} image(s) have no mask of the same relative path and stem in {mask_dir}: {shown}"
        )
    return paths, masks


def _readable(read: Callable[[Path], np.ndarray], path: Path) -> np.ndarray:
    try:
        return read(path)
    except UNREADABLE as exc:
        raise DRCError(f"cannot read {path} ({type(exc).__name__}); is it a valid image file?") from exc


def rerun_scores(path: str | Path, progress: bool = True) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Re-run every DRC result of a scores file (drc/provenance.py) from what it records: yields
    (result key, recorded result, new summary). The checkpoint and the data must be those scored; the CPU
    kernels are pinned to those recorded (drc/cpu_isa.py)."""
    record = read_scores(path)
    if "model" not in record:
        raise DRCError(f"{path} holds no DRC scores with their model (a GrabCut file re-runs with its stage)")
    checkpoint = check_checkpoint(record["model"])
    pin_as_recorded(record.get("compute", {}).get("cpu_capability"))
    for key, result in record["results"].items():
        sampler = from_dict(SamplerConfig, result["sampler"], "recorded sampler")
        readout = from_dict(ReadoutConfig, result["readout"], "recorded readout")
        data = result["data"]
        if "prepared" in data:
            prepared = check_prepared(data)
            summary, _, _ = evaluate_prepared(checkpoint, prepared.root, data["split"], sampler, readout, progress)
        else:
            summary, now = evaluate_folders(
                checkpoint, Path(data["images"]), Path(data["masks"]), sampler, readout, progress
            )
            if now["sha256"] != data["sha256"]:
                raise DRCError(f"{data['images']} / {data['masks']} are not the files that were scored")
        yield key, result, summary


def _persistent_init(ckpt: dict[str, Any], prepared: Prepared, rows: np.ndarray) -> torch.Tensor:
    info = ckpt.get("dataset", {})
    if info.get("name") != prepared.name:
        raise DRCError(
            f"sampler.init=persistent needs the training set's chains, but the model was trained on "
            f"{info.get('name')!r}, not {prepared.name!r}; use sampler.init=noise"
        )
    trained_rows = prepared.split(info["split"])[: info["n_images"]]
    position = {int(r): i for i, r in enumerate(trained_rows)}
    missing = [int(r) for r in rows if int(r) not in position]
    if missing:
        raise DRCError(
            f"{len(missing)} evaluation images were not trained on, so they have no persistent chain; "
            "use sampler.init=noise"
        )
    return ckpt["z_post"][[position[int(r)] for r in rows]]
