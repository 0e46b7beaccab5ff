"""The prepared-dataset format shared by every dataset, and some of its rows loaded at a model's resolution.

A prepared dataset is a folder written atomically (it appears complete or not at all)::

    images.npy        uint8  N x H x W x 3   (np.load(..., mmap_mode="r") maps it without reading it)
    masks.npy         bool   N x H x W       ground-truth foreground (absent for unlabelled images)
    <extra>.npy       optional arrays with N rows (e.g. TM-dSprites' clean backgrounds)
    meta.json         {"format": "drc-prepared-v1", "name", "ids", "splits": {split: [row indices]},
                       "source": {...}, "checksums": {file: sha256}, "stats": {...}}

Written again into the same folder, its files are replaced and the arrays the old ``meta.json`` names but
the new one does not are removed; any other file there is left alone (drc/outputs.py).

``splits`` always holds ``"all"``; datasets with official splits add ``"train"``/``"test"``, and
datasets with an evaluation subset add ``"eval"``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from drc.atomic import atomic_files
from drc.errors import DRCError
from drc.outputs import output_folder

META = "meta.json"
FORMAT = "drc-prepared-v1"


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_prepared(
    out_dir: str | Path,
    *,
    name: str,
    images: np.ndarray,
    masks: np.ndarray | None,
    ids: Sequence[str],
    splits: Mapping[str, Sequence[int]],
    source: Mapping[str, Any],
    extra_arrays: Mapping[str, np.ndarray] | None = None,
    stats: Mapping[str, Any] | None = None,
    force: bool = False,
) -> Path:
    """Validate and write a prepared dataset atomically; returns ``out_dir``, which must be new, empty,
    an earlier prepared dataset or (``force``) any folder (``claim_prepared``)."""
    n = len(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 N x H x W x 3, got {images.dtype} {images.shape}")
    if masks is not None and masks.shape != images.shape[:3]:
        raise ValueError(f"masks must be N x H x W = {images.shape[:3]}, got {masks.shape}")
    if len(ids) != n:
        raise ValueError(f"{len(ids)} ids for {n} images")
    extra_arrays = dict(extra_arrays or {})
    for key, arr in extra_arrays.items():
        if len(arr) != n:
            raise ValueError(f"extra array {key!r} has {len(arr)} rows for {n} images")
    all_splits = {"all": list(range(n))}
    for split, rows in splits.items():
        rows = [int(r) for r in rows]
        if rows and (min(rows) < 0 or max(rows) >= n):
            raise ValueError(f"split {split!r} indexes outside 0..{n - 1}")
        all_splits[split] = rows
    out_dir = Path(out_dir)
    claim_prepared(out_dir, force)
    earlier = own_arrays(out_dir)
    with atomic_files(out_dir, last=META) as tmp:
        arrays = {"images": images, **({} if masks is None else {"masks": masks.astype(bool)}), **extra_arrays}
        checksums = {}
        for key, arr in arrays.items():
            np.save(tmp / f"{key}.npy", np.ascontiguousarray(arr))
            checksums[f"{key}.npy"] = sha256_file(tmp / f"{key}.npy")
        meta = {
            "format": FORMAT,
            "name": name,
            "n_images": n,
            "resolution": list(images.shape[1:3]),
            "ids": [str(i) for i in ids],
            "splits": all_splits,
            "source": dict(source),
            "checksums": checksums,
            "stats": dict(stats or {}),
        }
        (tmp / META).write_text(json.dumps(meta, indent=1) + "\n")
    for stale in earlier - set(checksums):
        (out_dir / stale).unlink(missing_ok=True)
    return out_dir


def is_prepared(folder: Path) -> bool:
    """Whether ``folder`` holds a prepared dataset that write_prepared wrote: its meta.json's format (or,
    written before the format was recorded, its name, ids, splits and checksums)."""
    meta = _meta(folder)
    return meta.get("format") == FORMAT or (
        "format" not in meta and {"name", "ids", "splits", "checksums"} <= set(meta)
    )


def own_arrays(folder: Path) -> set[str]:
    """The array files of an earlier prepared dataset in ``folder`` (none if there is none)."""
    names = _meta(folder).get("checksums", {}) if is_prepared(folder) else {}
    return {name for name in names if name.endswith(".npy") and Path(name).name == name}


def _meta(folder: Path) -> dict[str, Any]:
    try:
        meta = json.loads((folder / META).read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def claim_prepared(out_dir: Path, force: bool, option: str = "--out") -> None:
    """Refuse to write a prepared dataset into a folder that holds anything but an earlier one (unless ``force``)."""
    output_folder(out_dir, option, is_prepared, "a prepared dataset", force)


@dataclass
class Prepared:
    """A prepared dataset opened with memory-mapped arrays."""

    root: Path
    meta: dict[str, Any]
    images: np.ndarray
    masks: np.ndarray | None  # None: unlabelled images (training works, scoring needs masks)

    @classmethod
    def open(cls, root: str | Path) -> Prepared:
        root = Path(root)
        meta_path = root / META
        if not root.exists():
            raise DRCError(f"{root} does not exist; pass a prepared dataset (drc prepare writes one)")
        if not meta_path.is_file():
            raise DRCError(
                f"{root} is not a prepared dataset (no {META}); for a folder of images run "
                f"`drc prepare {root} --out NEW_FOLDER` and pass NEW_FOLDER (paper datasets: dvc repro)"
            )
        try:
            meta = json.loads(meta_path.read_text())
            images = np.load(root / "images.npy", mmap_mode="r")
            labelled = "masks.npy" in meta.get("checksums", {})
            masks = np.load(root / "masks.npy", mmap_mode="r") if labelled else None
        except (OSError, ValueError) as exc:
            raise DRCError(
                f"{root} is corrupt ({exc}); prepare it again (drc prepare FOLDER --out {root}, or dvc repro)"
            ) from exc
        return cls(root=root, meta=meta, images=images, masks=masks)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def name(self) -> str:
        return str(self.meta["name"])

    def split(self, name: str) -> np.ndarray:
        """Row indices of a split (``all``, ``train``, ``test``, ``eval``, ...)."""
        splits = self.meta["splits"]
        if name not in splits:
            raise DRCError(f"dataset {self.name!r} has no split {name!r}; it has {sorted(splits)}")
        return np.asarray(splits[name], dtype=np.int64)

    def labelled_masks(self) -> np.ndarray:
        """The ground-truth masks, or one clear error for a dataset of unlabelled images."""
        if self.masks is None:
            raise DRCError(f"dataset {self.name!r} ({self.root}) has no masks to score against; prepare it with masks")
        return self.masks

    def extra(self, key: str) -> np.ndarray:
        return np.load(self.root / f"{key}.npy", mmap_mode="r")

    def verify(self) -> None:
        """Recompute the recorded checksums; raise on a mismatch."""
        for fname, expected in self.meta["checksums"].items():
            if sha256_file(self.root / fname) != expected:
                raise DRCError(f"{self.root / fname} fails its checksum; prepare the dataset again")


RESIZE_CHUNK = 256  # images resized per torch call (bounds the float32 copy)


def resize_images(images: np.ndarray, resolution: int) -> np.ndarray:
    """N x H x W x C or N x H x W (uint8 or float) -> N x r x r [x C], same dtype (aspect not kept).

    Shrinking filters with an antialiased bilinear (triangle) kernel as wide as the shrink factor (PIL's
    and torchvision's antialias): OpenCV's area average is a box filter that lets fine gratings through
    as moire patterns, which no region model can explain (docs/cpu-profile.md, images shrunk to 32 px).
    Enlarging is plain bilinear.
    """
    images = np.asarray(images)
    if images.shape[1] == resolution and images.shape[2] == resolution:
        return images
    if max(images.shape[1:3]) <= resolution:
        return np.stack([cv2.resize(im, (resolution, resolution), interpolation=cv2.INTER_LINEAR) for im in images])
    out = []
    for start in range(0, len(images), RESIZE_CHUNK):
        chunk = torch.from_numpy(images[start : start + RESIZE_CHUNK].astype(np.float32))
        chunk = chunk[:, None] if chunk.ndim == 3 else chunk.permute(0, 3, 1, 2)
        small = F.interpolate(chunk, size=(resolution, resolution), mode="bilinear", antialias=True)
        out.append(small[:, 0] if images.ndim == 3 else small.permute(0, 2, 3, 1))
    result = torch.cat(out).numpy()
    if images.dtype == np.uint8:
        return result.round().clip(0, 255).astype(np.uint8)
    return result.astype(images.dtype)


def resize_masks(masks: np.ndarray, resolution: int) -> np.ndarray:
    """bool N x H x W -> N x r x r: resized like the images (``resize_images``), binarised at 0.5.

    Nearest-neighbour sampling would keep one pixel of each block (the top-left one in OpenCV), shifting
    the mask by a fraction of a pixel against the filtered image.
    """
    if masks.shape[1] == resolution and masks.shape[2] == resolution:
        return np.asarray(masks, dtype=bool)
    return resize_images(np.asarray(masks, dtype=np.float32), resolution) > 0.5


def to_model_range(images_uint8: np.ndarray) -> torch.Tensor:
    """uint8 N x H x W x 3 -> float32 N x 3 x H x W in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images_uint8)).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


class PreparedDataset:
    """Some rows of a prepared dataset in memory at a model's resolution: ``images`` N x 3 x r x r in
    [-1, 1] and ``masks`` N x r x r (bool; None without masks). Position i in ``rows`` keys image i's
    persistent chains.
    The rows are resized once (TM-dSprites at 32 px: 12 KB per image).
    """

    def __init__(
        self,
        prepared: Prepared | str | Path,
        rows: Sequence[int] | np.ndarray | None = None,
        resolution: int | None = None,
    ) -> None:
        self.prepared = prepared if isinstance(prepared, Prepared) else Prepared.open(prepared)
        self.rows = np.arange(len(self.prepared)) if rows is None else np.asarray(rows, dtype=np.int64)
        if len(self.rows) == 0:
            raise DRCError(f"no images selected from dataset {self.prepared.name!r}")
        res = resolution or self.prepared.images.shape[1]
        self.images = to_model_range(resize_images(self.prepared.images[self.rows], res))
        masks = self.prepared.masks
        self.masks = None if masks is None else torch.from_numpy(resize_masks(masks[self.rows], res))

    def __len__(self) -> int:
        return len(self.rows)
