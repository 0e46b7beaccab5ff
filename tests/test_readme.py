"""The README: short, its results table exactly what reports/results.csv holds, its links alive."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from drc.reports.readme import BEGIN, END, SEEDS, block, headline, update_readme
from drc.reports.seeds import SPREAD, seeds_table
from drc.reports.tables import Table

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_the_readme_results_are_the_pipelines():
    text = README.read_text()
    written = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert written == block(headline(pd.read_csv(ROOT / "reports/results.csv"))), (
        "README.md's results differ from reports/results.csv: run `dvc repro report`"
    )


def test_the_readme_spread_over_seeds_is_the_pipelines():
    text = README.read_text()
    written = text[text.index(SEEDS[0]) : text.index(SEEDS[1]) + len(SEEDS[1])]
    if not (ROOT / SPREAD).is_file():
        assert "Not run yet" in written and not any(c.isdigit() for c in written.split("-->")[1]), written
        return
    spread = pd.read_csv(ROOT / SPREAD, dtype={"seeds": str})
    assert written == block(seeds_table(spread), SEEDS), "README.md's seeds differ from reports/seeds.csv"


def test_the_readme_is_short_and_its_links_exist():
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target


def test_update_rewrites_only_between_the_markers(tmp_path: Path):
    table = Table("t", pd.DataFrame([["a", "1.0 / 2.0"]], columns=["data", "DRC"]), ["a note"])
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n\n{BEGIN}\nold numbers\n{END}\n\nrest\n")
    assert update_readme(readme, table)
    assert readme.read_text() == f"intro\n\n{block(table)}\n\nrest\n"
    assert "| a | 1.0 / 2.0 |" in block(table) and "a note" in block(table)
    plain = tmp_path / "PLAIN.md"
    plain.write_text("no markers\n")
    assert not update_readme(plain, table) and plain.read_text() == "no markers\n"
    assert not update_readme(tmp_path / "missing.md", table)
