"""params.yaml's cpu_isa: torch's CPU kernels limited to one instruction set (drc/cpu_isa.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from drc import cpu_isa
from drc.errors import DRCError
from tests.helpers import ISA_VARIABLES as VARIABLES

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No pin in the environment; monkeypatch puts the caller's variables back afterwards."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def has_avx2() -> bool:
    cpuinfo = Path("/proc/cpuinfo")
    return cpuinfo.is_file() and " avx2 " in cpuinfo.read_text().replace("\n", " ")


def test_null_leaves_the_kernels_and_the_environment_alone(clean_env):
    cpu_isa.pin_cpu_isa(None)
    assert not any(name in os.environ for name in VARIABLES)


def test_an_unknown_instruction_set_names_the_choices(clean_env):
    with pytest.raises(DRCError, match="cpu_isa must be one of avx2 or null, got 'avx9'"):
        cpu_isa.pin_cpu_isa("avx9")
    assert not any(name in os.environ for name in VARIABLES)


def test_the_pin_sets_each_librarys_variable(clean_env):
    clean_env.setattr(cpu_isa, "cpu_capability", lambda: "AVX2")
    cpu_isa.pin_cpu_isa("avx2")
    assert {name: os.environ[name] for name in VARIABLES} == {
        "ATEN_CPU_CAPABILITY": "avx2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
    }


def test_kernels_other_than_the_pinned_ones_are_an_error_that_names_the_fix(clean_env):
    # What a pin after the process's first kernel sees on an AVX-512 CPU, or a CPU without AVX2.
    clean_env.setattr(cpu_isa, "cpu_capability", lambda: "AVX512")
    clean_env.setenv("MKL_ENABLE_INSTRUCTIONS", "SSE4_2")  # the caller's own setting
    with pytest.raises(DRCError, match="use AVX512, not AVX2.*set cpu_isa: null in params.yaml"):
        cpu_isa.pin_cpu_isa("avx2")
    assert {name: os.environ.get(name) for name in VARIABLES} == {
        "ATEN_CPU_CAPABILITY": None,
        "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
        "ONEDNN_MAX_CPU_ISA": None,
    }  # as the caller left it


@pytest.mark.skipif(not has_avx2(), reason="the CPU has no AVX2")
def test_a_process_pinned_before_its_first_kernel_runs_the_pinned_kernels():
    code = (
        "import os, torch\n"
        "from drc.cpu_isa import pin_cpu_isa, cpu_capability\n"
        "pin_cpu_isa('avx2')\n"
        "torch.nn.functional.conv2d(torch.randn(1, 3, 8, 8), torch.randn(4, 3, 3, 3)).sum().item()\n"
        "print(cpu_capability())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "AVX2"


def test_a_rerun_pins_the_recorded_kernels_where_they_can_be_pinned(clean_env, capsys):
    clean_env.setattr(cpu_isa, "cpu_capability", lambda: "AVX2")
    for recorded in (None, "AVX2"):  # older files record none
        cpu_isa.pin_as_recorded(recorded)
        assert capsys.readouterr().err == ""
    assert os.environ["ATEN_CPU_CAPABILITY"] == "avx2"


@pytest.mark.parametrize("recorded", ["AVX512", "DEFAULT"])
def test_a_rerun_with_kernels_that_cannot_be_pinned_goes_on_and_says_so(clean_env, capsys, recorded):
    clean_env.setattr(cpu_isa, "cpu_capability", lambda: "AVX2")
    cpu_isa.pin_as_recorded(recorded)
    assert f"computed with {recorded} kernels, this process runs AVX2 ones" in capsys.readouterr().err
    assert not any(name in os.environ for name in VARIABLES)


def test_a_rerun_on_a_cpu_that_cannot_run_the_recorded_kernels_goes_on_and_says_so(clean_env, capsys):
    clean_env.setattr(cpu_isa, "cpu_capability", lambda: "DEFAULT")  # no AVX2 (say, an ARM CPU)
    cpu_isa.pin_as_recorded("AVX2")
    assert "computed with AVX2 kernels, this process runs DEFAULT ones" in capsys.readouterr().err
    assert not any(name in os.environ for name in VARIABLES)


def test_a_stage_reads_params_and_pins_their_kernels(clean_env, tmp_path):
    clean_env.setattr(cpu_isa, "cpu_capability", lambda: "AVX2")
    (tmp_path / "params.yaml").write_text("cpu_isa: avx2\nthreads: 2\n")
    assert cpu_isa.pinned_params(tmp_path / "params.yaml") == {"cpu_isa": "avx2", "threads": 2}
    assert os.environ["ONEDNN_MAX_CPU_ISA"] == "AVX2"


class Pinned(BaseException):
    """Raised in place of the pin: what the benchmark ran before it is all it ran."""


@pytest.mark.parametrize("argv", [["score", "missing"], ["train", "x"]])
def test_the_quality_probe_pins_the_stages_kernels_before_it_computes(argv, monkeypatch):
    """The probe trains and scores as the pipeline does: it pins params.yaml's cpu_isa first, so a score it
    prints is the one the pipeline's kernels give on any CPU with AVX2."""
    from bench import probe

    def pin() -> None:
        raise Pinned

    monkeypatch.setattr(probe, "pinned_params", pin)
    with pytest.raises(Pinned):  # before the checkpoint is opened (it does not exist) or data is drawn
        probe.main(argv)
