"""Foregrounds of many images: batch by batch in bounded memory, resumable image by image, a bad file never
stops the rest, and nothing written where it does not belong.

``extract_folder`` walks the inputs (folders recursively), infers a batch of images at a time at the
model's resolution, and writes for each image ``<relative path>_mask.png`` (0/255) and
``<relative path>_cutout.png`` (RGBA) at the image's own size, mirroring the input's folders. Only
the batch's small copies are held; each original is read again when its outputs are written, so memory
does not grow with the number of images.

The output folder's manifest (``MANIFEST``, JSON lines) marks it as this command's: its first line holds
the model and the settings, then a line is appended for each image as soon as its two files are written
(its output name and its source's size and modification time), and one for each contact sheet written
from the folder. A rerun with the same model and settings skips the images recorded up to date, so a
run stopped at any point redoes only the unfinished images; with other settings every image is redone.
Each image's chains draw from a stream keyed by its decoded pixels (``drc.inference.content_key``), and
every batch of a run is inferred at one size (``batch_shape``: the images split evenly into batches of at
most ``sampler.batch_size``, a short batch padded with copies of its first image): the batched kernels
give a row the same result at a given batch size whatever the other rows hold (tested), so identical
images get identical masks wherever they lie, and a resumed run writes what an uninterrupted one would,
byte for byte. The output folder must be new, empty, an earlier output of this command or (``force``) any
folder (drc/outputs.py); inside an input folder it is left out of the scan.
"""

from __future__ import annotations

import dataclasses
import json
import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from drc.atomic import write_text
from drc.checkpoint import load_model, train_config_of
from drc.config import ReadoutConfig, SamplerConfig, TrainConfig, check_inference, to_dict
from drc.data.folder import UNREADABLE, read_image, read_mask, scan_images, unsupported_reason
from drc.data.prepared import sha256_file, to_model_range
from drc.devices import resolve_device
from drc.errors import DRCError, Interrupted
from drc.imageio import resize_rgb, write_png
from drc.inference import content_key, extract
from drc.model.drc import DRC
from drc.outputs import output_file, output_folder, outside_inputs
from drc.readout import Readout, Renderings, of_image
from drc.reports.sheets import contact_sheet

MANIFEST = ".drc-extract.jsonl"
FORMAT = "drc-extract-v1"
PREVIEW_IMAGES = 24  # images on a contact sheet
# A written mask covering less / more of its image than these fractions is named in a warning: under
# 0.5 % (about 20 pixels of a 64 px model) the model found no object; over 95 % the background is a thin
# border, so the model explained the image as one region (DRC assumes one object on a background).
EMPTY, NEAR_FULL = 0.005, 0.95


@dataclass(frozen=True)
class Job:
    """One input image and where its outputs go."""

    source: Path
    name: Path  # output path relative to the output folder, without the _mask.png / _cutout.png ending

    def outputs(self, out: Path) -> tuple[Path, Path]:
        return out / f"{self.name}_mask.png", out / f"{self.name}_cutout.png"


def plan(inputs: Sequence[str | Path], exclude: Sequence[Path] = ()) -> tuple[list[Job], list[Path]]:
    """Every image of ``inputs`` (files, and folders searched recursively, ``exclude`` left out) with an
    output name that mirrors its path relative to its folder (under a folder of the input's name when
    several inputs are given), and the image files of formats that are not read. Two images whose names
    differ only in their suffix (x.jpg, x.png) keep the suffix in the name."""
    roots: list[tuple[Path, list[Path]]] = []
    unsupported: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            scan = scan_images(item, exclude)
            roots.append((item, scan.images))
            unsupported += scan.unsupported
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
            jobs.append(Job(path, name))
    if not jobs:
        others = f"; {len(unsupported)} file(s) of formats not read, e.g. {unsupported[0]}" if unsupported else ""
        raise DRCError(f"no images in {', '.join(map(str, inputs))}{others}")
    return jobs, unsupported


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
    failed: list[tuple[Path, str]] = field(default_factory=list)  # skipped inputs and why
    empty: list[Path] = field(default_factory=list)  # written masks under EMPTY of their image
    near_full: list[Path] = field(default_factory=list)  # and over NEAR_FULL


class Manifest:
    """An output folder's record (see the module docstring); ``done`` maps output names to the size and
    modification time their sources had."""

    def __init__(self, out: Path, settings: dict[str, Any]) -> None:
        self.out, self.settings = out, settings
        lines = read_manifest(out)
        same = bool(lines) and all(lines[0].get(k) == v for k, v in settings.items())
        self.done: dict[str, list[int]] = {}
        self.previews = previews_of(out)
        for line in lines[1:] if same else []:
            if "done" in line:
                self.done[line["done"]] = line["source"]
        body = [{"done": name, "source": signature} for name, signature in self.done.items()]
        body += [{"preview": p} for p in sorted(self.previews)]
        # Rewritten whole once per run (an earlier run may have stopped inside its last line), then appended to.
        lines = [{"format": FORMAT, **settings}, *body]
        write_text(out / MANIFEST, "".join(json.dumps(line) + "\n" for line in lines), replace=True)

    def up_to_date(self, job: Job) -> bool:
        recorded = self.done.get(job.name.as_posix())
        return recorded == _signature(job.source) and all(p.is_file() for p in job.outputs(self.out))

    def record(self, line: dict[str, Any]) -> None:
        with open(self.out / MANIFEST, "a") as fh:
            fh.write(json.dumps(line) + "\n")

    def record_done(self, job: Job) -> None:
        self.record({"done": job.name.as_posix(), "source": _signature(job.source)})

    def record_preview(self, path: Path) -> None:
        self.record({"preview": str(path.resolve())})


def read_manifest(out: Path) -> list[dict[str, Any]]:
    """The manifest's lines up to the first that is not a JSON object ([] when it is none of ours)."""
    try:
        text = (out / MANIFEST).read_text()
    except (OSError, UnicodeDecodeError):
        return []
    lines = []
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            break
        if not isinstance(line, dict):
            break
        lines.append(line)
    return lines if lines and lines[0].get("format") == FORMAT else []


def is_extract_folder(out: Path) -> bool:
    return bool(read_manifest(out))


def previews_of(out: Path) -> set[str]:
    """The contact sheets (resolved paths) written from the output folder ``out``."""
    return {line["preview"] for line in read_manifest(out)[1:] if "preview" in line}


def extract_folder(
    checkpoint: str | Path,
    inputs: Sequence[str | Path],
    out: str | Path,
    sampler: SamplerConfig,
    readout: ReadoutConfig,
    preview: Path | None = None,
    progress: bool = True,
    force: bool = False,
) -> Report:
    """Masks and cut-outs of every image of ``inputs`` under ``out`` (see the module docstring); ``force``
    lets ``out`` be a folder of other files, and ``preview`` a file it did not write (both refused else)."""
    check_inference(sampler, readout)
    out = Path(out)
    outside_inputs(out, "--out", [Path(p) if Path(p).is_dir() else Path(p).parent for p in inputs])
    output_folder(out, "--out", is_extract_folder, f"an output folder of drc extract (no {MANIFEST})", force)
    if preview is not None:
        preview = Path(preview)
        outside_inputs(preview, "--preview", inputs)
        ours = previews_of(out)
        sheet = "a contact sheet drc extract wrote from this --out folder"
        output_file(preview, "--preview", lambda p: str(p.resolve()) in ours, sheet, force)
    jobs, unsupported = plan(inputs, exclude=[out, *([preview] if preview else [])])
    model, ckpt = load_model(checkpoint, resolve_device("auto"))
    train = train_config_of(ckpt)
    how = Readout.resolve(readout, sampler, train)
    settings = {"checkpoint_sha256": sha256_file(checkpoint), "sampler": to_dict(sampler), "readout": to_dict(readout)}
    manifest = Manifest(out, settings)
    report = Report(failed=[(p, unsupported_reason(p)) for p in unsupported])
    for path, reason in report.failed:
        print(f"skipped {path}: {reason}", flush=True)
    todo = [job for job in jobs if not manifest.up_to_date(job)]
    report.up_to_date = len(jobs) - len(todo)
    if report.up_to_date:
        print(f"{report.up_to_date} of {len(jobs)} image(s) already extracted with this model and settings", flush=True)
    bar = tqdm(total=len(todo), unit="img", desc="extract", disable=not progress, bar_format=BAR)
    size = batch_shape(len(jobs), sampler.batch_size)
    run = BatchWriter(model, train, how, dataclasses.replace(sampler, batch_size=size), out, manifest, report, bar)
    try:
        with bar:
            for batch in _batches(todo, size):
                run(batch)
    except KeyboardInterrupt:
        raise Interrupted(
            signal.SIGINT,
            f"stopped after {report.written} of {len(todo)} image(s), each recorded as written; "
            "the same command goes on with the rest",
        ) from None
    if preview is not None:
        write_png(preview, contact_sheet(list(_preview_items(jobs, out))), replace=True)
        manifest.record_preview(preview)
    return report


# Images done (inside a batch, fractions: the Langevin steps done, in images), of those to do, and the ETA.
BAR = "{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total_fmt} img [{elapsed}<{remaining}, {rate_fmt}]"


@dataclass
class BatchWriter:
    """Infers one batch of images at a time, then writes and records each image's outputs, warning
    about empty and near-full masks."""

    model: DRC
    train: TrainConfig
    how: Readout
    sampler: SamplerConfig
    out: Path
    manifest: Manifest
    report: Report
    bar: tqdm

    def __call__(self, batch: list[Job]) -> None:
        readable, small, keys = [], [], []
        for job in batch:
            try:
                image = read_image(job.source)
            except UNREADABLE as exc:
                reason = f"cannot be read as an image ({type(exc).__name__})"
                self.report.failed.append((job.source, reason))
                self.bar.write(f"skipped {job.source}: {reason}")
                self.bar.update(1)
                continue
            small.append(resize_rgb(image, self.model.config.resolution))
            keys.append(content_key(image))
            readable.append(job)
        if not readable:
            return
        done = self.bar.n + len(readable)  # where the bar stands once the batch is inferred
        padding = self.sampler.batch_size - len(readable)  # every batch at the run's one size
        small, keys = small + small[:1] * padding, keys + keys[:1] * padding
        share = len(readable) / self.sampler.batch_size  # of the batch's rows, those that are images

        def advance(rows: float) -> None:  # a Langevin step's worth of rows, in images (never past the batch)
            self.bar.update(min(rows * share, done - self.bar.n))

        result = extract(self.model, to_model_range(np.stack(small)), self.sampler, self.how, self.train.tv_norm,
                         keys=keys, progress=False, step_progress=advance)  # fmt: skip
        self.bar.update(done - self.bar.n)  # exactly the batch (sampler.steps may be 0)
        renderings = self.how.renderings(result.fg, result.bg)
        for i, (job, soft) in enumerate(zip(readable, result.soft_mask.numpy()[: len(readable)], strict=True)):
            covered = _write(job, self.out, soft, self.how, of_image(renderings, i))
            self.manifest.record_done(job)
            self.report.written += 1
            if not EMPTY <= covered <= NEAR_FULL:
                empty = covered < EMPTY
                (self.report.empty if empty else self.report.near_full).append(job.source)
                kind = "empty" if empty else "near-full"
                self.bar.write(f"warning: {job.source}: its mask covers {100 * covered:.1f} % of the image ({kind})")


def batch_shape(n_images: int, batch_size: int) -> int:
    """The one batch size of a run over ``n_images``: as many batches as ``batch_size`` needs, evenly
    filled (100 images at 64: two of 50), so padding the last costs at most one row per batch."""
    batches = -(-n_images // batch_size)
    return -(-n_images // batches)


def _batches(jobs: list[Job], size: int) -> Iterator[list[Job]]:
    for start in range(0, len(jobs), size):
        yield jobs[start : start + size]


def _write(job: Job, out: Path, soft: np.ndarray, how: Readout, renderings: Renderings | None) -> float:
    """The image's mask and cut-out at its own size (its original is read again: only one is held);
    returns the fraction of the image the mask covers."""
    image = read_image(job.source)
    mask, rgba = how.cutout(image, soft, renderings)
    mask_path, cutout_path = job.outputs(out)
    write_png(mask_path, (mask * 255).astype(np.uint8), replace=True)
    write_png(cutout_path, rgba, replace=True)
    return float(mask.mean())


def _signature(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _preview_items(jobs: list[Job], out: Path) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(the image's path as named in ``out``, image, mask) of the first ``PREVIEW_IMAGES`` images whose
    outputs exist, read back from disk."""
    shown = 0
    for job in jobs:
        mask_path, _ = job.outputs(out)
        if shown == PREVIEW_IMAGES or not mask_path.is_file():
            continue
        try:
            image, mask = read_image(job.source), read_mask(mask_path)
        except (UNREADABLE, DRCError):
            continue
        shown += 1
        yield (job.name.parent / job.source.name).as_posix(), image, mask
