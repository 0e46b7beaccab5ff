"""The `drc report` command: the report stage's work, plus Table 2 from the DVC experiments on request."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

from drc.errors import DRCError
from drc.reports.build import build_reports, write_ablations


def exp_show_json() -> str:
    """What `dvc exp show --json` prints for the repository in the working directory."""
    command = [sys.executable, "-m", "dvc", "exp", "show", "--json"]  # the dvc of this environment
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise DRCError(f"`dvc exp show --json` failed: {last}")
    return done.stdout


def report_command(ablations: bool = False) -> None:
    """Rebuild results.csv, the tables and the figures; with ``ablations``, also Table 2 per experiment."""
    for line in build_reports(Path(".")):
        typer.echo(f"figure {line}")
    if ablations:
        typer.echo(f"wrote {write_ablations(Path('.'), exp_show_json())}")
