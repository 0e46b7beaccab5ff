"""CLEVR6 rendered here: scenes drawn by the CLEVR generator's rules and rendered from its own assets.

CLEVR6 is CLEVR with masks (DeepMind's re-render of CLEVR's generator) kept to scenes of 3 to 6 objects. Its
files cannot be downloaded here; the generator's assets can (``base_scene.blend``, three shapes, two materials,
``properties.json`` from github.com/facebookresearch/clevr-dataset-gen at a pinned commit, BSD licence, each
file checked against its sha256; ``assets_dir`` takes a local copy instead). This module fetches them, has the
render worker (drc/data/clevr_render.py, in the renderer's own environment) render the scenes in parallel
processes into a cache that an interrupted run resumes, and applies the CLEVR6 protocol of the real files
(``drc.data.clevr.crop_scene``: the (64, 29, 256, 221) crop of the 320 x 240 frame, resized; foreground = not
entity 0). The scenes can also be written as a clevr_with_masks TFRecord (``export_tfrecords``), which the
``clevr6`` dataset's reader takes as it takes DeepMind's file. docs/datasets.md says what differs from
DeepMind's files.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from drc.config import check_types, from_dict
from drc.data import clevr_render
from drc.data.clevr import MASK_SHAPE, Scene, crop_scene, scene_example, write_records
from drc.data.clevr_scenes import MAX_ENTITIES, Properties, SceneRules
from drc.data.download import fetch
from drc.data.prepared import write_prepared
from drc.errors import DRCError
from drc.params import RENDERED_CLEVR

NAME = RENDERED_CLEVR
ASSETS_COMMIT = "f0ce2c81750bfae09b5bf94d009f42e055f2cb3a"
ASSETS_URL = (
    f"https://raw.githubusercontent.com/facebookresearch/clevr-dataset-gen/{ASSETS_COMMIT}/image_generation/data"
)
# The generator's files at ASSETS_COMMIT, paths relative to its image_generation/data/.
ASSETS_SHA256 = {
    "base_scene.blend": "e9a6a0a51f377064ae78e6568fdb1c5a6c97db4e674b29682e345d677607eb82",
    "properties.json": "d72145e4bdd9dca8d85b49d98beb212d86cb4620c2001a507d9b3a4d6544e959",
    "shapes/SmoothCube_v2.blend": "a901f32efbc2afe33de6874163002439ce943697d6f4b43d0ad494eac72035ce",
    "shapes/SmoothCylinder.blend": "f5c4bf6b1f5e1469eb868b4e6be092ae2656b7b41d3a07e23d8487e616289bfa",
    "shapes/Sphere.blend": "f35d20b842193ac0f3e49d4642c1ebbc999142ead5ecc298ed024118a5e5df98",
    "materials/MyMetal.blend": "e47b6f920aaa4f5db0306eed01c309e0fcd933fdf2a8b6032a5fe5012268eca6",
    "materials/Rubber.blend": "05aa7d57452a4f083febe9ba34483c3c66201d2836b7281794f7ddbd9f9e63ff",
}
ATTRIBUTES = ("size", "material", "shape", "color")  # one-byte codes per entity in a clevr_with_masks record
_ATTRIBUTE_TABLE = {"size": "sizes", "material": "materials", "shape": "shapes", "color": "colors"}
_POLL_S = 0.5
# Where this machine keeps the assets and the renderer, and how many processes render: not what the scenes are,
# so the prepared data leave them out (the same scenes prepare to the same bytes on every machine).
LOCAL_SETTINGS = ("assets_url", "assets_dir", "python", "workers")


@dataclass(frozen=True)
class RenderSettings:
    """How each scene is rendered (Cycles on the CPU); docs/performance.md has the cost against the looks."""

    width: int = 320  # px; clevr_with_masks' frame: the crop box and the TFRecord layout are for 320 x 240
    height: int = 240
    # Cycles samples per pixel (the generator: 512), chosen with the denoiser from the measured cost against the
    # looks (docs/performance.md).
    samples: int = 16
    denoise: bool = True  # OpenImageDenoise after sampling (the generator's Blender 2.78 had none)

    def __post_init__(self) -> None:
        check_types(self, f"data.{NAME}.render")
        if min(self.width, self.height, self.samples) < 1:
            raise DRCError(f"data.{NAME}.render: width, height and samples must be >= 1, got {self}")


@dataclass(frozen=True)
class HeldoutScenes:
    """Scenes from another seed, never trained on (``python stages/prepare.py <dataset> --heldout``)."""

    seed: int = 1  # must differ from the dataset's seed
    n_scenes: int = 200


@dataclass(frozen=True)
class ClevrRenderedConfig:
    """data.clevr6_rendered (docs/datasets.md). Defaults: the paper's size; profiles shrink it."""

    # The paper takes the first 70K scenes of DeepMind's file and keeps those with 3-6 objects: about half of
    # them, as CLEVR draws 3-10 objects uniformly. Rendered here, every scene has 3-6.
    n_scenes: int = 35_000
    eval_size: int = 1000  # scored subset = the first eval_size scenes; paper: 1K
    seed: int = 0  # scene i is drawn from (seed, i) alone
    heldout: HeldoutScenes = field(default_factory=HeldoutScenes)
    resolution: int = 128  # px, the prepared images; paper: 128
    crop_box: tuple[int, int, int, int] = (64, 29, 256, 221)  # (x1, y1, x2, y2) of the frame; paper's
    rules: SceneRules = field(default_factory=SceneRules)  # the generator's rules (drc/data/clevr_scenes.py)
    render: RenderSettings = field(default_factory=RenderSettings)
    workers: int | None = None  # render processes; null = one per core (each renders on cores / workers threads)
    assets_url: str | None = ASSETS_URL  # folder URL of the generator's data/ at ASSETS_COMMIT
    assets_sha256: dict[str, str | None] = field(default_factory=lambda: dict(ASSETS_SHA256))  # file -> sha256
    assets_dir: str | None = None  # a local copy of the generator's image_generation/data/ (skips the download)
    python: str = ".venv-render/bin/python"  # the interpreter with bpy (`make render-venv`)

    def __post_init__(self) -> None:
        check_types(self, f"data.{NAME}")

        def bad(message: str) -> DRCError:
            return DRCError(f"data.{NAME}: {message}")

        if self.n_scenes < 1 or not 1 <= self.eval_size <= self.n_scenes:
            raise bad(f"need 1 <= eval_size <= n_scenes, got eval_size {self.eval_size}, n_scenes {self.n_scenes}")
        if self.heldout.seed == self.seed or min(self.seed, self.heldout.seed) < 0 or self.heldout.n_scenes < 1:
            raise bad(f"need seeds >= 0, heldout.seed != seed, heldout.n_scenes >= 1; got {self.heldout}")
        x1, y1, x2, y2 = self.crop_box
        if not (0 <= x1 < x2 <= self.render.width and 0 <= y1 < y2 <= self.render.height):
            raise bad(f"crop_box {self.crop_box} is not inside the {self.render.width} x {self.render.height} frame")
        if not isinstance(self.assets_sha256, dict) or {"base_scene.blend", "properties.json"} - set(
            self.assets_sha256
        ):
            raise bad("assets_sha256 must map each asset file (base_scene.blend, properties.json, ...) to its sha256")


def config_from_values(values: Mapping[str, Any], name: str = NAME) -> ClevrRenderedConfig:
    """The dataset's settings from ``data.<name>`` (drc.params.data_values), every problem one DRCError."""
    values = dict(values)
    try:
        rules = SceneRules.from_mapping(values.pop("rules", None) or {})
    except (ValueError, TypeError) as exc:
        raise DRCError(f"data.{name}.{exc}") from None
    nested = {
        "rules": rules,
        "render": from_dict(RenderSettings, values.pop("render", None) or {}, f"data.{name}.render"),
        "heldout": from_dict(HeldoutScenes, values.pop("heldout", None) or {}, f"data.{name}.heldout"),
    }
    return from_dict(ClevrRenderedConfig, {**values, **nested}, f"data.{name}")


# -- assets ------------------------------------------------------------------------------------------------
def fetch_assets(cfg: ClevrRenderedConfig, download_dir: Path, name: str = NAME) -> tuple[Path, dict[str, dict]]:
    """The generator's asset folder, every listed file verified: ``assets_dir`` if set, else downloaded into
    ``download_dir/assets``. Returns the folder and each file's url (None for a local copy) and sha256."""
    param = f"data.{name}.assets"
    if cfg.assets_dir is not None:
        root = Path(cfg.assets_dir).expanduser()
        for rel in cfg.assets_sha256:
            if not (root / rel).is_file():
                raise DRCError(
                    f"{param}_dir = {root} lacks {rel}: point it at a copy of the CLEVR generator's "
                    f"image_generation/data folder, or set it to null to download the files"
                )
    else:
        root = Path(download_dir) / "assets"
        if not cfg.assets_url:
            raise DRCError(f"{param}_url is not set: set it, or set {param}_dir to a local copy of the assets")
    files = {}
    for rel, sha256 in cfg.assets_sha256.items():
        got = fetch(
            None if cfg.assets_dir is not None else f"{cfg.assets_url.rstrip('/')}/{rel}",
            root / rel,
            sha256=sha256,
            local_file=root / rel if cfg.assets_dir is not None else None,
            param=param,
            local_param=f"{param}_dir",
        )
        files[rel] = {"url": got.url, "sha256": got.sha256}
    try:
        Properties.from_json((root / "properties.json").read_text())
    except ValueError as exc:
        raise DRCError(f"{root / 'properties.json'} is {exc}; replace it ({param}_dir or {param}_url)") from None
    return root, files


# -- rendering ---------------------------------------------------------------------------------------------
def asset_checksums(assets: Mapping[str, Mapping]) -> dict[str, str]:
    """Each asset file's sha256, by path (what the scenes depend on, wherever the files sit)."""
    return {rel: f["sha256"] for rel, f in sorted(assets.items())}


def render_dir(render_root: Path, cfg: ClevrRenderedConfig, seed: int, assets: Mapping[str, Mapping]) -> Path:
    """The cache folder of the scenes that these settings, seed and asset files give."""
    key = {
        "rules": asdict(cfg.rules),
        "render": asdict(cfg.render),
        "seed": seed,
        "assets": asset_checksums(assets),
        "renderer": clevr_render.RENDERER_VERSION,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return Path(render_root) / f"seed{seed}-{digest}"


def renderer_id(python: str, name: str = NAME) -> str:
    """The id the render worker records in each scene (its version and Blender's), asked of ``python``."""
    code = "import bpy; print(bpy.app.version_string)"
    hint = f"data.{name}.python = {python}"
    try:
        done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=300, env=_worker_env())
    except OSError as exc:
        raise DRCError(
            f"{hint} cannot run ({exc.strerror}): create the renderer's environment with `make render-venv`"
        ) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise DRCError(f"{hint} cannot import bpy ({last}): create it with `make render-venv`")
    return f"clevr_render {clevr_render.RENDERER_VERSION}, Blender {done.stdout.strip().splitlines()[-1]}"


def _worker_env(package_link: Path | None = None) -> dict[str, str]:
    """The render worker's environment: only this package on its path (the renderer has its own numpy)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONNOUSERSITE"] = "1"
    if package_link is not None:
        env["PYTHONPATH"] = str(package_link)
    return env


def render_scenes(
    cfg: ClevrRenderedConfig,
    *,
    assets_dir: Path,
    out_dir: Path,
    seed: int,
    indices: Sequence[int],
    renderer: str,
    name: str = NAME,
) -> list[Path]:
    """Render the scenes of ``indices`` that ``out_dir`` lacks (or holds from another renderer) in parallel
    worker processes; returns every scene's file, in the order of ``indices``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [clevr_render.scene_file(out_dir, i) for i in indices]
    todo = [i for i, p in zip(indices, paths, strict=True) if clevr_render.recorded_renderer(p) != renderer]
    if not todo:
        return paths
    cpus = len(os.sched_getaffinity(0))
    n_workers = max(1, min(cfg.workers or cpus, len(todo)))
    job = {
        "assets": str(Path(assets_dir).resolve()),
        "seed": seed,
        "out": str(out_dir.resolve()),
        "rules": asdict(cfg.rules),
        "render": asdict(cfg.render),
        "threads": max(1, cpus // n_workers),
    }
    with tempfile.TemporaryDirectory(prefix="drc-render.") as tmp:
        link = Path(tmp) / "path"
        link.mkdir()
        package = Path(clevr_render.__file__).resolve().parents[1]
        (link / "drc").symlink_to(package, target_is_directory=True)
        workers = []
        try:
            for k in range(n_workers):
                job_file = Path(tmp) / f"job-{k}.json"
                job_file.write_text(json.dumps({**job, "scenes": todo[k::n_workers]}))
                log = out_dir / f"worker-{k}.log"
                with open(log, "w") as log_fh:
                    cmd = [cfg.python, "-m", clevr_render.__name__, str(job_file)]
                    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log_fh, env=_worker_env(link))
                workers.append((proc, log))
            _wait(workers, [clevr_render.scene_file(out_dir, i) for i in todo], name)
        finally:
            for proc, _ in workers:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait()
    return paths


def _wait(workers: Sequence[tuple[subprocess.Popen, Path]], expected: Sequence[Path], name: str) -> None:
    """Show progress until every worker has ended; one failed worker ends the wait with its error line."""
    start = time.time()

    def rendered() -> int:
        return sum(1 for p in expected if p.is_file() and p.stat().st_mtime >= start - 1)

    with tqdm(total=len(expected), desc=f"render {name}", unit="scene") as bar:

        def advance() -> None:
            if (done := rendered()) > bar.n:
                bar.update(done - bar.n)

        while True:
            advance()
            codes = [proc.poll() for proc, _ in workers]
            failed = [(code, log) for code, (_, log) in zip(codes, workers, strict=True) if code not in (None, 0)]
            if failed:
                code, log = failed[0]
                lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
                errors = [ln for ln in lines if ln.startswith("error:")]
                why = (errors or lines or [f"exit status {code}"])[-1].removeprefix("error: ")
                raise DRCError(f"the renderer failed on {name}: {why} (its log: {log})")
            if all(code == 0 for code in codes):
                advance()
                return
            time.sleep(_POLL_S)


# -- scenes ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RenderedScene:
    image: np.ndarray  # H x W x 3 uint8
    labels: np.ndarray  # H x W uint8, 0 = background, j = object j
    record: dict[str, Any]  # what the worker drew and how long it took

    def as_clevr(self) -> Scene:
        """The scene as a clevr_with_masks record holds it: 11 entity masks (0 / 255), entity 0 the background."""
        n = len(self.record["objects"])
        masks = (self.labels[None] == np.arange(MASK_SHAPE[0])[:, None, None]).astype(np.uint8) * 255
        visibility = (np.arange(MAX_ENTITIES) <= n).astype(np.float32)
        return Scene(image=self.image, masks=masks, visibility=visibility)


def load_scene(path: Path) -> RenderedScene:
    try:
        with np.load(path) as npz:
            return RenderedScene(npz["image"], npz["labels"], json.loads(str(npz["scene"])))
    except (OSError, ValueError, KeyError) as exc:
        raise DRCError(f"{path} is not a readable rendered scene ({exc}); delete it to render it again") from exc


def prepare_clevr_rendered(
    cfg: ClevrRenderedConfig,
    out_dir: Path,
    *,
    download_dir: Path,
    render_root: Path,
    name: str = NAME,
    heldout: bool = False,
    tfrecords: Path | None = None,
) -> Path:
    """Fetch the assets, render what the cache lacks, and write the prepared dataset (or its held-out set:
    ``heldout.n_scenes`` scenes of ``heldout.seed``, all scored) at ``out_dir``; with ``tfrecords``, also the
    scenes as a clevr_with_masks file there."""
    seed, n_scenes = (cfg.heldout.seed, cfg.heldout.n_scenes) if heldout else (cfg.seed, cfg.n_scenes)
    assets_dir, assets = fetch_assets(cfg, download_dir, name)
    renderer = renderer_id(cfg.python, name)
    scene_dir = render_dir(render_root, cfg, seed, assets)
    paths = render_scenes(
        cfg, assets_dir=assets_dir, out_dir=scene_dir, seed=seed, indices=range(n_scenes), renderer=renderer, name=name
    )
    if tfrecords is not None:
        export_tfrecords(paths, Properties.from_json((assets_dir / "properties.json").read_text()), tfrecords)
    images = np.empty((n_scenes, cfg.resolution, cfg.resolution, 3), np.uint8)
    masks = np.empty((n_scenes, cfg.resolution, cfg.resolution), bool)
    records = []
    for row, path in enumerate(tqdm(paths, desc=f"crop {name}", unit="scene")):
        scene = load_scene(path)
        images[row], masks[row] = crop_scene(scene.as_clevr(), cfg.crop_box, cfg.resolution)
        records.append(scene.record)
    print(render_cost(records))
    return write_prepared(
        out_dir,
        name=f"{name}-heldout" if heldout else name,
        images=images,
        masks=masks,
        ids=[f"{i:06d}" for i in range(n_scenes)],
        splits={"eval": range(n_scenes if heldout else cfg.eval_size)},
        source={
            "generator": "github.com/facebookresearch/clevr-dataset-gen (rules and assets), rendered by drc",
            "assets_commit": ASSETS_COMMIT,
            "assets_sha256": asset_checksums(assets),
            "renderer": renderer,
            "seed": seed,
            "config": {k: v for k, v in json.loads(json.dumps(asdict(cfg))).items() if k not in LOCAL_SETTINGS},
        },
        stats=scene_stats(records, masks),
    )


def scene_stats(records: Sequence[Mapping[str, Any]], masks: np.ndarray) -> dict[str, Any]:
    counts = Counter(len(r["objects"]) for r in records)
    return {
        "objects_per_scene": {str(k): counts[k] for k in sorted(counts)},
        "foreground_fraction_mean": float(masks.mean()),
        "placements_per_scene_mean": float(np.mean([r["attempts"] for r in records])),
    }


def render_cost(records: Sequence[Mapping[str, Any]]) -> str:
    """The scenes' mean render time, for the log (it differs between machines, so the prepared data omit it)."""
    wall, cpu = (float(np.mean([r[key] for r in records])) for key in ("seconds", "cpu_seconds"))
    return f"{len(records)} scenes rendered in {wall:.1f} s each on average ({cpu:.1f} s of CPU)"


# -- clevr_with_masks records ------------------------------------------------------------------------------
def scene_record(scene: RenderedScene, props: Properties) -> bytes:
    """One rendered scene as a serialized clevr_with_masks ``tf.Example`` (entity j + 1 = object j)."""
    if scene.image.shape != (MASK_SHAPE[1], MASK_SHAPE[2], 3):
        height, width = scene.image.shape[:2]
        raise DRCError(
            f"clevr_with_masks frames are 320 x 240, scene {scene.record['index']} is {width} x {height}: "
            f"set data.{NAME}.render.width and height to 320 and 240"
        )
    objects = scene.record["objects"]
    floats = {key: np.zeros(MAX_ENTITIES, np.float32) for key in ("x", "y", "z", "rotation")}
    floats["pixel_coords"] = np.zeros((MAX_ENTITIES, 3), np.float32)
    codes = {key: np.zeros(MAX_ENTITIES, np.uint8) for key in ATTRIBUTES}
    for j, obj in enumerate(objects, start=1):
        for key in ("x", "y", "z", "rotation", "pixel_coords"):
            floats[key][j] = obj[key]
        for key in ATTRIBUTES:
            codes[key][j] = props.code(_ATTRIBUTE_TABLE[key], obj[key])
    return scene_example(scene.as_clevr(), floats=floats, codes=codes)


def export_tfrecords(paths: Iterable[Path], props: Properties, out: Path) -> int:
    """Write rendered scenes as a gzip clevr_with_masks TFRecord at ``out`` (the prepare stage's own output,
    replaced when it is there), atomically; returns how many."""
    return write_records(out, (scene_record(load_scene(p), props) for p in paths), replace=True)
