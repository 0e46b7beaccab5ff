"""CLEVR6 from DeepMind's ``clevr_with_masks_train.tfrecords``, streamed without TensorFlow.

The file is gzip-compressed TFRecord (per record: u64 length, u32 masked CRC32C of the length, the
serialized ``tf.Example``, u32 masked CRC32C of the data). DeepMind's reader
(``multi_object_datasets/clevr_with_masks.py``) declares ``image`` as FixedLenFeature([240, 320, 3],
tf.string) and ``mask`` as FixedLenFeature([11, 240, 320, 1], tf.string), each element a one-byte
string decoded to uint8, and ``visibility`` as 11 floats; entity 0 is the background. The
``tfrecord`` package's reader is not used: it decompresses the whole file to find its end before
yielding a record, and turns those 1M-element byte lists into numpy object arrays.

Object count = visible entities 1..10. The official DRC loader counted ``visibility.sum()``, which
includes entity 0; its 3..6 window is therefore 2..5 objects (set min_objects 2, max_objects 5 to
reproduce it). The default follows the paper: 3..6 objects.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError
from tfrecord import example_pb2
from tfrecord.writer import TFRecordWriter
from tqdm import tqdm

from drc.atomic import atomic_path
from drc.data.crop import crop_resize_image, crop_resize_mask
from drc.data.download import fetch_resource
from drc.errors import DRCError

IMAGE_SHAPE = (240, 320, 3)
MASK_SHAPE = (11, 240, 320)
FILENAME = "clevr_with_masks_train.tfrecords"


@dataclass(frozen=True)
class Scene:
    image: np.ndarray  # 240 x 320 x 3 uint8
    masks: np.ndarray  # 11 x 240 x 320 uint8, 255 where the entity is; entity 0 = background
    visibility: np.ndarray  # 11 float

    @property
    def n_objects(self) -> int:
        """Visible entities other than the background."""
        return int((self.visibility[1:] > 0.5).sum())


def crop_scene(scene: Scene, crop: tuple[int, int, int, int], resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """The CLEVR6 protocol for one scene: the crop of the frame resized to ``resolution``, and its foreground
    (everything but entity 0, the background) cropped and resized the same way."""
    image = crop_resize_image(scene.image, crop, resolution)
    return image, crop_resize_mask(1.0 - scene.masks[0] / 255.0, crop, resolution)


def build(cfg: dict[str, Any], download_dir: Path) -> dict[str, Any]:
    """Arrays, metadata and fetched files for ``drc.data.real.prepare_real``."""
    fetched = fetch_resource(cfg, dataset="clevr6", key="tfrecords", filename=FILENAME, download_dir=download_dir)
    crop = tuple(int(v) for v in cfg["crop_box"])
    resolution, max_scenes = int(cfg["resolution"]), int(cfg["max_scenes"])
    low, high = int(cfg["min_objects"]), int(cfg["max_objects"])
    images, masks, ids = [], [], []
    objects_per_scene: Counter[int] = Counter()
    records = islice(iter_records(fetched.path), max_scenes)
    for index, record in enumerate(tqdm(records, total=max_scenes, desc="CLEVR scenes", unit="scene")):
        scene = parse_scene(record, f"{fetched.path} record {index}")
        n_objects = scene.n_objects
        objects_per_scene[n_objects] += 1
        if low <= n_objects <= high:
            image, mask = crop_scene(scene, crop, resolution)
            images.append(image)
            masks.append(mask)
            ids.append(f"{index:06d}")
    eval_size, n_read = int(cfg["eval_size"]), sum(objects_per_scene.values())
    if len(ids) < eval_size:
        raise DRCError(
            f"only {len(ids)} of {n_read} CLEVR scenes have {low}-{high} objects, fewer than "
            f"data.clevr6.eval_size = {eval_size}; raise max_scenes or lower eval_size"
        )
    return {
        "images": np.stack(images),
        "masks": np.stack(masks),
        "ids": ids,
        "splits": {"eval": list(range(eval_size))},
        "files": {"tfrecords": fetched},
        "stats": {
            "input": n_read,
            "kept": len(ids),
            "dropped": {
                "too_few_objects": sum(n for k, n in objects_per_scene.items() if k < low),
                "too_many_objects": sum(n for k, n in objects_per_scene.items() if k > high),
            },
            "objects_per_scene": {str(k): objects_per_scene[k] for k in sorted(objects_per_scene)},
            "splits": {"eval": eval_size},
        },
    }


def iter_records(path: Path) -> Iterator[bytes]:
    """The CRC-checked records of a gzip TFRecord file, streamed."""

    def corrupt(what: str) -> DRCError:
        return DRCError(f"{path} is corrupt or truncated ({what}); delete it and download it again")

    try:
        with gzip.open(path, "rb") as fh:
            while header := fh.read(12):
                if len(header) < 12:
                    raise corrupt("cut inside a record header")
                length_bytes, length_crc = header[:8], header[8:]
                if TFRecordWriter.masked_crc(length_bytes) != length_crc:
                    raise corrupt("bad length checksum")
                (length,) = struct.unpack("<Q", length_bytes)
                data, data_crc = fh.read(length), fh.read(4)
                if len(data) < length or len(data_crc) < 4:
                    raise corrupt("cut inside a record")
                if TFRecordWriter.masked_crc(data) != data_crc:
                    raise corrupt("bad record checksum")
                yield data
    except (OSError, EOFError, zlib.error) as exc:
        raise corrupt(str(exc)) from exc


def parse_scene(record: bytes, name: str) -> Scene:
    """One serialized ``tf.Example`` of clevr_with_masks -> its image, entity masks and visibility."""
    try:
        features = example_pb2.Example.FromString(record).features.feature
        visibility = np.asarray(features["visibility"].float_list.value, dtype=np.float32)
        image = _uint8_feature(features["image"], IMAGE_SHAPE)
        masks = _uint8_feature(features["mask"], MASK_SHAPE)
    except (DecodeError, ValueError) as exc:
        raise DRCError(f"{name} is not a clevr_with_masks example ({exc}); is it the right file?") from exc
    if visibility.shape != (MASK_SHAPE[0],):
        raise DRCError(f"{name}: visibility has {visibility.size} entries, expected {MASK_SHAPE[0]}")
    return Scene(image=image, masks=masks, visibility=visibility)


def _uint8_feature(feature: example_pb2.Feature, shape: tuple[int, ...]) -> np.ndarray:
    """A bytes feature holding ``prod(shape)`` bytes, as DeepMind stores them (one byte per element)
    or as one blob. One-byte elements re-serialise to ``0x0A 0x01 <byte>`` triples, which numpy
    strides through far faster than joining a million Python bytes objects."""
    values = feature.bytes_list
    size = int(np.prod(shape))
    wire = np.frombuffer(values.SerializeToString(), dtype=np.uint8)
    if wire.size == 3 * size and (wire[0::3] == 0x0A).all() and (wire[1::3] == 1).all():
        flat = wire[2::3]
    else:
        flat = np.frombuffer(b"".join(values.value), dtype=np.uint8)
    if flat.size != size:
        raise ValueError(f"a bytes feature has {flat.size} bytes, expected {size} for shape {shape}")
    return flat.reshape(shape)


def scene_example(
    scene: Scene, *, floats: Mapping[str, np.ndarray] | None = None, codes: Mapping[str, np.ndarray] | None = None
) -> bytes:
    """One serialized clevr_with_masks ``tf.Example`` laid out as DeepMind's file: ``image`` and ``mask`` one
    one-byte string per element, ``visibility`` and ``floats`` (x, y, z, rotation, pixel_coords) as float lists,
    ``codes`` (size, material, shape, color) one one-byte string per entity."""
    example = example_pb2.Example()
    feature = example.features.feature
    feature["image"].bytes_list.CopyFrom(_byte_elements(scene.image))
    feature["mask"].bytes_list.CopyFrom(_byte_elements(scene.masks[..., None]))
    feature["visibility"].float_list.value.extend(np.asarray(scene.visibility, np.float32).tolist())
    for key, values in (floats or {}).items():
        feature[key].float_list.value.extend(np.asarray(values, np.float32).ravel().tolist())
    for key, values in (codes or {}).items():
        feature[key].bytes_list.CopyFrom(_byte_elements(np.asarray(values, np.uint8)))
    return example.SerializeToString()


def _byte_elements(array: np.ndarray) -> example_pb2.BytesList:
    """A BytesList of one one-byte string per element, parsed from its wire form (``0x0A 0x01 <byte>`` each):
    far faster than appending a million Python bytes objects."""
    flat = np.ascontiguousarray(array, dtype=np.uint8).ravel()
    wire = np.empty((flat.size, 3), np.uint8)
    wire[:, 0], wire[:, 1], wire[:, 2] = 0x0A, 1, flat
    return example_pb2.BytesList.FromString(wire.tobytes())


def write_records(path: Path, records: Iterable[bytes], replace: bool = False) -> int:
    """Write serialized records as a gzip TFRecord file (the framing ``iter_records`` checks), atomically;
    returns how many were written. ``replace``: a file at ``path`` is the caller's own output (drc/atomic.py)."""
    count = 0
    with atomic_path(path, replace=replace) as tmp, gzip.open(tmp, "wb") as fh:
        for data in records:
            length = struct.pack("<Q", len(data))
            fh.write(length + TFRecordWriter.masked_crc(length) + data + TFRecordWriter.masked_crc(data))
            count += 1
    return count
