"""CLEVR6 rendered here (drc/data/clevr_rendered.py): settings, assets (local folder and download, checked),
and a handful of tiny scenes rendered from stand-in assets built with bpy (tests/clevr_standin_assets.py):
determinism per scene, masks that partition the frame, object counts, the crop, resuming, the TFRecord round
trip through the clevr6 reader, and one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from drc.config import dataset_kind
from drc.data import clevr_rendered as cr
from drc.data.clevr import iter_records, parse_scene
from drc.data.clevr_render import scene_file
from drc.data.clevr_scenes import Properties, SceneRules
from drc.data.prepared import Prepared, sha256_file
from drc.data.real import prepare_real
from drc.errors import DRCError
from drc.params import data_kind, data_values, profile_names
from tests.fixtures_real import http_server_fixture  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
RENDER_PYTHON = ROOT / ".venv-render" / "bin" / "python"
N_SCENES = 4


def _render_python() -> str:
    if not RENDER_PYTHON.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{RENDER_PYTHON} is missing: `make test` creates it (make render-venv)")
        pytest.skip(f"the renderer's environment {RENDER_PYTHON} is missing: run `make render-venv`")
    return str(RENDER_PYTHON)


@pytest.fixture(scope="module")
def standin_assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    python = _render_python()
    out = tmp_path_factory.mktemp("standin") / "data"
    subprocess.run([python, str(ROOT / "tests/clevr_standin_assets.py"), str(out)], check=True, capture_output=True)
    return out


def _config(assets: Path, **changes: object) -> cr.ClevrRenderedConfig:
    sha = {str(p.relative_to(assets)): sha256_file(p) for p in sorted(assets.rglob("*")) if p.is_file()}
    cfg = cr.ClevrRenderedConfig(
        n_scenes=N_SCENES,
        eval_size=N_SCENES,
        heldout=cr.HeldoutScenes(seed=1, n_scenes=2),
        render=cr.RenderSettings(samples=1, denoise=False),
        workers=2,
        assets_dir=str(assets),
        assets_sha256=sha,
        python=_render_python(),
    )
    return replace(cfg, **changes)


@pytest.fixture(scope="module")
def rendered(standin_assets: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("rendered")
    cfg = _config(standin_assets)
    tfrecords = tmp / "clevr_with_masks.tfrecords"
    out = cr.prepare_clevr_rendered(
        cfg, tmp / "prepared", download_dir=tmp / "downloads", render_root=tmp / "renders", tfrecords=tfrecords
    )
    (scene_dir,) = (tmp / "renders").iterdir()
    return {"cfg": cfg, "prepared": out, "scenes": scene_dir, "tfrecords": tfrecords, "tmp": tmp}


# -- settings ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("profile", profile_names())
def test_every_profile_gives_valid_settings(profile):
    values = data_values("clevr6_rendered", profile, {"data": {"clevr6_rendered": {"seed": 0}}})
    cfg = cr.config_from_values(values)
    assert cfg.crop_box == (64, 29, 256, 221) and cfg.rules == SceneRules()
    if profile == "tiny":
        assert (cfg.n_scenes, cfg.eval_size, cfg.heldout.n_scenes) == (8, 8, 4)


def test_the_rendered_dataset_has_its_own_data_settings_and_the_clevr6_facts():
    assert data_kind("clevr6_rendered") == "clevr6_rendered" and dataset_kind("clevr6_rendered") == "clevr6"
    assert data_kind("clevr6") == "clevr6" and data_kind("tmdsprites_colour") == "tmdsprites"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"rules": {"max_objects": 12}}, r"data\.clevr6_rendered\.rules\.min_objects and rules\.max_objects"),
        ({"rules": {"margn": 0.4}}, r"data\.clevr6_rendered\.rules: unknown setting\(s\) \['margn'\]"),
        ({"render": {"samples": "many"}}, r"data\.clevr6_rendered\.render\.samples must be"),
        ({"n_scenes": 2.5}, r"data\.clevr6_rendered\.n_scenes must be"),
        ({"render": {"sampels": 8}}, r"unknown data\.clevr6_rendered\.render setting"),
        ({"crop_box": [64, 29, 400, 221]}, r"crop_box .* is not inside the 320 x 240 frame"),
        ({"heldout": {"seed": 0}}, r"heldout\.seed != seed"),
        ({"eval_size": 50, "n_scenes": 10}, r"eval_size <= n_scenes"),
        ({"n_scnes": 10}, r"unknown data\.clevr6_rendered setting"),
    ],
)
def test_bad_settings_are_named(values, message):
    with pytest.raises(DRCError, match=message):
        cr.config_from_values(values)


# -- assets ------------------------------------------------------------------------------------------------
def _fake_assets(root: Path) -> dict[str, str]:
    """Files at the generator's paths (not real .blend files: the download does not open them)."""
    props = {"shapes": {"cube": "SmoothCube_v2"}, "colors": {"red": [1, 2, 3]}, "materials": {"rubber": "Rubber"}}
    contents = {"properties.json": json.dumps({**props, "sizes": {"large": 0.7}}).encode()}
    contents |= {rel: rel.encode() * 100 for rel in cr.ASSETS_SHA256 if rel != "properties.json"}
    for rel, data in contents.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return {rel: sha256_file(root / rel) for rel in contents}


def test_assets_are_downloaded_and_checked(http_server, tmp_path):
    sha = _fake_assets(tmp_path / "src")
    for rel in sha:
        http_server.add(f"gen/{rel}", (tmp_path / "src" / rel).read_bytes())
    cfg = replace(cr.ClevrRenderedConfig(), assets_url=http_server.url("gen"), assets_sha256=sha)
    root, files = cr.fetch_assets(cfg, tmp_path / "dl")
    assert root == tmp_path / "dl" / "assets"
    assert {rel: f["sha256"] for rel, f in files.items()} == sha
    assert files["shapes/Sphere.blend"]["url"] == http_server.url("gen/shapes/Sphere.blend")
    n_requests = len(http_server.requests)
    cr.fetch_assets(cfg, tmp_path / "dl")  # verified files are reused
    assert len(http_server.requests) == n_requests
    http_server.add("gen/materials/Rubber.blend", b"not the file")
    (root / "materials/Rubber.blend").unlink()
    with pytest.raises(DRCError, match=r"sha256 .* expected .*data\.clevr6_rendered\.assets_sha256"):
        cr.fetch_assets(cfg, tmp_path / "dl")
    assert not (root / "materials/Rubber.blend").exists()


def test_local_assets_missing_or_corrupt_are_named(tmp_path):
    sha = _fake_assets(tmp_path / "gen")
    cfg = replace(cr.ClevrRenderedConfig(), assets_dir=str(tmp_path / "gen"), assets_sha256=sha)
    root, files = cr.fetch_assets(cfg, tmp_path / "dl")
    assert root == tmp_path / "gen" and all(f["url"] is None for f in files.values())
    (tmp_path / "gen/shapes/Sphere.blend").write_bytes(b"damaged")
    with pytest.raises(DRCError, match=r"Sphere\.blend has sha256 .*data\.clevr6_rendered\.assets_sha256"):
        cr.fetch_assets(cfg, tmp_path / "dl")
    (tmp_path / "gen/shapes/Sphere.blend").unlink()
    with pytest.raises(DRCError, match=r"data\.clevr6_rendered\.assets_dir = .* lacks shapes/Sphere\.blend"):
        cr.fetch_assets(cfg, tmp_path / "dl")
    assert not (tmp_path / "dl").exists()


def test_a_missing_asset_is_one_error_line_from_the_stage(tmp_path):
    _fake_assets(tmp_path / "gen")
    (tmp_path / "gen/base_scene.blend").unlink()
    params = {"data": {"clevr6_rendered": {"assets_dir": str(tmp_path / "gen")}}}
    (tmp_path / "params.yaml").write_text(json.dumps(params))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "stages/prepare.py"), "clevr6_rendered", "--profile", "tiny"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: data.clevr6_rendered.assets_dir = ") and "lacks base_scene.blend" in line
    assert not (tmp_path / "data" / "prepared").exists()


def test_a_missing_renderer_is_named(tmp_path):
    with pytest.raises(DRCError, match=r"data\.clevr6_rendered\.python = .*nope.*make render-venv"):
        cr.renderer_id(str(tmp_path / "nope"))


# -- rendering ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_rendered_dataset_is_prepared_with_its_settings(rendered):
    prepared = Prepared.open(rendered["prepared"])
    assert prepared.images.shape == (N_SCENES, 128, 128, 3) and prepared.masks.shape == (N_SCENES, 128, 128)
    assert prepared.split("eval").tolist() == list(range(N_SCENES))
    source = prepared.meta["source"]
    assert source["renderer"].startswith("clevr_render 1, Blender ") and source["assets_commit"] == cr.ASSETS_COMMIT
    assert source["config"]["render"] == {"width": 320, "height": 240, "samples": 1, "denoise": False}
    stats = prepared.meta["stats"]
    assert sum(stats["objects_per_scene"].values()) == N_SCENES
    assert 0.0 < stats["foreground_fraction_mean"] < 0.5


@pytest.mark.slow
def test_the_same_scenes_prepare_to_the_same_bytes_wherever_the_assets_are(rendered, standin_assets, tmp_path, capsys):
    """The assets' folder, the renderer's path and the worker count are this machine's, not the data's: a copy of
    the assets elsewhere, another worker count, the same render cache give byte-identical prepared files."""
    moved = tmp_path / "elsewhere" / "data"
    shutil.copytree(standin_assets, moved)
    cfg = replace(rendered["cfg"], assets_dir=str(moved), workers=1)
    out = cr.prepare_clevr_rendered(cfg, tmp_path / "p", download_dir=tmp_path, render_root=rendered["scenes"].parent)
    assert f"{N_SCENES} scenes rendered in " in capsys.readouterr().out  # the cost goes to the log
    for name in ("meta.json", "images.npy", "masks.npy"):
        assert (out / name).read_bytes() == (rendered["prepared"] / name).read_bytes(), name
    assert str(moved) not in (out / "meta.json").read_text()


@pytest.mark.slow
def test_masks_partition_the_frame_and_count_the_objects(rendered):
    rules = rendered["cfg"].rules
    for index in range(N_SCENES):
        scene = cr.load_scene(scene_file(rendered["scenes"], index))
        n = len(scene.record["objects"])
        assert rules.min_objects <= n <= rules.max_objects
        assert scene.image.shape == (240, 320, 3) and scene.labels.shape == (240, 320)
        counts = np.bincount(scene.labels.ravel())
        assert len(counts) == n + 1 and counts.min() >= rules.min_pixels_per_object
        clevr = scene.as_clevr()
        assert clevr.masks.shape == (11, 240, 320) and set(np.unique(clevr.masks)) <= {0, 255}
        assert (clevr.masks.astype(int).sum(0) == 255).all()  # each pixel belongs to exactly one entity
        assert clevr.n_objects == n and clevr.visibility[0] == 1.0
        assert [o["pixel_coords"][0] for o in scene.record["objects"]] != [0.0] * n


@pytest.mark.slow
def test_a_scene_rendered_alone_is_the_same_scene(rendered, tmp_path):
    """Scene 2 alone, in one process on every core, against the batch's two processes of one thread each."""
    cfg = replace(rendered["cfg"], workers=1)
    renderer = cr.renderer_id(cfg.python)
    (path,) = cr.render_scenes(
        cfg, assets_dir=Path(cfg.assets_dir), out_dir=tmp_path, seed=cfg.seed, indices=[2], renderer=renderer
    )
    alone, batch = cr.load_scene(path), cr.load_scene(scene_file(rendered["scenes"], 2))
    assert np.array_equal(alone.image, batch.image) and np.array_equal(alone.labels, batch.labels)
    assert alone.record["objects"] == batch.record["objects"]
    other_seed = cr.load_scene(
        cr.render_scenes(
            cfg, assets_dir=Path(cfg.assets_dir), out_dir=tmp_path / "s9", seed=9, indices=[2], renderer=renderer
        )[0]
    )
    assert other_seed.record["objects"] != batch.record["objects"]


@pytest.mark.slow
def test_the_crop_is_the_clevr6_protocol(rendered, tmp_path):
    """At 192 px the (64, 29, 256, 221) crop is not resized: the prepared rows are the frame's pixels."""
    cfg = replace(rendered["cfg"], resolution=192)
    out = cr.prepare_clevr_rendered(cfg, tmp_path / "p", download_dir=tmp_path, render_root=rendered["scenes"].parent)
    prepared = Prepared.open(out)
    for index in range(N_SCENES):
        scene = cr.load_scene(scene_file(rendered["scenes"], index))
        assert np.array_equal(prepared.images[index], scene.image[29:221, 64:256])
        assert np.array_equal(prepared.masks[index], scene.labels[29:221, 64:256] > 0)


@pytest.mark.slow
def test_an_interrupted_render_resumes(rendered, tmp_path):
    scenes = tmp_path / "scenes"
    shutil.copytree(rendered["scenes"], scenes)
    scene_file(scenes, 1).unlink()
    kept = {i: scene_file(scenes, i).stat().st_mtime_ns for i in (0, 2, 3)}
    cfg = rendered["cfg"]
    cr.render_scenes(
        cfg,
        assets_dir=Path(cfg.assets_dir),
        out_dir=scenes,
        seed=cfg.seed,
        indices=range(N_SCENES),
        renderer=cr.renderer_id(cfg.python),
    )
    assert {i: scene_file(scenes, i).stat().st_mtime_ns for i in (0, 2, 3)} == kept
    again, first = cr.load_scene(scene_file(scenes, 1)), cr.load_scene(scene_file(rendered["scenes"], 1))
    assert np.array_equal(again.image, first.image)


@pytest.mark.slow
def test_the_clevr6_reader_takes_the_rendered_tfrecords_to_the_same_dataset(rendered, tmp_path):
    records = list(iter_records(rendered["tfrecords"]))
    assert len(records) == N_SCENES
    scene = cr.load_scene(scene_file(rendered["scenes"], 0))
    parsed = parse_scene(records[0], "record 0")
    assert np.array_equal(parsed.image, scene.image) and np.array_equal(parsed.masks, scene.as_clevr().masks)
    cfg = {"tfrecords_file": str(rendered["tfrecords"]), "max_scenes": N_SCENES, "eval_size": N_SCENES}
    out = prepare_real("clevr6", cfg, tmp_path / "clevr6", tmp_path / "downloads")
    real, ours = Prepared.open(out), Prepared.open(rendered["prepared"])
    assert np.array_equal(real.images, ours.images) and np.array_equal(real.masks, ours.masks)
    assert real.meta["stats"]["dropped"] == {"too_few_objects": 0, "too_many_objects": 0}


@pytest.mark.slow
def test_records_carry_the_scene_attributes(rendered, standin_assets):
    from tfrecord import example_pb2

    props = Properties.from_json((standin_assets / "properties.json").read_text())
    scene = cr.load_scene(scene_file(rendered["scenes"], 1))
    features = example_pb2.Example.FromString(cr.scene_record(scene, props)).features.feature
    first = scene.record["objects"][0]
    assert features["x"].float_list.value[1] == pytest.approx(first["x"])
    assert features["x"].float_list.value[0] == 0.0 and len(features["pixel_coords"].float_list.value) == 33
    assert features["color"].bytes_list.value[1] == bytes([props.code("colors", first["color"])])
    assert features["shape"].bytes_list.value[0] == b"\x00"


@pytest.mark.slow
def test_a_broken_asset_stops_the_render_with_its_error(standin_assets, tmp_path):
    """An unchecked file (its sha256 entry null) that lacks the generator's object: the worker's error line."""
    assets = tmp_path / "assets"
    shutil.copytree(standin_assets, assets)
    shutil.copy(assets / "shapes/SmoothCube_v2.blend", assets / "shapes/Sphere.blend")
    cfg = _config(assets)
    cfg = replace(cfg, assets_sha256={**cfg.assets_sha256, "shapes/Sphere.blend": None}, n_scenes=1, eval_size=1)
    with pytest.raises(DRCError, match=r"renderer failed on clevr6_rendered: .*Sphere\.blend holds no object"):
        cr.prepare_clevr_rendered(cfg, tmp_path / "p", download_dir=tmp_path, render_root=tmp_path / "r")
    assert not (tmp_path / "p").exists()


@pytest.mark.slow
def test_the_cost_benchmark_prints_each_setting_against_the_reference(standin_assets, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "bench.clevr_render_cost", str(standin_assets), "--scenes", "1"]
        + ["--settings", "1:0", "2:0", "--reference", "4:0", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("# python -m bench.clevr_render_cost ") and "Blender" in lines[1]
    rows = {line.split("|")[0].strip(): line.split("|") for line in lines if line.strip()[:2] in ("1:", "2:", "4:")}
    assert set(rows) == {"4:0", "1:0", "2:0"}
    assert rows["4:0"][4].strip() == "inf" and float(rows["1:0"][4]) < float(rows["2:0"][4])  # PSNR grows


@pytest.mark.slow
def test_the_heldout_only_stages_score_the_other_seed_alone(standin_assets, tmp_path):
    """prepare_heldout_only@ and baselines_heldout_only@ run as dvc.yaml writes their commands: the scenes of the
    held-out seed alone (clevr6_rendered has no second generator), every baseline scored on them under the names
    the report reads."""
    sha = {str(p.relative_to(standin_assets)): sha256_file(p) for p in standin_assets.rglob("*") if p.is_file()}
    values = {"assets_dir": str(standin_assets), "assets_sha256": sha, "python": _render_python()}
    params = {"data": {"clevr6_rendered": {**values, "render": {"samples": 1, "denoise": False}}}, "grabcut": {}}
    (tmp_path / "params.yaml").write_text(json.dumps(params))
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for stage in ("prepare_heldout_only", "baselines_heldout_only"):
        cmd = stages[stage]["do"]["cmd"].replace("${item}", "clevr6_rendered").replace("${profile}", "tiny").split()
        assert cmd[:2] == ["python", cmd[1]] and cmd[1].startswith("stages/")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, str(ROOT / cmd[1]), *cmd[2:]], cwd=tmp_path, env=env, check=True)
    prepared = tmp_path / "data/prepared"
    assert sorted(p.name for p in prepared.iterdir()) == ["clevr6_rendered-heldout"]
    n_heldout = Prepared.open(prepared / "clevr6_rendered-heldout").images.shape[0]
    for stem in ("grabcut", "colour", "colour_grabcut"):
        scores = json.loads((tmp_path / f"reports/metrics/{stem}_heldout_clevr6_rendered.json").read_text())
        assert list(scores["results"]) == ["clevr6_rendered-heldout/test"]
        assert scores["results"]["clevr6_rendered-heldout/test"]["n_images"] == n_heldout == 4  # tiny: heldout 4
