"""Small stand-ins for the CLEVR generator's assets, built with bpy itself (tests must not need the real files):
a base scene with the generator's object names (a camera tracking the origin, three lamps, a ground plane, a
world), three shape files each holding one object of unit half-size under the generator's name, two material
files each holding a node group with a ``Color`` input and a ``Shader`` output, and a properties.json.

Run in the renderer's environment: ``.venv-render/bin/python tests/clevr_standin_assets.py OUT_DIR``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import bpy

SHAPES = {"cube": "SmoothCube_v2", "sphere": "Sphere", "cylinder": "SmoothCylinder"}
MATERIALS = {"rubber": "Rubber", "metal": "MyMetal"}
PROPERTIES = {
    "shapes": SHAPES,
    "colors": {"gray": [87, 87, 87], "red": [173, 35, 35], "blue": [42, 75, 215], "yellow": [255, 238, 51]},
    "materials": MATERIALS,
    "sizes": {"large": 0.7, "small": 0.35},
}


def base_scene(path: Path) -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    target = bpy.data.objects.new("Empty", None)
    scene.collection.objects.link(target)
    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    camera.location = (7.5, -6.5, 5.3)
    lamps = {"Lamp_Key": (6.4, -2.9, 4.3), "Lamp_Back": (-1.2, 2.6, 5.8), "Lamp_Fill": (-4.7, -4.0, 3.0)}
    tracked = [camera]
    for name, location in lamps.items():
        lamp = bpy.data.objects.new(name, bpy.data.lights.new(name, "AREA"))
        lamp.data.energy, lamp.location = 60.0, location
        tracked.append(lamp)
    for obj in tracked:
        constraint = obj.constraints.new("TRACK_TO")
        constraint.target, constraint.track_axis, constraint.up_axis = target, "TRACK_NEGATIVE_Z", "UP_Y"
        scene.collection.objects.link(obj)
    scene.camera = camera
    ground = bpy.data.meshes.new("Ground")
    ground.from_pydata([(-40, -40, 0), (40, -40, 0), (40, 40, 0), (-40, 40, 0)], [], [(0, 1, 2, 3)])
    scene.collection.objects.link(bpy.data.objects.new("Ground", ground))
    world = bpy.data.worlds.new("World")
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.3
    scene.world = world
    scene.render.engine = "CYCLES"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))


def shape(path: Path, name: str, kind: str) -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    if kind == "cube":
        bpy.ops.mesh.primitive_cube_add(size=2.0)
    elif kind == "sphere":
        bpy.ops.mesh.primitive_uv_sphere_add(radius=1.0, segments=16, ring_count=8)
    else:
        bpy.ops.mesh.primitive_cylinder_add(radius=1.0, depth=2.0, vertices=16)
    obj = bpy.context.object
    obj.name = name
    bpy.data.libraries.write(str(path), {obj}, fake_user=True)


def material(path: Path, name: str) -> None:
    group = bpy.data.node_groups.new(name, "ShaderNodeTree")
    group.interface.new_socket("Shader", in_out="OUTPUT", socket_type="NodeSocketShader")
    group.interface.new_socket("Color", in_out="INPUT", socket_type="NodeSocketColor")
    inputs, outputs = group.nodes.new("NodeGroupInput"), group.nodes.new("NodeGroupOutput")
    shader = group.nodes.new("ShaderNodeBsdfDiffuse")
    group.links.new(inputs.outputs["Color"], shader.inputs["Color"])
    group.links.new(shader.outputs["BSDF"], outputs.inputs["Shader"])
    bpy.data.libraries.write(str(path), {group}, fake_user=True)


def main(out: Path) -> None:
    (out / "shapes").mkdir(parents=True, exist_ok=True)
    (out / "materials").mkdir(exist_ok=True)
    base_scene(out / "base_scene.blend")
    for kind, name in SHAPES.items():
        shape(out / "shapes" / f"{name}.blend", name, kind)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    for name in MATERIALS.values():
        material(out / "materials" / f"{name}.blend", name)
    (out / "properties.json").write_text(json.dumps(PROPERTIES, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
