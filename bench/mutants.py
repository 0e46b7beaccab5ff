"""`make mutants`: mutation testing of the method's core with mutmut (a benchmark, not part of `make test`).

A mutant is one small change to one function of the core: a sign, an operator, a constant plus one, an
argument dropped or set to None, a string changed. The fast core tests must fail on each ("killed").
Prints the kill rate, per function and in all, and every surviving mutant that is not listed, with the
reason it cannot change a result, in bench/mutants_equivalent.md; exits non-zero if there is one.

    python -m bench.mutants                      # the whole scope, one worker
    python -m bench.mutants 'drc.metrics.*'      # only the mutants whose names match (mutmut's names)
    python -m bench.mutants --report             # the last run's table again, without running

The scope (``SCOPE``) is the method: drc/model/ (objective.py, drc.py, networks.py), the Langevin sampler,
the per-image scores and the training step; not the trainer's checkpointing, logging and set-up, nor the
scores at another resolution (the read-out's). Which files mutmut mutates and which tests it runs (the fast
tests of the core) are pyproject.toml's ``[tool.mutmut]``.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKDIR = ROOT / "mutants"  # mutmut's own output folder (git-ignored), rebuilt by every run
EQUIVALENT = Path(__file__).with_name("mutants_equivalent.md")

SCOPE = (
    "drc.model.objective.*",
    "drc.model.drc.*",
    "drc.model.networks.*",
    "drc.langevin.*",
    *(f"drc.metrics.x_{f}__mutmut_*" for f in ("as_bool", "per_image_scores", "summarize", "score_masks")),
    *(f"drc.training.x_{f}__mutmut_*" for f in ("batch_indices", "lr_factor", "check_finite")),
    *(f"drc.training.xǁTrainerǁ{m}__mutmut_*" for m in ("step", "generator_loss", "ortho_term", "loss_weights")),
)
DETECTED = ("killed", "timeout", "segfault")  # a test failed, hung or crashed on the mutant
EQUIVALENT_LINE = re.compile(r"^- `(?P<function>[^`]+)`: `(?P<line>.+)`: (?P<why>.+)$")


def function_of(mutant: str) -> str:
    """``drc.training.xǁTrainerǁstep__mutmut_3`` -> ``drc.training.Trainer.step``."""
    module, _, generated = mutant.rpartition(".")
    name = re.sub(r"__mutmut_\d+$", "", generated)  # x_function or xǁClassǁmethod
    if name.startswith("xǁ"):
        return f"{module}.{name[2:].replace('ǁ', '.')}"
    return f"{module}.{name.removeprefix('x_')}"


def statuses(patterns: tuple[str, ...]) -> dict[str, str]:
    """Every mutant of the last run that matches ``patterns``, and what the tests did with it."""
    from mutmut.stats import status_by_exit_code

    found = {}
    for meta in WORKDIR.rglob("*.py.meta"):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if any(fnmatch.fnmatch(name, p) for p in patterns):
                found[name] = status_by_exit_code[code]
    return found


def mutated_line(mutant: str) -> str:
    """The lines the mutant changes, as they read after the change (from mutmut's diff)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    diff = get_diff_for_mutant(mutant)
    return " / ".join(line[1:].strip() for line in diff.splitlines() if line.startswith("+") and line[:3] != "+++")


def read_equivalents(path: Path = EQUIVALENT) -> dict[tuple[str, str], str]:
    """(function, mutated line) -> why that mutant cannot change a result, from bench/mutants_equivalent.md."""
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        match = EQUIVALENT_LINE.match(line)
        if match:
            out[match["function"], match["line"]] = match["why"]
    return out


def run_mutmut(patterns: tuple[str, ...]) -> float:
    """One fresh mutmut run over ``patterns`` with one worker on one thread; returns its wall time (s)."""
    if WORKDIR.exists():  # mutmut reuses unmutated files it copied before: a stale copy would be tested
        shutil.rmtree(WORKDIR)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    start = time.perf_counter()
    mutmut = Path(sys.executable).with_name("mutmut")  # its script: `python -m mutmut` would import it twice
    subprocess.run([str(mutmut), "run", "--max-children", "1", *patterns], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - start


def report(
    found: dict[str, str],
    equivalents: dict[tuple[str, str], str],
    line_of: Callable[[str], str] = mutated_line,
) -> list[str]:
    """Prints the table of kill rates; returns the surviving mutants that are not listed as equivalent."""
    rows: dict[str, Counter] = {}
    unexplained = []
    for name in sorted(found):
        status, function = found[name], function_of(name)
        counts = rows.setdefault(function, Counter())
        counts["mutants"] += 1
        if status in DETECTED:
            counts["killed"] += 1
            continue
        line = line_of(name)
        if (function, line) in equivalents:
            counts["equivalent"] += 1
        else:
            counts["survived"] += 1
            unexplained.append(f"{status:9s} {name}: `{line}`")
    total = sum(rows.values(), Counter())
    print(f"\n{'function':45s} {'mutants':>8s} {'killed':>7s} {'equiv.':>7s} {'survived':>9s}")
    for function, c in [*rows.items(), ("all", total)]:
        print(f"{function:45s} {c['mutants']:8d} {c['killed']:7d} {c['equivalent']:7d} {c['survived']:9d}")
    killable = total["mutants"] - total["equivalent"]
    print(
        f"\nkill rate: {total['killed']} / {killable} = {100 * total['killed'] / max(killable, 1):.1f} % of the "
        f"mutants that can change a result ({total['killed']} / {total['mutants']} = "
        f"{100 * total['killed'] / max(total['mutants'], 1):.1f} % of all; {total['equivalent']} equivalent)"
    )
    return unexplained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("patterns", nargs="*", help="mutmut's mutant names, with wildcards (default: the scope)")
    parser.add_argument("--report", action="store_true", help="print the last run's results without running")
    args = parser.parse_args(argv)
    patterns = tuple(args.patterns) or SCOPE
    os.chdir(ROOT)  # mutmut reads pyproject.toml and mutants/ from the working directory
    seconds = None if args.report else run_mutmut(patterns)
    unexplained = report(statuses(patterns), read_equivalents())
    if unexplained:
        print("\nsurvivors (kill each with a test, or list it in bench/mutants_equivalent.md with its reason):")
        print("\n".join(unexplained))
    if seconds is not None:
        command = " ".join(["python -m bench.mutants", *args.patterns])
        print(f"\nmutmut wall time: {seconds / 60:.1f} min ({command}, one worker)")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
