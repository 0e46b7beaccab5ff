"""Stage report: results.csv, Tables 1-4 and the figures from whatever the other stages have written."""

from __future__ import annotations

from pathlib import Path

from drc.reports.build import build_reports
from drc.stagekit import stage


@stage
def main() -> None:
    for line in build_reports(Path(".")):
        print(f"figure {line}")


if __name__ == "__main__":
    main()
