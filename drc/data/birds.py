"""Birds (CUB-200-2011): images, boxes and the separate segmentations, ReDO's train/val/test split.

Archive layout: ``CUB_200_2011.tgz`` holds ``CUB_200_2011/images.txt`` (``<id> <class>/<file>.jpg``),
``CUB_200_2011/bounding_boxes.txt`` (``<id> <x> <y> <w> <h>``) and ``CUB_200_2011/images/...``;
``segmentations.tgz`` holds ``segmentations/<class>/<file>.png`` (soft masks, binarised at 0.5 after
the resize). ReDO's ``train_val_test_split.txt`` has one ``<id> <0|1|2>`` line per image in id order:
0 = train (10,000), 1 = val (788), 2 = test (1,000). Table 3's "train" is label 0 only, as in ReDO
and the official DRC loader; the 788 val images are in ``all`` and their own ``val`` split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drc.data.crop import CropJob, crop_archive
from drc.data.download import fetch_resources, iter_tar, read_tar_files
from drc.errors import DRCError

ROOT = "CUB_200_2011/"
SPLIT_NAMES = {0: "train", 1: "val", 2: "test"}


def build(cfg: dict[str, Any], download_dir: Path) -> dict[str, Any]:
    """Arrays, metadata and fetched files for ``drc.data.real.prepare_real``."""
    names = {"images": "CUB_200_2011.tgz", "segmentations": "segmentations.tgz", "split": "train_val_test_split.txt"}
    files = fetch_resources(cfg, dataset="birds", filenames=names, download_dir=download_dir)
    meta = read_tar_files(files["images"].path, [ROOT + "images.txt", ROOT + "bounding_boxes.txt"])
    relpaths = _read_table(meta[ROOT + "images.txt"], "images.txt")
    boxes = _read_table(meta[ROOT + "bounding_boxes.txt"], "bounding_boxes.txt")
    split_labels = read_split(files["split"].path)
    if list(split_labels) != list(relpaths) or list(boxes) != list(relpaths):
        raise DRCError(
            "CUB images.txt, bounding_boxes.txt and the split file list different image ids; "
            "check data.birds.split_url / split_file"
        )
    segmentations = dict(iter_tar(files["segmentations"].path, lambda name: name.endswith(".png")))
    jobs = {}
    for image_id, relpath in relpaths.items():
        seg_name = "segmentations/" + relpath[: -len(".jpg")] + ".png"
        if seg_name not in segmentations:
            raise DRCError(f"{files['segmentations'].path} lacks {seg_name}: it is not the expected archive")
        x, y, w, h = (float(v) for v in boxes[image_id].split())
        jobs[ROOT + "images/" + relpath] = CropJob(box=(x, y, x + w, y + h), mask=segmentations[seg_name])
    images, masks = crop_archive(
        files["images"].path, jobs, resolution=int(cfg["resolution"]), scale=float(cfg["crop_scale"])
    )
    labels = list(split_labels.values())
    splits = {name: [row for row, label in enumerate(labels) if label == code] for code, name in SPLIT_NAMES.items()}
    return {
        "images": images,
        "masks": masks,
        "ids": [relpath[: -len(".jpg")] for relpath in relpaths.values()],
        "splits": splits,
        "files": files,
        "stats": {
            "input": len(images),
            "kept": len(images),
            "dropped": {},
            "splits": {name: len(rows) for name, rows in splits.items()},
        },
    }


def read_split(path: Path) -> dict[str, int]:
    """ReDO's split file -> {image id: 0 (train) | 1 (val) | 2 (test)}, in file order."""
    table = _read_table(path.read_bytes(), path.name)
    try:
        labels = {image_id: int(value) for image_id, value in table.items()}
    except ValueError as exc:
        raise DRCError(f"{path} is not ReDO's train_val_test_split.txt ({exc})") from exc
    if not set(labels.values()) <= set(SPLIT_NAMES):
        raise DRCError(f"{path} has split labels other than 0, 1, 2: it is not ReDO's split file")
    return labels


def _read_table(data: bytes, name: str) -> dict[str, str]:
    """``<id> <rest>`` lines -> {id: rest}, in file order."""
    rows = {}
    for line in data.decode().splitlines():
        if line.strip():
            image_id, _, rest = line.strip().partition(" ")
            if not rest:
                raise DRCError(f"{name}: malformed line {line!r}")
            rows[image_id] = rest.strip()
    return rows
