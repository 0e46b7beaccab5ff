"""bench/mutants.py: mutmut's names, the list of equivalent mutants and the kill rate (no mutmut run)."""

from bench.mutants import function_of, read_equivalents, report


def test_mutant_names_are_read_as_functions():
    assert function_of("drc.training.xǁTrainerǁstep__mutmut_3") == "drc.training.Trainer.step"
    assert function_of("drc.metrics.x_as_bool__mutmut_12") == "drc.metrics.as_bool"
    assert function_of("drc.model.objective.x_tv_norm__mutmut_1") == "drc.model.objective.tv_norm"


def test_the_kill_rate_leaves_out_listed_equivalents_and_names_the_other_survivors(tmp_path, capsys):
    listed = tmp_path / "equivalent.md"
    listed.write_text(
        "# Equivalent mutants\n\n- `drc.m.f`: `y = x.to(None)`: the tests run on the CPU, the default device\n"
    )
    equivalents = read_equivalents(listed)
    assert equivalents == {("drc.m.f", "y = x.to(None)"): "the tests run on the CPU, the default device"}
    found = {"drc.m.x_f__mutmut_1": "killed", "drc.m.x_f__mutmut_2": "survived", "drc.m.x_f__mutmut_3": "no tests"}
    lines = {"drc.m.x_f__mutmut_2": "y = x.to(None)", "drc.m.x_f__mutmut_3": "y = None"}
    assert report(found, equivalents, lines.get) == ["no tests  drc.m.x_f__mutmut_3: `y = None`"]
    assert "kill rate: 1 / 2 = 50.0 % of the mutants that can change a result" in capsys.readouterr().out
