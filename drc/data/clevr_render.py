"""Render worker: CLEVR scenes with Blender's Python module from the CLEVR generator's assets.

It runs in the renderer's own environment (``.venv-render``, pinned by constraints-render.txt: bpy needs
numpy < 2, the project pins numpy 2) as ``python -m drc.data.clevr_render JOB.json``, started by
drc/data/clevr_rendered.py. It imports the standard library, numpy, bpy and drc.data.clevr_scenes only (a test
keeps it so): settings come in as a JSON job file, scenes go out as files.

Job: ``{"assets": dir in the generator's data/ layout, "seed": int, "scenes": [index, ...], "out": dir,
"rules": drc.data.clevr_scenes.SceneRules fields, "render": {"width", "height", "samples", "denoise"},
"threads": int}``. For each scene it writes ``out/scene_<index>.npz`` (atomically; a scene already there from
the same renderer is kept, so an interrupted job resumes): ``image`` H x W x 3 uint8, ``labels`` H x W uint8
(0 = background, the ground included; j = the j-th object), ``scene`` (JSON: objects, camera and lamp jitter,
placements tried, renderer, wall and CPU seconds, the worker's peak memory so far). Progress and errors go to
stderr; Blender's own render messages to stdout.

One scene, following the generator (drc/data/clevr_scenes.py has the rules): open the base scene, append the
two material node groups and the three shapes, jitter camera and lamps, place the objects, render their labels
flat (below) and place them again until every object is visible enough, then render with Cycles on the CPU.
The label render needs no colour guessing: each object gets an emission shader of value j / 255, lamps and
ground are hidden, the world is black, one sample at the pixel centre (a 0.01 px filter), no bounces, and the
"Raw" view transform writes j as the byte j. The generator's own visibility check renders flat colours the same
way; here that render is also the scene's masks.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from drc.data.clevr_scenes import (
    LAMPS,
    PlacedObject,
    Properties,
    SceneRules,
    all_visible,
    ground_directions,
    jitter,
    place_objects,
    scene_rng,
)

RENDERER_VERSION = 1  # bump whenever the same job would give other pixels or labels
BASE_OBJECTS = ("Camera", "Ground", *LAMPS)  # what the generator's base_scene.blend must hold


class AssetError(Exception):
    """An asset file lacks what the generator's files hold."""


def scene_file(out_dir: Path, index: int) -> Path:
    return Path(out_dir) / f"scene_{index:06d}.npz"


def recorded_renderer(path: Path) -> str | None:
    """The renderer that wrote a scene file; None when there is no readable file."""
    try:
        with np.load(path) as npz:
            return str(json.loads(str(npz["scene"]))["renderer"])
    except (OSError, ValueError, KeyError):
        return None


def renderer_id() -> str:
    import bpy

    return f"clevr_render {RENDERER_VERSION}, Blender {bpy.app.version_string}"


# -- the scene ---------------------------------------------------------------------------------------------
def open_base_scene(assets: Path, props: Properties) -> dict[str, Any]:
    """Open the base scene and append the material node groups and shape objects; returns the shape
    templates by shape name (not linked to the scene)."""
    import bpy

    bpy.ops.wm.open_mainfile(filepath=str(assets / "base_scene.blend"))
    missing = [name for name in BASE_OBJECTS if name not in bpy.data.objects]
    if missing:
        raise AssetError(f"base_scene.blend lacks the object(s) {missing}")
    for group in props.materials.values():
        _append(assets / "materials" / f"{group}.blend", "node_groups", group)
    return {shape: _append(assets / "shapes" / f"{obj}.blend", "objects", obj) for shape, obj in props.shapes.items()}


def _append(path: Path, kind: str, name: str) -> Any:
    import bpy

    if not path.is_file():
        raise AssetError(f"{path} does not exist")
    with bpy.data.libraries.load(str(path)) as (source, target):
        if name not in getattr(source, kind):
            raise AssetError(f"{path.name} holds no {kind[:-1].replace('_', ' ')} named {name!r}")
        setattr(target, kind, [name])
    return getattr(target, kind)[0]


def jitter_camera_and_lamps(rng: Any, rules: SceneRules) -> dict[str, list[float]]:
    import bpy

    offsets = {"Camera": jitter(rng, rules.camera_jitter)}
    magnitudes = (rules.key_light_jitter, rules.back_light_jitter, rules.fill_light_jitter)
    offsets |= {lamp: jitter(rng, magnitude) for lamp, magnitude in zip(LAMPS, magnitudes, strict=True)}
    for name, offset in offsets.items():
        obj = bpy.data.objects[name]
        obj.location = [a + b for a, b in zip(obj.location, offset, strict=True)]
    bpy.context.view_layer.update()  # the camera tracks a target: its axes follow its new position
    return {name: list(offset) for name, offset in offsets.items()}


def camera_directions() -> dict[str, tuple[float, float]]:
    import bpy
    from mathutils import Vector

    rotation = bpy.data.objects["Camera"].matrix_world.to_quaternion()
    behind, left = rotation @ Vector((0, 0, -1)), rotation @ Vector((-1, 0, 0))
    return ground_directions(tuple(behind), tuple(left))


def add_objects(placed: Sequence[PlacedObject], templates: Mapping[str, Any], props: Properties) -> list[Any]:
    """Link one object per placement, with its own material: the material's node group with its colour."""
    import bpy

    scene = bpy.context.scene
    objects = []
    for j, spec in enumerate(placed, start=1):
        template = templates[spec.shape]
        obj = template.copy()
        obj.data = template.data.copy()
        obj.name = f"{template.name}_{j}"
        obj.scale = (spec.radius,) * 3
        obj.location = (spec.x, spec.y, spec.radius)
        obj.rotation_euler = (0.0, 0.0, math.radians(spec.rotation))
        obj.data.materials.clear()
        obj.data.materials.append(_group_material(f"Material_{j}", props.materials[spec.material], spec.color, props))
        scene.collection.objects.link(obj)
        objects.append(obj)
    bpy.context.view_layer.update()
    return objects


def _group_material(name: str, group: str, color: str, props: Properties) -> Any:
    import bpy

    material = bpy.data.materials.new(name)
    nodes, links = material.node_tree.nodes, material.node_tree.links
    output = next(n for n in nodes if n.bl_idname == "ShaderNodeOutputMaterial")
    node = nodes.new("ShaderNodeGroup")
    node.node_tree = bpy.data.node_groups[group]
    node.inputs["Color"].default_value = (*(c / 255.0 for c in props.colors[color]), 1.0)
    links.new(node.outputs["Shader"], output.inputs["Surface"])
    return material


def _emission_material(name: str, value: float) -> Any:
    import bpy

    material = bpy.data.materials.new(name)
    nodes, links = material.node_tree.nodes, material.node_tree.links
    for node in [n for n in nodes if n.bl_idname != "ShaderNodeOutputMaterial"]:
        nodes.remove(node)
    output = nodes[0]
    emission = nodes.new("ShaderNodeEmission")
    emission.inputs["Color"].default_value = (value, value, value, 1.0)
    emission.inputs["Strength"].default_value = 1.0
    links.new(emission.outputs["Emission"], output.inputs["Surface"])
    return material


def remove_objects(objects: Sequence[Any]) -> None:
    import bpy

    for obj in objects:
        mesh, materials = obj.data, list(obj.data.materials)
        bpy.data.objects.remove(obj)
        bpy.data.meshes.remove(mesh)
        for material in materials:
            bpy.data.materials.remove(material)


# -- rendering ---------------------------------------------------------------------------------------------
def configure(render: Mapping[str, Any], threads: int, seed: int) -> None:
    """The generator's Cycles settings at this job's size and samples, on the CPU."""
    import bpy

    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.render.resolution_x, scene.render.resolution_y = int(render["width"]), int(render["height"])
    scene.render.resolution_percentage = 100
    scene.render.threads_mode, scene.render.threads = "FIXED", threads
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_depth = "8"
    scene.render.image_settings.color_mode = "RGB"
    cycles = scene.cycles
    cycles.device = "CPU"
    cycles.samples = int(render["samples"])
    cycles.use_adaptive_sampling = False  # every pixel gets the same samples: the cost does not depend on noise
    cycles.use_denoising = bool(render["denoise"])
    cycles.seed, cycles.use_animated_seed = seed, False
    cycles.blur_glossy = 2.0  # the generator's
    cycles.transparent_max_bounces = 8  # the generator's


@contextlib.contextmanager
def flat_label_settings(objects: Sequence[Any]) -> Iterator[None]:
    """Within the block, a render writes each pixel's label as its grey value (see the module docstring);
    everything is put back afterwards."""
    import bpy

    scene = bpy.context.scene
    hidden = [bpy.data.objects[name] for name in ("Ground", *LAMPS)] + [
        o for o in scene.objects if o.type == "LIGHT" and o.name not in LAMPS
    ]
    background = next(n for n in scene.world.node_tree.nodes if n.bl_idname == "ShaderNodeBackground")
    saved = {
        (scene.cycles, "samples"): scene.cycles.samples,
        (scene.cycles, "use_denoising"): scene.cycles.use_denoising,
        (scene.cycles, "filter_width"): scene.cycles.filter_width,
        (scene.cycles, "max_bounces"): scene.cycles.max_bounces,
        (scene.view_settings, "view_transform"): scene.view_settings.view_transform,
        (scene.view_settings, "look"): scene.view_settings.look,
        (scene.view_settings, "exposure"): scene.view_settings.exposure,
        (scene.view_settings, "gamma"): scene.view_settings.gamma,
        (scene.render, "dither_intensity"): scene.render.dither_intensity,
        (scene.render.image_settings, "color_mode"): scene.render.image_settings.color_mode,
        (background.inputs["Strength"], "default_value"): background.inputs["Strength"].default_value,
    }
    saved |= {(obj, "hide_render"): obj.hide_render for obj in hidden}
    materials = [obj.data.materials[0] for obj in objects]
    flat = [_emission_material(f"Label_{j}", j / 255.0) for j in range(1, len(objects) + 1)]
    try:
        for (owner, attribute), value in {
            (scene.cycles, "samples"): 1,
            (scene.cycles, "use_denoising"): False,
            (scene.cycles, "filter_width"): 0.01,
            (scene.cycles, "max_bounces"): 0,
            (scene.view_settings, "view_transform"): "Raw",
            (scene.view_settings, "look"): "None",
            (scene.view_settings, "exposure"): 0.0,
            (scene.view_settings, "gamma"): 1.0,
            (scene.render, "dither_intensity"): 0.0,
            (scene.render.image_settings, "color_mode"): "BW",
            (background.inputs["Strength"], "default_value"): 0.0,
        }.items():
            setattr(owner, attribute, value)
        for obj in hidden:
            obj.hide_render = True
        for obj, material in zip(objects, flat, strict=True):
            obj.data.materials[0] = material
        yield
    finally:
        for (owner, attribute), value in saved.items():
            setattr(owner, attribute, value)
        for obj, material in zip(objects, materials, strict=True):
            obj.data.materials[0] = material
        for material in flat:
            bpy.data.materials.remove(material)


def render_to_array(work_dir: Path, name: str) -> np.ndarray:
    """Render the scene to ``work_dir/name.png`` and read it back: H x W x 4 uint8, top row first."""
    import bpy

    scene = bpy.context.scene
    path = work_dir / f"{name}.png"
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    image = bpy.data.images.load(str(path))
    try:
        width, height = image.size
        pixels = np.empty(width * height * 4, np.float32)
        image.pixels.foreach_get(pixels)
    finally:
        bpy.data.images.remove(image)
    path.unlink()
    return np.rint(pixels.reshape(height, width, 4)[::-1] * 255.0).astype(np.uint8)


def pixel_coords(obj: Any) -> list[float]:
    """The generator's pixel coordinates of an object's centre: (x, y from the top, depth in [-1, 1])."""
    import bpy
    from bpy_extras.object_utils import world_to_camera_view

    scene = bpy.context.scene
    x, y, z = world_to_camera_view(scene, bpy.data.objects["Camera"], obj.location)
    width, height = scene.render.resolution_x, scene.render.resolution_y
    return [float(round(x * width)), float(round(height - y * height)), float(z)]


def render_scene(job: Mapping[str, Any], index: int, work_dir: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """Scene ``index`` of the job: (image H x W x 3, labels H x W, its record)."""
    rules = SceneRules.from_mapping(job["rules"])
    assets = Path(job["assets"])
    props = Properties.from_json((assets / "properties.json").read_text())
    rng = scene_rng(int(job["seed"]), index)
    n_objects = rng.randint(rules.min_objects, rules.max_objects)
    cycles_seed = rng.getrandbits(31)
    templates = open_base_scene(assets, props)
    configure(job["render"], int(job["threads"]), cycles_seed)
    offsets = jitter_camera_and_lamps(rng, rules)
    directions = camera_directions()
    attempts = 0
    while True:
        attempts += 1
        if attempts > rules.max_scene_attempts:
            raise AssetError(
                f"scene {index}: no placement of {n_objects} objects showed each of them on "
                f"{rules.min_pixels_per_object} pixels in {rules.max_scene_attempts} attempts; lower "
                "rules.min_pixels_per_object or rules.max_objects"
            )
        placed = place_objects(rng, n_objects, rules, props, directions)
        if placed is None:
            continue
        objects = add_objects(placed, templates, props)
        with flat_label_settings(objects):
            labels = render_to_array(work_dir, "labels")[..., 0]
        if all_visible(np.bincount(labels.ravel()).tolist(), n_objects, rules.min_pixels_per_object):
            break
        remove_objects(objects)
    image = render_to_array(work_dir, "image")[..., :3]
    record = {
        "index": index,
        "seed": int(job["seed"]),
        "objects": [
            {**vars(spec), "z": spec.radius, "pixel_coords": pixel_coords(obj)}
            for spec, obj in zip(placed, objects, strict=True)
        ],
        "jitter": offsets,
        "cycles_seed": cycles_seed,
        "attempts": attempts,
    }
    return image, labels, record


def save_scene(path: Path, image: np.ndarray, labels: np.ndarray, record: Mapping[str, Any]) -> None:
    """Write one scene file atomically (a temporary sibling renamed onto ``path``)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".npz.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, image=image, labels=labels, scene=np.array(json.dumps(record)))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def run(job: Mapping[str, Any]) -> None:
    out = Path(job["out"])
    out.mkdir(parents=True, exist_ok=True)
    renderer = renderer_id()
    with tempfile.TemporaryDirectory(prefix="clevr_render.") as work:
        for index in job["scenes"]:
            path = scene_file(out, int(index))
            if recorded_renderer(path) == renderer:
                continue
            start, start_cpu = time.perf_counter(), time.process_time()
            image, labels, record = render_scene(job, int(index), Path(work))
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
            record |= {
                "renderer": renderer,
                "seconds": round(seconds, 3),
                "cpu_seconds": round(cpu_seconds, 3),
                "peak_rss_mb": round(peak_mb, 1),
            }
            save_scene(path, image, labels, record)
            print(f"scene {index}: {seconds:.2f} s ({cpu_seconds:.2f} s of CPU)", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    # Stopped by the dataset's process (its run was interrupted): leave through the finally blocks, which
    # remove the half-written scene file and the work folder.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m drc.data.clevr_render JOB.json", file=sys.stderr)
        return 2
    try:
        run(json.loads(Path(args[0]).read_text()))
    except (AssetError, ValueError, OSError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
