"""Foregrounds of many images: batch by batch in bounded memory, resumable, a bad file never stops the rest.

``extract_folder`` walks the inputs (folders recursively), infers a batch of images at a time at the
model's resolution, and writes for each image ``<relative path>_mask.png`` (0/255) and
``<relative path>_cutout.png`` (RGBA) at the image's own size, mirroring the input's folders. Only
the batch's small copies are held; each original is read again when its outputs are written, so memory
does not grow with the number of images. A manifest (``MANIFEST`` in the output folder, written after
every batch) records the model, the settings and each finished image's size and modification time:
a later call with the same model and settings skips the images that are up to date, and each image's
chains draw from its own stream keyed by its relative path (``drc.inference.extract``), so a resumed
run draws what an uninterrupted one would (its masks differ only by the float rounding of batches of
another size).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from drc.atomic import write_json
from drc.checkpoint import load_model, train_config_of
from drc.config import ReadoutConfig, SamplerConfig, check_inference, to_dict
from drc.data.folder import UNREADABLE, read_image, read_mask, walk_images
from drc.data.prepared import sha256_file, to_model_range
from drc.devices import resolve_device
from drc.errors import DRCError
from drc.imageio import resize_rgb, write_png
from drc.inference import extract
from drc.readout import Readout, Renderings, of_image
from drc.reports.sheets import contact_sheet
from drc.scoring import path_key

MANIFEST = ".drc-extract.json"
PREVIEW_IMAGES = 24  # images on a contact sheet


@dataclass(frozen=True)
class Job:
    """One input image and where its outputs go."""

    source: Path
    name: Path  # output path relative to the output folder, without the _mask.png / _cutout.png ending
    key: int  # its random stream

    def outputs(self, out: Path) -> tuple[Path, Path]:
        return out / f"{self.name}_mask.png", out / f"{self.name}_cutout.png"


def plan(inputs: Sequence[str | Path]) -> list[Job]:
    """Every image of ``inputs`` (files, and folders searched recursively) with an output name that mirrors
    its path relative to its folder (under a folder of the input's name when several inputs are given).
    Two images whose names differ only in their suffix (x.jpg, x.png) keep the suffix in the name."""
    roots: list[tuple[Path, list[Path]]] = []
    for item in map(Path, inputs):
        if item.is_dir():
            roots.append((item, walk_images(item)))
        elif item.is_file():
            roots.append((item.parent, [item]))
        else:
            raise DRCError(f"{item} does not exist; pass image files or folders of images")
    prefixes = _prefixes([root for root, _ in roots]) if len(roots) > 1 else [Path()] * len(roots)
    jobs, taken = [], set()
    for (root, files), prefix in zip(roots, prefixes, strict=True):
        for path in files:
            rel = prefix / path.relative_to(root)
            name = rel.with_suffix("")
            if name in taken:
                name = rel.with_name(f"{rel.stem}_{rel.suffix.lstrip('.')}")
            taken.add(name)
            jobs.append(Job(path, name, path_key(rel)))
    if not jobs:
        raise DRCError(f"no images in {', '.join(map(str, inputs))}")
    return jobs


def _prefixes(roots: list[Path]) -> list[Path]:
    names: list[Path] = []
    for root in roots:
        name, n = Path(root.resolve().name or "input"), 2
        while name in names:
            name, n = Path(f"{root.resolve().name}_{n}"), n + 1
        names.append(name)
    return names


@dataclass
class Report:
    written: int = 0
    up_to_date: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)


def extract_folder(
    checkpoint: str | Path,
    inputs: Sequence[str | Path],
    out: str | Path,
    sampler: SamplerConfig,
    readout: ReadoutConfig,
    preview: Path | None = None,
    progress: bool = True,
) -> Report:
    """Masks and cut-outs of every image of ``inputs`` under ``out`` (see the module docstring)."""
    check_inference(sampler, readout)
    out = Path(out)
    jobs = plan(inputs)
    model, ckpt = load_model(checkpoint, resolve_device("auto"))
    train, res = train_config_of(ckpt), model.config.resolution
    how = Readout.resolve(readout, sampler, train)
    settings = {
        "checkpoint_sha256": sha256_file(checkpoint),
        "sampler": to_dict(sampler),
        "readout": to_dict(readout),
    }
    done = _finished(out, settings)
    todo = [job for job in jobs if not _up_to_date(job, out, done)]
    report = Report(up_to_date=len(jobs) - len(todo))
    bar = tqdm(total=len(jobs), initial=report.up_to_date, unit="img", desc="extract", disable=not progress)
    with bar:
        for batch in _batches(todo, sampler.batch_size):
            readable, small = [], []
            for job in batch:
                try:
                    small.append(resize_rgb(read_image(job.source), res))
                    readable.append(job)
                except UNREADABLE as exc:
                    report.failed.append((job.source, f"cannot be read as an image ({type(exc).__name__})"))
                    bar.write(f"skipped {job.source}: cannot be read as an image ({type(exc).__name__})")
                    bar.update(1)
            if not readable:
                continue
            keys = [job.key for job in readable]
            x = to_model_range(np.stack(small))
            result = extract(model, x, sampler, how, train.tv_norm, keys=keys, progress=False)
            renderings = how.renderings(result.fg, result.bg)
            for i, (job, soft) in enumerate(zip(readable, result.soft_mask.numpy(), strict=True)):
                _write(job, out, soft, how, of_image(renderings, i))
                done[job.name.as_posix()] = _signature(job.source)
                report.written += 1
                bar.update(1)
            write_json(out / MANIFEST, {**settings, "done": done})
    if preview is not None:
        write_png(preview, contact_sheet(list(_preview_items(jobs, out))))
    return report


def _batches(jobs: list[Job], size: int) -> Iterator[list[Job]]:
    for start in range(0, len(jobs), size):
        yield jobs[start : start + size]


def _write(job: Job, out: Path, soft: np.ndarray, how: Readout, renderings: Renderings | None) -> None:
    """The image's mask and cut-out at its own size (its original is read again: only one is held)."""
    image = read_image(job.source)
    mask, rgba = how.cutout(image, soft, renderings)
    mask_path, cutout_path = job.outputs(out)
    write_png(mask_path, (mask * 255).astype(np.uint8))
    write_png(cutout_path, rgba)


def _signature(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _finished(out: Path, settings: dict[str, Any]) -> dict[str, list[int]]:
    """The images the manifest records as written with these settings ({} when it records others)."""
    try:
        manifest = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    same = all(manifest.get(k) == v for k, v in settings.items())
    return dict(manifest.get("done", {})) if same else {}


def _up_to_date(job: Job, out: Path, done: dict[str, list[int]]) -> bool:
    recorded = done.get(job.name.as_posix())
    return recorded == _signature(job.source) and all(p.is_file() for p in job.outputs(out))


def _preview_items(jobs: list[Job], out: Path) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(image, mask) of the first ``PREVIEW_IMAGES`` images whose outputs exist, read back from disk."""
    shown = 0
    for job in jobs:
        mask_path, _ = job.outputs(out)
        if shown == PREVIEW_IMAGES or not mask_path.is_file():
            continue
        try:
            yield read_image(job.source), read_mask(mask_path)
        except (UNREADABLE, DRCError):
            continue
        shown += 1
