"""dvc.yaml lists exactly the code each stage runs (drc/stagedeps.py derives it from the imports;
`make deps` rewrites dvc.yaml after an import changes)."""

from __future__ import annotations

import pytest

from drc.stagedeps import ROOT, closure, fixed_dvc_yaml, script_of, stages, uncovered


def test_the_import_closure_follows_lazy_and_from_imports():
    files = {f.relative_to(ROOT).as_posix() for f in closure(ROOT / "stages/evaluate.py")}
    assert {"stages/evaluate.py", "drc/langevin.py", "drc/perf.py", "drc/checkpoint.py", "drc/config.py"} <= files
    assert "drc/data/real.py" not in files  # nothing the evaluate stage runs imports it
    prepare = {f.relative_to(ROOT).as_posix() for f in closure(ROOT / "stages/prepare.py")}
    assert "drc/data/real.py" in prepare  # imported inside main()


def test_a_stage_that_misses_a_module_is_caught():
    stage = {"cmd": "python stages/evaluate.py x", "deps": ["stages/evaluate.py", "drc/inference.py", "drc/model"]}
    missing, extra = uncovered(stage)
    assert "drc/langevin.py" in missing and "drc/checkpoint.py" in missing and extra == []


@pytest.mark.parametrize("name", sorted(stages()))
def test_each_stage_lists_exactly_the_code_it_runs(name: str):
    missing, extra = uncovered(stages()[name])
    assert not missing, f"dvc.yaml stage {name} runs but does not depend on: {missing}"
    assert not extra, f"dvc.yaml stage {name} depends on code it never runs: {extra}"


@pytest.mark.parametrize("name", sorted(stages()))
def test_a_stage_depends_on_cpu_isa_exactly_when_its_script_pins_it(name: str):
    pins = "pinned_params(" in script_of(stages()[name]).read_text()
    listed = "cpu_isa" in stages()[name].get("params", [])
    assert pins == listed, f"dvc.yaml stage {name}: its script {'pins' if pins else 'does not pin'} cpu_isa"


def test_dvc_yaml_is_what_make_deps_writes():
    text = (ROOT / "dvc.yaml").read_text()
    assert fixed_dvc_yaml(text) == text, "dvc.yaml's code deps differ from the imports: run `make deps`"
