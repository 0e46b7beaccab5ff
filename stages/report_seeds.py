"""Stage report_seeds: the spread over training seeds (reports/seeds.csv, reports/seeds.md, README.md's block).

Reads params.yaml's `seeds.datasets`; seed 0 is train@'s run, the others seed_train@'s.
"""

from __future__ import annotations

from pathlib import Path

from drc.params import load_params
from drc.reports.seeds import write_seed_reports
from drc.stagekit import stage


@stage
def main() -> None:
    seeds = load_params().get("seeds") or {}
    write_seed_reports(Path("."), list(seeds.get("datasets") or []))


if __name__ == "__main__":
    main()
