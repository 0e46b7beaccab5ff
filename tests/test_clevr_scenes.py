"""The CLEVR generator's scene rules (drc/data/clevr_scenes.py), without a renderer: placement, margins, the
cube's radius, retries, visibility, seeds."""

from __future__ import annotations

import ast
import json
import math
import sys
from pathlib import Path

import pytest

from drc.data import clevr_scenes as scenes

ROOT = Path(__file__).resolve().parents[1]
PROPS = scenes.Properties(
    shapes={"cube": "SmoothCube_v2", "sphere": "Sphere"},
    colors={"gray": (87, 87, 87), "red": (173, 35, 35)},
    materials={"rubber": "Rubber", "metal": "MyMetal"},
    sizes={"large": 0.7, "small": 0.35},
)
# Camera looking along +y: behind = +y, left = -x.
AXES = scenes.ground_directions(behind=(0.0, 2.0, -1.0), left=(-1.0, 0.0, 0.0))


class ScriptedRng:
    """Plays back the draws ``place_objects`` makes, in order: choice (size), uniform pairs (positions tried),
    choice (shape), choice (colour), random (rotation), choice (material)."""

    def __init__(self, *draws: object) -> None:
        self.draws = list(draws)

    def _next(self) -> object:
        return self.draws.pop(0)

    def choice(self, options: list[str]) -> str:
        value = self._next()
        assert value in options, (value, options)
        return value  # type: ignore[return-value]

    def uniform(self, low: float, high: float) -> float:
        return self._next()  # type: ignore[return-value]

    def random(self) -> float:
        return self._next()  # type: ignore[return-value]


def _object(size: str, *positions: tuple[float, float], shape: str = "sphere", turn: float = 0.25) -> list[object]:
    tries = [c for xy in positions for c in xy]
    return [size, *tries, shape, "red", turn, "rubber"]


def test_ground_directions_drop_the_camera_axes_onto_the_ground():
    assert AXES["behind"] == pytest.approx((0.0, 1.0)) and AXES["front"] == pytest.approx((0.0, -1.0))
    assert AXES["left"] == pytest.approx((-1.0, 0.0)) and AXES["right"] == pytest.approx((1.0, 0.0))
    diagonal = scenes.ground_directions(behind=(3.0, 3.0, -5.0), left=(-1.0, 1.0, 0.0))
    assert diagonal["behind"] == pytest.approx((math.sqrt(0.5), math.sqrt(0.5)))


def test_min_dist_then_margin_reject_positions_in_order():
    # Object 1 (large, r 0.7) at the origin. Object 2 (large) at (1.5, 0): gap 1.5 - 1.4 = 0.1 < min_dist 0.25.
    # At (2.0, 0.3): gap 0.62 is enough but it is 0.3 behind object 1, inside the 0.4 margin. (2.0, 0.5) passes.
    rng = ScriptedRng(*_object("large", (0.0, 0.0)), *_object("large", (1.5, 0.0), (2.0, 0.3), (2.0, 0.5)))
    placed = scenes.place_objects(rng, 2, scenes.SceneRules(), PROPS, AXES)  # type: ignore[arg-type]
    assert placed is not None and rng.draws == []
    assert [(o.x, o.y) for o in placed] == [(0.0, 0.0), (2.0, 0.5)]
    assert placed[1].rotation == 90.0 and placed[1].radius == 0.7


def test_an_object_exactly_level_with_another_breaks_no_margin():
    # dx = 0 along the left-right axis: 0 < 0 is false, as in the generator; gap 2.0 - 1.4 = 0.6 is enough.
    rng = ScriptedRng(*_object("large", (0.0, 0.0)), *_object("large", (0.0, 2.0)))
    placed = scenes.place_objects(rng, 2, scenes.SceneRules(), PROPS, AXES)  # type: ignore[arg-type]
    assert placed is not None and (placed[1].x, placed[1].y) == (0.0, 2.0)


def test_a_cube_is_checked_with_its_size_and_kept_with_size_over_root_two():
    # A large cube at the origin has radius 0.7 / sqrt(2) = 0.495 once placed. A small sphere (0.35) at 1.1:
    # gap 1.1 - 0.35 - 0.495 = 0.255 >= 0.25 passes (with the cube's full 0.7 it would be 0.05 and fail).
    cube = _object("large", (0.0, 0.0), shape="cube")
    rng = ScriptedRng(*cube, *_object("small", (1.1, 0.0)))
    placed = scenes.place_objects(rng, 2, scenes.SceneRules(), PROPS, AXES)  # type: ignore[arg-type]
    assert placed is not None and placed[0].radius == pytest.approx(0.7 / math.sqrt(2))
    assert (placed[1].x, placed[1].y) == (1.1, 0.0)
    # The new cube's own check uses the full size: a large cube at 1.6 next to a large sphere at the origin has
    # gap 1.6 - 0.7 - 0.7 = 0.2 < 0.25 and is moved, though 1.6 - 0.7 - 0.495 would pass.
    rng = ScriptedRng(*_object("large", (0.0, 0.0)), *_object("large", (1.6, 0.0), (2.5, 0.0), shape="cube"))
    placed = scenes.place_objects(rng, 2, scenes.SceneRules(), PROPS, AXES)  # type: ignore[arg-type]
    assert placed is not None and placed[1].x == 2.5


def test_after_max_retries_the_scene_is_placed_again():
    rules = scenes.SceneRules(max_retries=2)
    rng = ScriptedRng(*_object("large", (0.0, 0.0)), "large", 0.5, 0.0, 1.0, 0.0)
    assert scenes.place_objects(rng, 2, rules, PROPS, AXES) is None  # type: ignore[arg-type]
    assert rng.draws == []


def test_visibility_needs_the_background_and_every_object_on_enough_pixels():
    assert scenes.all_visible([5000, 250, 200], n_objects=2, min_pixels=200)
    assert not scenes.all_visible([5000, 250, 199], n_objects=2, min_pixels=200)
    assert not scenes.all_visible([5000, 250], n_objects=2, min_pixels=200)  # object 2 hidden behind object 1
    assert not scenes.all_visible([5000, 250, 300, 400], n_objects=2, min_pixels=200)  # a label no object has


def test_a_scene_is_a_function_of_its_seed_and_index():
    def draw(seed: int, index: int) -> list:
        rng = scenes.scene_rng(seed, index)
        return [
            rng.randint(3, 6),
            scenes.jitter(rng, 0.5),
            scenes.place_objects(rng, 4, scenes.SceneRules(), PROPS, AXES),
        ]

    assert draw(0, 7) == draw(0, 7)
    assert draw(0, 7) != draw(0, 8) and draw(0, 7) != draw(1, 7)
    rng = scenes.scene_rng(0, 0)
    offsets = [v for _ in range(300) for v in scenes.jitter(rng, 0.5)]
    assert max(offsets) <= 0.5 and min(offsets) >= -0.5 and max(offsets) > 0.49 and min(offsets) < -0.49
    assert scenes.jitter(rng, 0.0) == (0.0, 0.0, 0.0)


def test_scene_rules_reject_impossible_values():
    with pytest.raises(ValueError, match="max <= 10"):
        scenes.SceneRules(max_objects=11)
    with pytest.raises(ValueError, match="min_dist must be a number >= 0"):
        scenes.SceneRules(min_dist=-1.0)
    with pytest.raises(ValueError, match=r"rules: unknown setting\(s\) \['min_objets'\]"):
        scenes.SceneRules.from_mapping({"min_objets": 3})


def test_properties_are_read_and_coded():
    text = json.dumps(
        {"shapes": PROPS.shapes, "colors": PROPS.colors, "materials": PROPS.materials, "sizes": PROPS.sizes}
    )
    props = scenes.Properties.from_json(text)
    assert props == PROPS and props.code("colors", "red") == 2 and props.code("shapes", "cube") == 1
    with pytest.raises(ValueError, match="not the generator's properties.json"):
        scenes.Properties.from_json('{"shapes": {}}')
    with pytest.raises(ValueError, match="not the generator's properties.json"):
        scenes.Properties.from_json("<html>")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_render_worker_imports_nothing_of_the_project_environment():
    """It runs with bpy's numpy < 2: no torch, no other drc module (constraints-render.txt)."""
    stdlib = sys.stdlib_module_names
    worker = {m for m in _imports(ROOT / "drc/data/clevr_render.py") if m.split(".")[0] not in stdlib}
    assert worker == {"numpy", "bpy", "mathutils", "bpy_extras.object_utils", "drc.data.clevr_scenes"}
    rules = {m for m in _imports(ROOT / "drc/data/clevr_scenes.py") if m.split(".")[0] not in stdlib}
    assert rules == set()
