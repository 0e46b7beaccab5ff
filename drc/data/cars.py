"""Cars (Stanford Cars): box crops, Mask R-CNN masks, undetected cars dropped.

Archive layout (the original files, mirrored since the Stanford page went offline):
``cars_train.tgz`` -> ``cars_train/00001.jpg``..., ``cars_test.tgz`` -> ``cars_test/00001.jpg``...,
``car_devkit.tgz`` -> ``devkit/cars_train_annos.mat`` and ``devkit/cars_test_annos.mat``, each a
struct array ``annotations`` with fields ``bbox_x1, bbox_y1, bbox_x2, bbox_y2, [class,] fname``.
Class labels are not needed, so ``cars_test_annos_withlabels.mat`` is not fetched.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from drc.data.crop import Box, CropJob, crop_archive
from drc.data.download import fetch_resources, read_tar_files
from drc.data.maskrcnn import Detector, pseudo_label
from drc.errors import DRCError

SPLITS = ("train", "test")


def build(cfg: dict[str, Any], download_dir: Path, detector: Detector | None = None) -> dict[str, Any]:
    """Arrays, metadata and fetched files for ``drc.data.real.prepare_real``."""
    names = {"train_images": "cars_train.tgz", "test_images": "cars_test.tgz", "devkit": "car_devkit.tgz"}
    files = fetch_resources(cfg, dataset="cars", filenames=names, download_dir=download_dir)
    devkit = read_tar_files(files["devkit"].path, [f"devkit/cars_{split}_annos.mat" for split in SPLITS])
    resolution, scale = int(cfg["resolution"]), float(cfg["crop_scale"])
    images, ids, split_of = [], [], []
    for split in SPLITS:
        boxes = read_annotations(devkit[f"devkit/cars_{split}_annos.mat"], f"cars_{split}_annos.mat")
        jobs = {f"cars_{split}/{fname}": CropJob(box=box) for fname, box in boxes.items()}
        cropped, _ = crop_archive(files[f"{split}_images"].path, jobs, resolution=resolution, scale=scale)
        images.append(cropped)
        ids += [f"{split}/{Path(fname).stem}" for fname in boxes]
        split_of += [split] * len(boxes)
    built = pseudo_label(np.concatenate(images), ids, split_of, cfg, dataset="cars", detector=detector)
    return {**built, "files": files}


def read_annotations(data: bytes, name: str) -> dict[str, Box]:
    """{fname: (x1, y1, x2, y2)} from a devkit ``cars_*_annos.mat``, in file order."""
    try:
        annotations = np.atleast_1d(scipy.io.loadmat(io.BytesIO(data), squeeze_me=True)["annotations"])
        return {
            str(a["fname"]): (
                float(a["bbox_x1"]),
                float(a["bbox_y1"]),
                float(a["bbox_x2"]),
                float(a["bbox_y2"]),
            )
            for a in annotations
        }
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise DRCError(f"{name} is not a Stanford Cars devkit annotation file ({exc}); replace car_devkit.tgz") from exc
