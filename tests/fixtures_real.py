"""Test helpers for the real datasets: a local HTTP server with Range support (pytest fixture
``http_server``), tiny archives in the real layouts, and a fake Mask R-CNN.

A test module gets the fixture with ``from tests.fixtures_real import http_server_fixture  # noqa: F401``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import shutil
import tarfile
import threading
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image
from tfrecord.writer import TFRecordWriter

from drc.data.maskrcnn import Detections

# --------------------------------------------------------------------------- local HTTP server


@dataclass
class FileServer:
    """Files served at ``http://127.0.0.1:<port>/<name>``, with Range requests and misbehaviours."""

    base_url: str
    files: dict[str, bytes] = field(default_factory=dict)
    truncate_next: dict[str, int] = field(default_factory=dict)  # name -> bytes sent before closing
    ignore_range: set[str] = field(default_factory=set)  # names answered 200 even to a Range request
    fail_next: dict[str, int] = field(default_factory=dict)  # name -> HTTP status answered once instead
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (name, Range header)

    def add(self, name: str, data: bytes) -> str:
        self.files[name] = data
        return self.url(name)

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer  # carries .state: FileServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        state: FileServer = self.server.state  # type: ignore[attr-defined]
        name = self.path.lstrip("/")
        range_header = self.headers.get("Range")
        state.requests.append((name, range_header))
        if name not in state.files:
            self.send_error(404)
            return
        if name in state.fail_next:
            self.send_error(state.fail_next.pop(name))
            return
        data = state.files[name]
        start = 0
        if range_header and name not in state.ignore_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        sent = state.truncate_next.pop(name, len(body))
        self.wfile.write(body[:sent])

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(name="http_server")
def http_server_fixture() -> Iterator[FileServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.state = FileServer(base_url=f"http://127.0.0.1:{server.server_address[1]}")  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server.state  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- archives and images


def tar_bytes(members: Mapping[str, bytes], gz: bool) -> bytes:
    """A tar (gzip-compressed if ``gz``) holding ``members`` (name -> content), directories implied."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if gz else "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def encode(array: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


BACKGROUND = (90, 110, 130)
# colour painted on an object -> (COCO label, score) the fake detector reports for it
PALETTE = {
    "dog": ((230, 30, 30), 18, 0.97),
    "weak_dog": ((230, 30, 230), 18, 0.70),
    "person": ((30, 230, 30), 1, 0.95),
    "car": ((30, 30, 230), 3, 0.96),
    "truck": ((230, 230, 30), 8, 0.93),
}


def painted(width: int, height: int, regions: Sequence[tuple[str, tuple[int, int, int, int]]]) -> np.ndarray:
    """A flat background with each (palette colour, (x1, y1, x2, y2)) rectangle filled in, in order."""
    image = np.empty((height, width, 3), np.uint8)
    image[:] = BACKGROUND
    for colour, (x1, y1, x2, y2) in regions:
        image[y1:y2, x1:x2] = PALETTE[colour][0]
    return image


def fake_detector(images: Sequence[np.ndarray]) -> list[Detections]:
    """One instance per palette colour present: the pixels close to that colour."""
    results = []
    for image in images:
        labels, scores, masks = [], [], []
        for colour, label, score in PALETTE.values():
            mask = (np.abs(image.astype(int) - colour).max(axis=-1) < 60).astype(np.float32)
            if mask.any():
                labels.append(label)
                scores.append(score)
                masks.append(mask)
        shape = (len(masks), *image.shape[:2])
        results.append(
            Detections(
                labels=np.asarray(labels, np.int64),
                scores=np.asarray(scores, np.float32),
                masks=np.asarray(masks, np.float32).reshape(shape),
            )
        )
    return results


def serve(server: FileServer, files: Mapping[str, bytes]) -> dict[str, str]:
    """Serve ``files`` (param key -> content); returns the ``<key>_url`` / ``<key>_sha256`` params."""
    params = {}
    for key, data in files.items():
        params[f"{key}_url"] = server.add(key, data)
        params[f"{key}_sha256"] = sha256(data)
    return params


# --------------------------------------------------------------------------- Birds (CUB-200-2011)

# ReDO's train_val_test_split.txt: one label (0 train, 1 val, 2 test) per image id 1..11788, in order,
# zlib-compressed; ``cub_split_file`` rebuilds the file byte for byte (its sha256 is pinned in DEFAULTS).
_CUB_SPLIT_LABELS = (
    "eNqVmgmS4zAMA78k9P8ft5vEBw9Q9kxt1c4kskRRPADIax0/Wvx+4f//fP7OP/Xv6efz+D3Z7zH0+beuD+9ftZld10DiI2Uw5yfc"
    "y8cvWHlANOJn1f8vxepfDnvrwwhWqX3uZmXvz3PCPKXiU/qO4vQMg/fO+bSqA1CyjXmzfUZWPN82kOCO7zLH7yorqQTBOcJ6I1il"
    "6r9zQUVbuEdxuCu6X2WLTMffQlQMFsr4Cr1KHW6PD1FzziN/OG0Lup5Ryy+iySz19TQGtz2jlGtneKtn7vdQjs+vioCLQ2xG3YvT"
    "Vj7nEyYOr4xJ2zPV53Qz0QhN0ejWWfGg+NqmtY3rrxNEMtWNPJ2lWhl+Dhd5LHNYh90pnXAZ/cuSNcbwldL4IhSHEs5MG1doqKZ9"
    "fA2uhyqYiqp5SN24o5eBNiVp9wXpjAiJq7ZlQnmhZN6cmQzWuOdoXhuSWcfRatPAejoxNJ8XJb135r41bpdqPFENeeNM0cbOIc0n"
    "b1/uVenNrZ5dx6tcq88SpX0P90vrTQTsA0nRmIKiajaq9mD2yIm6rl5EB24LbB3/mJ75Ocb8OtEBg9UFCVzZKoWY0401PABULqT6"
    "tQHF7H9TdUoqd3zbLGfZNnq1xfAXkR4Q52UL2myskRGgKJ1Z62WZFdtQV8pYTJD+8lOmFreM52FXvNg9lxmmxl0+9buQx5GMHVRD"
    "/YDn7FDxLr30yYaRNDAiGfCZPC7NlaogIr2o+RHRRgQaAvnZEfEhDhBUiKbjL2sHklQzNW4CWiKd6SfGw5aCm6kInxNZdmh/dKiK"
    "2W7mT0XMNu6ghnkJvtEz1M1vKdjVDm6ooJGtkvq7sjMZsAEhtI6pdnE5+OSOUkSdr9TkzMm3TMLCEAvHYLlpz/CQ8diswHDbf+cD"
    "m+JMjErmTHizOZ4AJKs7+OrdB8nUA7sniz+xZ8i0x78BjL5nGYisPpdkgZheEY526rJdTpM3AcuTwBTaggaoOyhcVCXeVMIPbHQl"
    "U86qtmMn6jJIOfLoTra4SHGHakTkDyjgZQ0pu54ki9NbHBTesRfYMUBDlwj4gYEmFLPIBJC9Kpw47u06LP2BMeqLZRYY8SIjO2u1"
    "zOT94WqN/FMGT+r8NHtCVq7TRIr2alEPbG628reYnEZp8cYjRrdXhdImXwNgkVUg1PgnlVclmUpOrNOfDrWxcVg1uu/eFLVb2zaZ"
    "mBTXBYq3iDSz0pFjVWSFshkRQ3SCLrygWtU7UbPyzd0BbvEsN5bvxx8ORt8geeb//DnBO9aWSlH4oQac2HpSxAva4VCw0oicnthB"
    "+ZBk1FTxtS9dgOSuqbELDqiwplyuyk7V0U7ViWWG/cLUEe32o+mRuQjmdXpRNYMeZCfSAeucSPU8OKVRVi0lywhXITKkgI7zXQml"
    "KmK6q21g5ONmuUfzHYSIN2a2P+Ll+G1vuMiZntuJcrWSvyewAp2Tt0oA4+reJKz0D4mJypo0IqY2wRvU0lpd65MaxJm1o4TayWG9"
    "zTKpopk3BgiMFb8Yq4IGd1N6nLY4ZmEoe4cSqF1weF05EWIsWKW0iZuvq25XQz9nSx7FgXCbZKIE+eoqBPTcHVfJNzOFjmhFkd9p"
    "5Pbce2LtrkISosJzq+21xVedvVDEKUEw5LCizxMcfHkVoOWviTTqDhm/jgeO6cWsva5su9ItkvtXCpheXtCbBSIQT8KXU3zEXIYy"
    "huACjXJ61NhOzgzcYYJzVDA9Fm3N9rdKfOwbjkDTeGeIF0XX6veSLqiY5L1Pz2BobUNGbrCVj7g1hR3rfhMqSTRBgcp6iiLO4Ikp"
    "G411CyqJwadn6EE/LtILSj4b5aUbtu+kjfVUMkeSRF5h9DfhgkGPIumLeqb76qgoZdpdsXb9zGjY7gZuc8s71x0vfaPiCplBevQG"
    "BbkkqUz9WF9IvfcFmXzkiLXhSKyxHlCOyCkaMu+nrAZWEj6Ti1+vNqTXeNLllsxy3K8yrFmd6Bk6qfEqu2GqfP1KGjaRoE1nr2+p"
    "Pkg/L1QyikZrxUm16kU7rVwYfuBWHPfA4qV94S1MTI9wsarEJXVLRpIDFNpAGUdhdLTst3drPc78Ow2pZtKpftIP9CScrqEl6TrU"
    "m0GJB/236ln1xY9koH2XNEUVZG/MZKPogRStpUblPxivrZ0="
)


def cub_split_file() -> bytes:
    labels = zlib.decompress(base64.b64decode("".join(_CUB_SPLIT_LABELS))).decode()
    return "".join(f"{i} {label}\n" for i, label in enumerate(labels, start=1)).encode()


@dataclass(frozen=True)
class BirdCase:
    relpath: str
    size: tuple[int, int]  # width, height
    box: tuple[int, int, int, int]  # x, y, w, h as in bounding_boxes.txt
    crop: tuple[int, int, int, int]  # hand-computed expected crop
    split: int
    grey: bool = False


BIRD_CASES = (
    # r = int(0.75 * 60) = 45, centre (80, 55) -> (35, 10, 125, 100)
    BirdCase(
        "001.Black_footed_Albatross/Black_Footed_Albatross_0001_1.jpg",
        size=(200, 150), box=(50, 40, 60, 30), crop=(35, 10, 125, 100), split=0,
    ),
    # box touching the top-left corner: r = int(30) = 30, centre (20, 15) -> clipped (0, 0, 50, 45)
    BirdCase(
        "001.Black_footed_Albatross/Black_Footed_Albatross_0002_2.jpg",
        size=(120, 100), box=(0, 0, 40, 30), crop=(0, 0, 50, 45), split=0, grey=True,
    ),
    # box touching the bottom-right corner: r = int(22.5) = 22, centre (145, 105) -> (123, 83, 160, 120)
    BirdCase(
        "002.Laysan_Albatross/Laysan_Albatross_0003_3.jpg",
        size=(160, 120), box=(130, 90, 30, 30), crop=(123, 83, 160, 120), split=1,
    ),
    # r = int(0.75 * 41) = 30, centre int(60.5) = 60, int(50) = 50 -> (30, 20, 90, 80)
    BirdCase(
        "002.Laysan_Albatross/Laysan_Albatross_0004_4.jpg",
        size=(140, 110), box=(40, 30, 41, 40), crop=(30, 20, 90, 80), split=2,
    ),
)  # fmt: skip


def bird_mask(case: BirdCase) -> np.ndarray:
    """A soft CUB-style mask: 255 on the box's inner half, 100 (below 0.5) on the rest of the box."""
    width, height = case.size
    x, y, w, h = case.box
    mask = np.zeros((height, width), np.uint8)
    mask[y : y + h, x : x + w] = 100
    mask[y + h // 4 : y + h - h // 4, x + w // 4 : x + w - w // 4] = 255
    return mask


def build_birds() -> dict[str, bytes]:
    """CUB_200_2011.tgz, segmentations.tgz and a matching split file, keyed by param key."""
    rng = np.random.default_rng(0)
    images, segmentations = {}, {}
    lines_images, lines_boxes, lines_split = [], [], []
    for image_id, case in enumerate(BIRD_CASES, start=1):
        width, height = case.size
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        pixels = pixels.mean(axis=-1, keepdims=True).astype(np.uint8).repeat(3, -1) if case.grey else pixels
        image = pixels[:, :, 0] if case.grey else pixels
        images[f"CUB_200_2011/images/{case.relpath}"] = encode(image, "JPEG")
        segmentations[f"segmentations/{case.relpath[:-4]}.png"] = encode(bird_mask(case), "PNG")
        lines_images.append(f"{image_id} {case.relpath}")
        lines_boxes.append(f"{image_id} " + " ".join(f"{v:.1f}" for v in case.box))
        lines_split.append(f"{image_id} {case.split}")
    members = {
        "CUB_200_2011/README": b"tiny CUB for tests",
        **images,
        "CUB_200_2011/images.txt": ("\n".join(lines_images) + "\n").encode(),
        "CUB_200_2011/bounding_boxes.txt": ("\n".join(lines_boxes) + "\n").encode(),
    }
    return {
        "images": tar_bytes(members, gz=True),
        "segmentations": tar_bytes(segmentations, gz=True),
        "split": ("\n".join(lines_split) + "\n").encode(),
    }


# --------------------------------------------------------------------------- Dogs (Stanford Dogs)


@dataclass(frozen=True)
class DogCase:
    relpath: str  # n.../name.jpg as in file_list
    split: str
    size: tuple[int, int]
    boxes: tuple[tuple[int, int, int, int], ...]  # VOC (xmin, ymin, xmax, ymax); the largest is cropped
    regions: tuple[tuple[str, tuple[int, int, int, int]], ...]  # painted objects
    expected: str | None  # drop reason, None = kept


DOG_CASES = (
    DogCase(
        "n02085620-Chihuahua/n02085620_1.jpg", "train", size=(120, 90),
        boxes=((40, 30, 80, 60),), regions=(("dog", (45, 35, 75, 55)),), expected=None,
    ),
    DogCase(
        "n02085620-Chihuahua/n02085620_2.jpg", "train", size=(100, 100),
        boxes=((20, 20, 60, 60),), regions=(), expected="no_detection",
    ),
    DogCase(
        "n02085620-Chihuahua/n02085620_3.jpg", "train", size=(100, 80),
        boxes=((30, 20, 70, 60),), regions=(("weak_dog", (35, 25, 65, 55)),), expected="low_confidence",
    ),
    DogCase(
        "n02085782-Japanese_spaniel/n02085782_4.jpg", "train", size=(90, 90),
        boxes=((0, 0, 90, 90),), regions=(("dog", (0, 0, 90, 90)),), expected="too_large",
    ),
    DogCase(
        "n02085782-Japanese_spaniel/n02085782_5.jpg", "test", size=(120, 100),
        boxes=((30, 30, 90, 70),), regions=(("dog", (32, 32, 50, 68)), ("dog", (70, 32, 88, 68))),
        expected="fragmented",
    ),
    DogCase(
        "n02085782-Japanese_spaniel/n02085782_6.jpg", "test", size=(120, 100),
        boxes=((40, 30, 80, 70),), regions=(("person", (20, 10, 100, 90)), ("dog", (50, 40, 70, 60))),
        expected="distractor",
    ),
    # two annotated dogs: the crop follows the larger box (60..110 x 20..80)
    DogCase(
        "n02085782-Japanese_spaniel/n02085782_7.jpg", "test", size=(120, 100),
        boxes=((5, 5, 25, 25), (60, 20, 110, 80)), regions=(("dog", (65, 25, 105, 75)),), expected=None,
    ),
)  # fmt: skip


def voc_xml(case: DogCase) -> bytes:
    objects = "".join(
        f"<object><name>dog</name><pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult>"
        f"<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
        for x1, y1, x2, y2 in case.boxes
    )
    width, height = case.size
    return (
        f"<annotation><folder>x</folder><filename>{Path(case.relpath).stem}</filename>"
        f"<source><database>ImageNet database</database></source>"
        f"<size><width>{width}</width><height>{height}</height><depth>3</depth></size>"
        f"<segment>0</segment>{objects}</annotation>"
    ).encode()


def mat_bytes(variables: Mapping[str, object]) -> bytes:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, dict(variables))
    return buffer.getvalue()


def build_dogs() -> dict[str, bytes]:
    """images.tar, annotation.tar and lists.tar keyed by param key."""
    images = {f"Images/{c.relpath}": encode(painted(*c.size, c.regions), "JPEG") for c in DOG_CASES}
    annotations = {f"Annotation/{c.relpath[:-4]}": voc_xml(c) for c in DOG_CASES}
    lists = {}
    for split in ("train", "test"):
        paths = [c.relpath for c in DOG_CASES if c.split == split]
        lists[f"{split}_list.mat"] = mat_bytes(
            {
                "file_list": np.array(paths, dtype=object)[:, None],
                "annotation_list": np.array([p[:-4] for p in paths], dtype=object)[:, None],
                "labels": np.arange(1, len(paths) + 1)[:, None],
            }
        )
    lists["file_list.mat"] = mat_bytes({"file_list": np.array([c.relpath for c in DOG_CASES], dtype=object)[:, None]})
    return {
        "images": tar_bytes(images, gz=False),
        "annotation": tar_bytes(annotations, gz=False),
        "lists": tar_bytes(lists, gz=False),
    }


# --------------------------------------------------------------------------- Cars (Stanford Cars)


@dataclass(frozen=True)
class CarCase:
    fname: str
    split: str
    size: tuple[int, int]
    box: tuple[int, int, int, int]  # bbox_x1, bbox_y1, bbox_x2, bbox_y2
    colour: str
    expected: str | None


CAR_CASES = (
    CarCase("00001.jpg", "train", (128, 96), (20, 20, 100, 70), "car", None),
    CarCase("00002.jpg", "train", (128, 96), (30, 10, 110, 80), "truck", "no_detection"),
    CarCase("00001.jpg", "test", (100, 80), (0, 10, 100, 70), "car", None),  # box spans the full width
)

_ANNOTATION_DTYPE = [(f, "O") for f in ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname")]


def build_cars() -> dict[str, bytes]:
    """cars_train.tgz, cars_test.tgz and car_devkit.tgz keyed by param key."""
    archives, devkit = {}, {"devkit/README.txt": b"tiny devkit", "devkit/cars_meta.mat": mat_bytes({"x": 1})}
    for split in ("train", "test"):
        cases = [c for c in CAR_CASES if c.split == split]
        members = {}
        for case in cases:
            x1, y1, x2, y2 = case.box
            region = (x1 + 5, y1 + 5, x2 - 5, y2 - 5)
            members[f"cars_{split}/{case.fname}"] = encode(painted(*case.size, [(case.colour, region)]), "JPEG")
        rows = [(*(np.uint16(v) for v in c.box), np.uint8(7), c.fname) for c in cases]
        records = np.array(rows, dtype=_ANNOTATION_DTYPE)
        devkit[f"devkit/cars_{split}_annos.mat"] = mat_bytes({"annotations": records[None, :]})
        archives[f"{split}_images"] = tar_bytes(members, gz=True)
    return {**archives, "devkit": tar_bytes(devkit, gz=True)}


# --------------------------------------------------------------------------- CLEVR (with masks)


def clevr_scene(n_objects: int, seed: int) -> dict[str, np.ndarray]:
    """A 240 x 320 scene with ``n_objects`` squares; entity 0 is the background."""
    rng = np.random.default_rng(seed)
    image = np.full((240, 320, 3), 120, np.uint8)
    masks = np.zeros((11, 240, 320), np.uint8)
    for k in range(1, n_objects + 1):
        x, y = int(rng.integers(0, 300)), int(rng.integers(0, 220))
        image[y : y + 20, x : x + 20] = rng.integers(0, 256, 3)
        masks[:, y : y + 20, x : x + 20] = 0
        masks[k, y : y + 20, x : x + 20] = 255
    masks[0] = np.where(masks[1:].any(axis=0), 0, 255)
    visibility = np.zeros(11, np.float32)
    visibility[: n_objects + 1] = 1.0
    return {"image": image, "masks": masks, "visibility": visibility}


def clevr_tfrecords(
    scenes: Sequence[dict[str, np.ndarray]], path: Path, blob_scenes: frozenset[int] = frozenset()
) -> bytes:
    """A gzip TFRecord of clevr_with_masks ``tf.Example``s. Bytes features hold one byte per
    element as DeepMind's files do, except for the scenes in ``blob_scenes`` (one bytes blob)."""
    raw = path.with_suffix(".raw")
    writer = TFRecordWriter(str(raw))
    for index, scene in enumerate(scenes):
        blob = index in blob_scenes
        writer.write(
            {
                "image": (_bytes_feature(scene["image"], blob), "byte"),
                "mask": (_bytes_feature(scene["masks"][..., None], blob), "byte"),
                "visibility": (scene["visibility"], "float"),
                "x": (np.zeros(11, np.float32), "float"),
                "color": ([b"\x00"] * 11, "byte"),
            }
        )
    writer.close()
    with open(raw, "rb") as src, gzip.open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    raw.unlink()
    return path.read_bytes()


def _bytes_feature(array: np.ndarray, blob: bool) -> list[bytes]:
    flat = array.tobytes()
    return [flat] if blob else [flat[i : i + 1] for i in range(len(flat))]
