"""Every real dataset end to end on tiny archives in the real layouts, served over local HTTP."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from tfrecord import example_pb2

from drc.data.clevr import Scene, iter_records, parse_scene, scene_example, write_records
from drc.data.download import iter_tar
from drc.data.prepared import Prepared, resize_images
from drc.data.real import DEFAULTS, filters_path, prepare_real
from drc.errors import DRCError
from tests.fixtures_real import (  # noqa: F401 (http_server_fixture provides the http_server fixture)
    BIRD_CASES,
    CAR_CASES,
    DOG_CASES,
    bird_mask,
    build_birds,
    build_cars,
    build_dogs,
    clevr_scene,
    clevr_tfrecords,
    decode,
    fake_detector,
    http_server_fixture,
    serve,
)

ROOT = Path(__file__).resolve().parents[1]


def expected_crop(image: np.ndarray, crop, resolution: int) -> np.ndarray:
    x1, y1, x2, y2 = crop
    return resize_images(image[None, y1:y2, x1:x2], resolution)[0]


def _tar_members(path: Path):
    return iter_tar(path, lambda name: True)


def read_filters(out: Path) -> dict:
    return json.loads(filters_path(out).read_text())


def test_birds_end_to_end_with_a_resumed_download(http_server, tmp_path):
    archives = build_birds()
    params = serve(http_server, archives)
    http_server.truncate_next["images"] = len(archives["images"]) // 2
    out = prepare_real("birds", {**params, "resolution": 32}, tmp_path / "birds", tmp_path / "raw")

    assert ("images", f"bytes={len(archives['images']) // 2}-") in http_server.requests
    data = Prepared.open(out)
    data.verify()
    assert data.images.shape == (4, 32, 32, 3) and data.masks.shape == (4, 32, 32)
    assert data.meta["ids"] == [case.relpath[:-4] for case in BIRD_CASES]
    assert {k: list(v) for k, v in data.meta["splits"].items()} == {
        "all": [0, 1, 2, 3],
        "train": [0, 1],
        "val": [2],
        "test": [3],
    }
    members = dict(_tar_members(tmp_path / "raw" / "birds" / "CUB_200_2011.tgz"))
    for row, case in enumerate(BIRD_CASES):
        original = decode(members[f"CUB_200_2011/images/{case.relpath}"])
        assert np.abs(data.images[row].astype(int) - expected_crop(original, case.crop, 32)).max() <= 1
        soft = bird_mask(case).astype(np.float32) / 255.0
        assert (data.masks[row] == (expected_crop(soft, case.crop, 32) > 0.5)).all()
        assert 0 < data.masks[row].mean() < 1  # the value-100 ring is background, the core is foreground
    assert data.images[1].std(axis=-1).max() == 0  # the greyscale JPEG became grey RGB
    assert read_filters(out)["kept"] == 4 and data.meta["stats"]["splits"] == {"train": 2, "val": 1, "test": 1}
    assert data.meta["source"]["files"]["split"]["sha256"] == params["split_sha256"]


def test_birds_rejects_a_split_file_of_another_dataset(http_server, tmp_path):
    archives = build_birds()
    archives["split"] = b"1 0\n2 0\n"
    params = serve(http_server, archives)
    with pytest.raises(DRCError, match="list different image ids"):
        prepare_real("birds", {**params, "resolution": 32}, tmp_path / "birds", tmp_path / "raw")
    assert not (tmp_path / "birds").exists()


def test_dogs_end_to_end_with_filters(http_server, tmp_path):
    params = serve(http_server, build_dogs())
    out = prepare_real(
        "dogs", {**params, "resolution": 32}, tmp_path / "dogs", tmp_path / "raw", detector=fake_detector
    )
    data = Prepared.open(out)
    kept = [c for c in DOG_CASES if c.expected is None]
    assert data.meta["ids"] == [c.relpath[:-4] for c in kept]
    assert data.meta["splits"]["train"] == [0] and data.meta["splits"]["test"] == [1]
    # the two-dog image is cropped around the larger box: (60, 20, 110, 80) -> r 45, centre (85, 50)
    images = dict(_tar_members(tmp_path / "raw" / "dogs" / "images.tar"))
    two_dogs = decode(images[f"Images/{kept[1].relpath}"])
    assert np.abs(data.images[1].astype(int) - expected_crop(two_dogs, (40, 5, 120, 95), 32)).max() <= 1
    # masks come from the detector on the cropped image: the painted dog, in crop coordinates
    dog = np.zeros((100, 120), np.float32)
    dog[25:75, 65:105] = 1
    assert (data.masks[1] == (expected_crop(dog, (40, 5, 120, 95), 32) > 0.5)).sum() >= 32 * 32 - 40

    filters = read_filters(out)
    assert filters == data.meta["stats"] | {"dataset": "dogs"}
    assert (filters["input"], filters["kept"]) == (7, 2)
    expected = {r: sum(c.expected == r for c in DOG_CASES) for r in filters["dropped"]}
    assert filters["dropped"] == expected and sum(expected.values()) == 5
    assert filters["splits"]["train"]["dropped"]["too_large"] == 1
    assert filters["splits"]["test"]["dropped"]["distractor"] == 1


def test_cars_end_to_end(http_server, tmp_path):
    params = serve(http_server, build_cars())
    out = prepare_real(
        "cars", {**params, "resolution": 32}, tmp_path / "cars", tmp_path / "raw", detector=fake_detector
    )
    data = Prepared.open(out)
    assert data.meta["ids"] == ["train/00001", "test/00001"]
    assert data.meta["splits"]["train"] == [0] and data.meta["splits"]["test"] == [1]
    assert data.masks[0].any() and data.masks[1].any()
    filters = read_filters(out)
    assert filters["dropped"]["no_detection"] == 1 and filters["splits"]["train"]["input"] == 2
    assert [c.expected for c in CAR_CASES] == [None, "no_detection", None]
    # the test box spans the full width: crop (0, 0, 100, 80) is clipped on both sides
    members = dict(_tar_members(tmp_path / "raw" / "cars" / "cars_test.tgz"))
    original = decode(members["cars_test/00001.jpg"])
    assert np.abs(data.images[1].astype(int) - expected_crop(original, (0, 0, 100, 80), 32)).max() <= 1


def test_corrupt_archive_is_rejected_and_nothing_is_left(http_server, tmp_path):
    archives = build_dogs()
    params = serve(http_server, archives)
    http_server.files["annotation"] = archives["annotation"][:-10] + b"corruption"
    with pytest.raises(DRCError, match=r"annotation_sha256"):
        prepare_real("dogs", params, tmp_path / "dogs", tmp_path / "raw", detector=fake_detector)
    assert not (tmp_path / "dogs").exists() and not filters_path(tmp_path / "dogs").exists()
    assert sorted(p.name for p in (tmp_path / "raw" / "dogs").iterdir()) == ["images.tar"]


N_OBJECTS = (2, 3, 6, 7, 4, 5)  # the 6th scene lies beyond max_scenes


def test_clevr6_end_to_end(http_server, tmp_path):
    scenes = [clevr_scene(n, seed) for seed, n in enumerate(N_OBJECTS)]
    data_bytes = clevr_tfrecords(scenes, tmp_path / "src.tfrecords", blob_scenes=frozenset({2}))
    cfg = {
        "tfrecords_url": http_server.add("clevr.tfrecords", data_bytes),
        "resolution": 64,
        "max_scenes": 5,
        "eval_size": 2,
    }
    with pytest.warns(UserWarning, match="no sha256 is pinned"):
        out = prepare_real("clevr6", cfg, tmp_path / "clevr", tmp_path / "raw")
    data = Prepared.open(out)
    kept = [1, 2, 4]  # 3, 6 and 4 objects
    assert data.meta["ids"] == [f"{i:06d}" for i in kept]
    assert data.meta["splits"]["eval"] == [0, 1]
    for row, index in enumerate(kept):
        scene = scenes[index]
        assert np.abs(data.images[row].astype(int) - expected_crop(scene["image"], (64, 29, 256, 221), 64)).max() <= 1
        foreground = (scene["masks"][0] == 0).astype(np.float32)
        assert (data.masks[row] == (expected_crop(foreground, (64, 29, 256, 221), 64) > 0.5)).all()
    filters = read_filters(out)
    assert (filters["input"], filters["kept"]) == (5, 3)
    assert filters["dropped"] == {"too_few_objects": 1, "too_many_objects": 1}
    assert filters["objects_per_scene"] == {"2": 1, "3": 1, "4": 1, "6": 1, "7": 1}
    assert (tmp_path / "raw" / "clevr6" / "clevr_with_masks_train.tfrecords.sha256").is_file()


def test_clevr_reader_rejects_truncated_and_foreign_records(tmp_path):
    scenes = [clevr_scene(3, 0), clevr_scene(4, 1)]
    data_bytes = clevr_tfrecords(scenes, tmp_path / "a.tfrecords")
    decoded = [parse_scene(r, "x") for r in iter_records(tmp_path / "a.tfrecords")]
    assert (decoded[1].masks == scenes[1]["masks"]).all() and (decoded[1].image == scenes[1]["image"]).all()
    (tmp_path / "cut.tfrecords").write_bytes(data_bytes[: len(data_bytes) // 2])
    with pytest.raises(DRCError, match="corrupt or truncated"):
        list(iter_records(tmp_path / "cut.tfrecords"))
    with pytest.raises(DRCError, match="not a clevr_with_masks example"):
        parse_scene(b"\x0a\x03abc", "record 0")


def test_clevr_writer_lays_records_out_as_deepminds_file(tmp_path):
    """What scene_example writes, the reader and the tfrecord package's decoder read back (one byte per element)."""
    scenes = [clevr_scene(3, 0), clevr_scene(5, 1)]
    originals = [Scene(image=s["image"], masks=s["masks"], visibility=s["visibility"]) for s in scenes]
    codes = {"color": np.arange(11, dtype=np.uint8)}
    written = write_records(tmp_path / "w.tfrecords", (scene_example(s, codes=codes) for s in originals))
    assert written == 2 and [p.name for p in tmp_path.iterdir()] == ["w.tfrecords"]
    records = list(iter_records(tmp_path / "w.tfrecords"))
    for record, original in zip(records, originals, strict=True):
        scene = parse_scene(record, "x")
        assert np.array_equal(scene.image, original.image) and np.array_equal(scene.masks, original.masks)
        assert scene.n_objects == original.n_objects
    feature = example_pb2.Example.FromString(records[1]).features.feature
    assert len(feature["image"].bytes_list.value) == 240 * 320 * 3 and feature["image"].bytes_list.value[0] == b"\x78"
    assert feature["color"].bytes_list.value[10] == b"\x0a"


def test_unknown_dataset_and_param(tmp_path):
    with pytest.raises(DRCError, match="unknown real dataset 'flowers'"):
        prepare_real("flowers", {}, tmp_path / "x", tmp_path / "raw")
    with pytest.raises(DRCError, match=r"unknown params data\.birds\.crop_scal"):
        prepare_real("birds", {"crop_scal": 0.5}, tmp_path / "x", tmp_path / "raw")


def test_params_yaml_sets_only_known_keys_of_each_real_dataset():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, defaults in DEFAULTS.items():
        assert set(params["data"][name]) <= set(defaults), name
