"""dvc.yaml's code dependencies, derived from the imports: each stage depends on its script and every project
module the script imports, transitively (inside functions too, so a lazy import counts).

A module a stage imports but does not list lets its results go stale when that module changes; a module it
lists but never imports re-runs it for edits that cannot change its outputs. A package's ``__init__.py``
counts only where it is imported itself (``from drc import __version__``).

    python -m drc.stagedeps      # (make deps) rewrite dvc.yaml's code deps from the imports, comments kept

tests/test_stage_deps.py checks that dvc.yaml is what this would write.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]  # the project: drc/ and stages/ sit here
PACKAGES = ("drc",)
CODE_DIRS = ("drc/", "stages/")  # deps under these are code; the rest is data, models and reports


def module_file(name: str) -> Path | None:
    """The project file of a dotted module name (None for third-party modules)."""
    if name.split(".")[0] not in PACKAGES:
        return None
    base = ROOT.joinpath(*name.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def imported_files(path: Path) -> set[Path]:
    """Project files that ``path`` imports directly (``from pkg import sub`` imports pkg/sub.py)."""
    found: set[Path] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [n if module_file(n) and module_file(n).name != "__init__.py" else node.module for n in names]
        else:
            continue
        found.update(f for f in map(module_file, names) if f is not None)
    return found


def closure(script: Path) -> set[Path]:
    """``script`` and every project file it imports, transitively."""
    seen, todo = set(), [script]
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo.extend(imported_files(path))
    return seen


def stages() -> dict[str, dict]:
    """dvc.yaml's stages by name, foreach stages by their template (``${item}`` left in)."""
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return {name: stage.get("do", stage) for name, stage in spec.items()}


def script_of(stage: dict) -> Path:
    match = re.search(r"python (stages/\w+\.py)", stage["cmd"])
    assert match, f"stage command {stage['cmd']!r} runs no stage script"
    return ROOT / match.group(1)


def code_deps(stage: dict) -> list[str]:
    return [d for d in stage.get("deps", []) if d.startswith(CODE_DIRS) and not d.startswith("drc/profiles/")]


def covered(path: Path, deps: list[str]) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in deps)


def uncovered(stage: dict) -> tuple[list[str], list[str]]:
    """(files the stage runs that it does not list, listed code deps it does not run)."""
    files = closure(script_of(stage))
    deps = code_deps(stage)
    missing = sorted(f.relative_to(ROOT).as_posix() for f in files if not covered(f, deps))
    extra = sorted(d for d in deps if not any(covered(f, [d]) for f in files))
    return missing, extra


def fixed_dvc_yaml(text: str) -> str:
    """dvc.yaml with each stage's code deps replaced by the ones its script runs (comments kept)."""
    out, stage, skipping = [], None, False
    specs = stages()
    for line in text.splitlines(keepends=True):
        name = re.match(r"^  (\w+):\s*$", line)
        if name:
            stage = name.group(1)
        dep = re.match(r"^(\s*)- ((?:stages|drc)/\S+)\s*$", line)
        if dep and stage in specs and not dep.group(2).startswith("drc/profiles/"):
            if not skipping:
                indent = dep.group(1)
                files = sorted(f.relative_to(ROOT).as_posix() for f in closure(script_of(specs[stage])))
                files = [f for f in files if f.startswith("stages/")] + [f for f in files if f.startswith("drc/")]
                out += [f"{indent}- {f}\n" for f in files]
            skipping = True
            continue
        skipping = False
        out.append(line)
    return "".join(out)


def main() -> None:
    path = ROOT / "dvc.yaml"
    path.write_text(fixed_dvc_yaml(path.read_text()))
    print(f"rewrote the code deps of {path}")


if __name__ == "__main__":
    main()
