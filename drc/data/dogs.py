"""Dogs (Stanford Dogs): box crops, Mask R-CNN masks, filtered (see ``drc.data.maskrcnn``).

Archive layout: ``lists.tar`` holds ``train_list.mat`` / ``test_list.mat`` (``file_list``: paths like
``n02085620-Chihuahua/n02085620_10074.jpg``); ``annotation.tar`` holds Pascal VOC XML files without
extension at ``Annotation/<class>/<name>``; ``images.tar`` holds ``Images/<class>/<name>.jpg``.
An image with several annotated dogs is cropped around the largest box (area).
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from drc.data.crop import Box, CropJob, crop_archive
from drc.data.download import fetch_resources, iter_tar, read_tar_files
from drc.data.maskrcnn import Detector, pseudo_label
from drc.errors import DRCError

SPLITS = ("train", "test")


def build(cfg: dict[str, Any], download_dir: Path, detector: Detector | None = None) -> dict[str, Any]:
    """Arrays, metadata and fetched files for ``drc.data.real.prepare_real``."""
    names = {key: f"{key}.tar" for key in ("images", "annotation", "lists")}
    files = fetch_resources(cfg, dataset="dogs", filenames=names, download_dir=download_dir)
    lists = read_tar_files(files["lists"].path, [f"{split}_list.mat" for split in SPLITS])
    relpaths = {split: read_file_list(lists[f"{split}_list.mat"], f"{split}_list.mat") for split in SPLITS}
    ordered = [(split, path) for split in SPLITS for path in relpaths[split]]
    wanted = {"Annotation/" + path[: -len(".jpg")]: path for _, path in ordered}
    boxes = {
        wanted[name]: largest_voc_box(data, name)
        for name, data in iter_tar(files["annotation"].path, wanted.__contains__)
    }
    missing = [path for _, path in ordered if path not in boxes]
    if missing:
        raise DRCError(f"{files['annotation'].path} lacks the annotation of {missing[0]}: replace the archive")
    jobs = {"Images/" + path: CropJob(box=boxes[path]) for _, path in ordered}
    images, _ = crop_archive(
        files["images"].path, jobs, resolution=int(cfg["resolution"]), scale=float(cfg["crop_scale"])
    )
    ids = [path[: -len(".jpg")] for _, path in ordered]
    built = pseudo_label(images, ids, [split for split, _ in ordered], cfg, dataset="dogs", detector=detector)
    return {**built, "files": files}


def read_file_list(data: bytes, name: str) -> list[str]:
    """The ``file_list`` entries of a Stanford Dogs list .mat file."""
    try:
        entries = scipy.io.loadmat(io.BytesIO(data), squeeze_me=True)["file_list"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DRCError(f"{name} is not a Stanford Dogs list file ({exc}); replace lists.tar") from exc
    return [str(entry) for entry in np.atleast_1d(entries)]


def largest_voc_box(data: bytes, name: str) -> Box:
    """The largest ``<object><bndbox>`` of a Pascal VOC XML annotation, as (x1, y1, x2, y2)."""
    try:
        root = ET.fromstring(data)
        boxes = [
            tuple(float(obj.findtext(f"bndbox/{tag}")) for tag in ("xmin", "ymin", "xmax", "ymax"))
            for obj in root.iter("object")
        ]
    except (ET.ParseError, TypeError, ValueError) as exc:
        raise DRCError(f"{name} is not a Pascal VOC annotation ({exc}); replace annotation.tar") from exc
    if not boxes:
        raise DRCError(f"{name} has no <object> box; replace annotation.tar")
    return max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
