"""The CLEVR generator's scene rules, written anew: how many objects a scene holds, which ones, and where.

The rules and their default values are those of the CLEVR generator (github.com/facebookresearch/clevr-dataset-gen,
``image_generation/render_images.py``, BSD licence; docs/datasets.md): per scene, a uniform number of objects,
camera and lamps jittered uniformly per axis; per object, in this order, a size, a position uniform on the
ground square (tried again until its bounding circle keeps ``min_dist`` from every other one and it is at least
``margin`` from each of them along the camera's left-right and front-behind axes, all objects placed again
after ``max_retries`` failed tries), a shape and a colour, a rotation about the vertical, a material. As in the
generator, a cube's radius is its size / sqrt(2), applied after its position was checked with the full size.
A scene in which any object shows fewer than ``min_pixels_per_object`` pixels is placed again.

This module is pure Python (the standard library only): the render worker (drc/data/clevr_render.py, run in
the renderer's own environment) and the tests both import it. Every draw comes from one ``random.Random`` per
scene, seeded from (dataset seed, scene index), so any scene can be drawn, and rendered, alone.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

MAX_ENTITIES = 11  # DeepMind's clevr_with_masks: the background and at most 10 objects
CUBE = "cube"  # the shape whose radius the generator divides by sqrt(2)
LAMPS = ("Lamp_Key", "Lamp_Back", "Lamp_Fill")  # jittered in this order, as the generator does

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class SceneRules:
    """What goes into a scene (data.clevr6_rendered.rules); defaults are the generator's but for the object
    count, CLEVR6's 3 to 6 (the generator's default is 3 to 10). Lengths are in the base scene's units."""

    min_objects: int = 3  # objects per scene, uniform in [min, max]
    max_objects: int = 6
    min_dist: float = 0.25  # least gap between the bounding circles of two objects
    margin: float = 0.4  # least distance between two objects along each cardinal direction of the ground
    min_pixels_per_object: int = 200  # at 320 x 240; a scene with a less visible object is placed again
    max_retries: int = 50  # tries to place one object before all of the scene's objects are placed again
    position_range: float = 3.0  # object centres uniform in [-range, range]^2 on the ground
    camera_jitter: float = 0.5  # camera position + uniform(-j, j) on each axis
    key_light_jitter: float = 1.0  # the same for each lamp
    back_light_jitter: float = 1.0
    fill_light_jitter: float = 1.0
    max_scene_attempts: int = 1000  # placements of one scene that fail the visibility rule before an error

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"rules.{f.name} must be a number >= 0, got {value!r}")
        if not 1 <= self.min_objects <= self.max_objects <= MAX_ENTITIES - 1:
            raise ValueError(
                f"rules.min_objects and rules.max_objects must satisfy 1 <= min <= max <= {MAX_ENTITIES - 1} "
                f"(clevr_with_masks holds 10 objects), got {self.min_objects} and {self.max_objects}"
            )
        if self.max_retries < 1 or self.max_scene_attempts < 1:
            raise ValueError("rules.max_retries and rules.max_scene_attempts must be >= 1")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SceneRules:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"rules: unknown setting(s) {unknown}; known: {', '.join(sorted(known))}")
        return cls(**values)


@dataclass(frozen=True)
class Properties:
    """The generator's ``properties.json``: the name of each shape, colour, material and size, and what it is
    in the assets (a shape's .blend file and object, a material's node group, an RGB colour, a radius)."""

    shapes: dict[str, str]  # cube -> SmoothCube_v2 (shapes/SmoothCube_v2.blend holds object SmoothCube_v2)
    colors: dict[str, tuple[int, int, int]]  # gray -> (87, 87, 87)
    materials: dict[str, str]  # rubber -> Rubber (materials/Rubber.blend holds node group Rubber)
    sizes: dict[str, float]  # large -> 0.7

    @classmethod
    def from_json(cls, text: str) -> Properties:
        """Parse and check ``properties.json``; a ValueError names what is wrong."""
        try:
            raw = json.loads(text)
            props = cls(
                shapes={str(k): str(v) for k, v in raw["shapes"].items()},
                colors={str(k): (int(v[0]), int(v[1]), int(v[2])) for k, v in raw["colors"].items()},
                materials={str(k): str(v) for k, v in raw["materials"].items()},
                sizes={str(k): float(v) for k, v in raw["sizes"].items()},
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
            raise ValueError(f"not the generator's properties.json ({type(exc).__name__}: {exc})") from exc
        for name in ("shapes", "colors", "materials", "sizes"):
            if not getattr(props, name):
                raise ValueError(f"not the generator's properties.json (no {name})")
        return props

    def code(self, attribute: str, name: str) -> int:
        """The one-byte code of a value in a clevr_with_masks record: 1 + its position in properties.json
        (0 = no object). DeepMind does not document its own codes."""
        return 1 + list(getattr(self, attribute)).index(name)


@dataclass(frozen=True)
class PlacedObject:
    """One object of a scene, as drawn (names are properties.json's)."""

    shape: str
    size: str
    material: str
    color: str
    x: float  # centre on the ground plane
    y: float
    radius: float  # half its extent: the size's radius, / sqrt(2) for a cube; it rests at height = radius
    rotation: float  # degrees about the vertical, uniform in [0, 360)


def scene_rng(seed: int, index: int) -> random.Random:
    """The random stream of scene ``index`` of the set drawn with ``seed`` (stable across Python versions)."""
    return random.Random(f"clevr-scene/{seed}/{index}")


def jitter(rng: random.Random, magnitude: float) -> Vec3:
    """An offset uniform in [-magnitude, magnitude] on each axis (nothing drawn when magnitude is 0, as in the
    generator)."""
    if magnitude <= 0:
        return (0.0, 0.0, 0.0)
    x, y, z = (2.0 * magnitude * (rng.random() - 0.5) for _ in range(3))
    return (x, y, z)


def ground_directions(behind: Vec3, left: Vec3) -> dict[str, tuple[float, float]]:
    """The four cardinal directions on the ground: the camera's viewing direction (``behind``, into the scene)
    and its left axis, in world coordinates, each dropped onto the ground plane and normalised."""

    def flat(v: Vec3) -> tuple[float, float]:
        norm = math.hypot(v[0], v[1])
        if norm == 0:
            raise ValueError(f"camera axis {v} is vertical: no direction on the ground")
        return (v[0] / norm, v[1] / norm)

    back, side = flat(behind), flat(left)
    return {
        "behind": back,
        "front": (-back[0], -back[1]),
        "left": side,
        "right": (-side[0], -side[1]),
    }


def _position_ok(
    x: float,
    y: float,
    radius: float,
    placed: Sequence[PlacedObject],
    rules: SceneRules,
    directions: Mapping[str, tuple[float, float]],
) -> bool:
    for other in placed:
        dx, dy = x - other.x, y - other.y
        if math.hypot(dx, dy) - radius - other.radius < rules.min_dist:
            return False
        for name in ("left", "right", "front", "behind"):
            along = dx * directions[name][0] + dy * directions[name][1]
            if 0 < along < rules.margin:
                return False
    return True


def place_objects(
    rng: random.Random,
    n_objects: int,
    rules: SceneRules,
    props: Properties,
    directions: Mapping[str, tuple[float, float]],
) -> list[PlacedObject] | None:
    """Draw ``n_objects`` objects by the generator's rules; None when one of them found no free position in
    ``rules.max_retries`` tries (the caller then places all of them again, as the generator does)."""
    placed: list[PlacedObject] = []
    sizes, shapes, colors, materials = (list(d) for d in (props.sizes, props.shapes, props.colors, props.materials))
    span = rules.position_range
    for _ in range(n_objects):
        size = rng.choice(sizes)
        radius = props.sizes[size]
        for _try in range(rules.max_retries):
            x, y = rng.uniform(-span, span), rng.uniform(-span, span)
            if _position_ok(x, y, radius, placed, rules, directions):
                break
        else:
            return None
        shape, color = rng.choice(shapes), rng.choice(colors)
        if shape == CUBE:
            radius /= math.sqrt(2)
        rotation = 360.0 * rng.random()
        material = rng.choice(materials)
        placed.append(PlacedObject(shape, size, material, color, x, y, radius, rotation))
    return placed


def all_visible(pixel_counts: Sequence[int], n_objects: int, min_pixels: int) -> bool:
    """The generator's visibility rule on a flat render's label counts (index 0 = background, j = object j):
    the background and every object are seen, each on at least ``min_pixels`` pixels."""
    counts = list(pixel_counts) + [0] * (n_objects + 1 - len(pixel_counts))
    return len(counts) == n_objects + 1 and all(c >= min_pixels for c in counts)
