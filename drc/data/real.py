"""Prepare any real dataset of the paper (birds, dogs, cars, clevr6) into the prepared format.

A DVC stage calls ``prepare_real(name, params["data"][name], out_dir, download_dir)``. Besides the
prepared directory it writes ``<out_dir>_filters.json`` (``filters_path``): how many images went in,
how many were kept, and how many were dropped for each reason (the same counts are in the prepared
``meta.json`` under ``stats``). ``DEFAULTS`` mirrors ``params.yaml``'s ``data.<name>`` sections, where every
param is explained (a test keeps the two identical).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from drc.atomic import write_json
from drc.data import birds, cars, clevr, dogs
from drc.data.maskrcnn import Detector
from drc.data.prepared import write_prepared
from drc.errors import DRCError

_MASKRCNN = {
    "maskrcnn_backend": "torchvision",
    "maskrcnn_weights": None,
    "maskrcnn_device": "auto",
    "maskrcnn_batch_size": 8,
    "mask_threshold": 0.5,
    "distractor_score": 0.5,
}

DEFAULTS: dict[str, dict[str, Any]] = {
    "birds": {
        "resolution": 128,
        "crop_scale": 0.75,
        "images_url": "https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz?download=1",
        "images_sha256": "0c685df5597a8b24909f6a7c9db6d11e008733779a671760afef78feb49bf081",
        "images_file": None,
        "segmentations_url": "https://data.caltech.edu/records/w9d68-gec53/files/segmentations.tgz?download=1",
        "segmentations_sha256": "dc77f6cffea0cbe2e41d4201115c8f29a6320ecb04fffd2444f51b8066e4b84f",
        "segmentations_file": None,
        "split_url": (
            "https://raw.githubusercontent.com/mickaelChen/ReDO/master/datasplits/cub/train_val_test_split.txt"
        ),
        "split_sha256": "7620961c0d472a9721d9f2e5541a6dba2a6009e21caadb3861c5c7b64270764c",
        "split_file": None,
    },
    "dogs": {
        "resolution": 128,
        "crop_scale": 0.75,
        "images_url": "http://vision.stanford.edu/aditya86/ImageNetDogs/images.tar",
        "images_sha256": "a443fc2f9a851aa1a7b8e4fa4af94b8459fce2c9f5a2f4dd4669cf9673a4ec58",
        "images_file": None,
        "annotation_url": "http://vision.stanford.edu/aditya86/ImageNetDogs/annotation.tar",
        "annotation_sha256": "662ed36f707be6b195c2fda392d8e153e83af28cedc8e2134a649f198def30fd",
        "annotation_file": None,
        "lists_url": "http://vision.stanford.edu/aditya86/ImageNetDogs/lists.tar",
        "lists_sha256": "34b47cacd9a98b5d150e084f24d29391c084c55272295ec65c85651bc35f4d6c",
        "lists_file": None,
        **_MASKRCNN,
        "target_labels": [18],
        "score_threshold": 0.5,
        "min_top_score": 0.9,
        "max_fg_fraction": 0.9,
        "min_largest_component": 0.9,
        "distractor_labels": [1],
        "max_distractor_fraction": 0.1,
    },
    "cars": {
        "resolution": 128,
        "crop_scale": 0.75,
        "train_images_url": "https://huggingface.co/datasets/tanganke/stanford_cars/resolve/main/cars_train.tgz",
        "train_images_sha256": "512b227b30e2f0a8aab9e09485786ab4479582073a144998da74d64b801fd288",
        "train_images_file": None,
        "test_images_url": "https://huggingface.co/datasets/tanganke/stanford_cars/resolve/main/cars_test.tgz",
        "test_images_sha256": "bffea656d6f425cba3c91c6d83336e4c5f86c6cffd8975b0f375d3a10da8e243",
        "test_images_file": None,
        "devkit_url": "https://huggingface.co/datasets/tanganke/stanford_cars/resolve/main/car_devkit.tgz",
        "devkit_sha256": "b97deb463af7d58b6bfaa18b2a4de9829f0f79e8ce663dfa9261bf7810e9accd",
        "devkit_file": None,
        **_MASKRCNN,
        "target_labels": [3],
        "score_threshold": 0.5,
        "min_top_score": 0.0,
        "max_fg_fraction": 1.0,
        "min_largest_component": 0.0,
        "distractor_labels": [],
        "max_distractor_fraction": 1.0,
    },
    "clevr6": {
        "resolution": 128,
        "tfrecords_url": (
            "https://storage.googleapis.com/multi-object-datasets/clevr_with_masks/clevr_with_masks_train.tfrecords"
        ),
        "tfrecords_sha256": None,
        "tfrecords_file": None,
        "max_scenes": 70000,
        "min_objects": 3,
        "max_objects": 6,
        "crop_box": [64, 29, 256, 221],
        "eval_size": 1000,
    },
}

_BUILDERS: dict[str, Callable[[dict[str, Any], Path, Detector | None], dict[str, Any]]] = {
    "birds": lambda params, download_dir, _: birds.build(params, download_dir),
    "dogs": dogs.build,
    "cars": cars.build,
    "clevr6": lambda params, download_dir, _: clevr.build(params, download_dir),
}


def prepare_real(
    name: str,
    cfg: Mapping[str, Any],
    out_dir: Path,
    download_dir: Path,
    *,
    detector: Detector | None = None,
) -> Path:
    """Download (or take the local archives), crop, mask, filter and write dataset ``name``.

    Downloads go to ``download_dir/<name>/`` (kept: later runs reuse them after verifying them).
    ``cfg`` is the dataset's params section; missing keys take ``DEFAULTS``, unknown keys are an
    error. ``detector`` replaces the configured Mask R-CNN (dogs and cars only; used by tests).
    Returns ``out_dir``.
    """
    if name not in DEFAULTS:
        raise DRCError(f"unknown real dataset {name!r}; choose one of {', '.join(DEFAULTS)}")
    unknown = sorted(set(cfg) - set(DEFAULTS[name]))
    if unknown:
        raise DRCError(f"unknown params data.{name}.{unknown[0]}; known: {', '.join(DEFAULTS[name])}")
    if detector is not None and name not in ("dogs", "cars"):
        raise ValueError(f"a detector only applies to dogs and cars, not {name}")
    params = {**DEFAULTS[name], **cfg}
    built = _BUILDERS[name](params, Path(download_dir) / name, detector)
    files = built.pop("files")
    source = {
        "files": {key: {"url": f.url, "sha256": f.sha256} for key, f in files.items()},
        "params": params,
    }
    write_prepared(out_dir, name=name, source=source, **built)
    write_json(filters_path(out_dir), {"dataset": name, **built["stats"]}, replace=True)
    return Path(out_dir)


def filters_path(out_dir: Path) -> Path:
    """Where ``prepare_real`` writes the kept/dropped counts: ``<out_dir>_filters.json``."""
    out_dir = Path(out_dir)
    return out_dir.with_name(out_dir.name + "_filters.json")
