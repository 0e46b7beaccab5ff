"""IoU against the test-time budget, drawn from the rows `python -m bench.infer_sweep ... --csv` wrote.

    python -m bench.infer_sweep MODEL --seed 2 --refine --csv bench/results/test_time_budget.csv \
        --plans noise:1x40x10 noise:3x40x10 encoder:1x40x10 encoder:2x40x10 encoder:3x40x10
    python -m bench.budget_figure bench/results/test_time_budget.csv

Writes the figure beside the CSV (.png and .pdf): one line per data and chain start, the read-out with
GrabCut's edges and the model's own masks, against posterior Langevin steps per image.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from drc.errors import DRCError, exit_cleanly
from drc.params import resolve_section
from drc.reports import figures

COLUMNS = {"data", "generator_seed", "start", "restarts", "steps", "settle_steps", "steps_per_image"} | {
    "iou",
    "iou_refined",
}


def data_label(data: str, seed: int) -> str:
    """A reader's name for a TM-dSprites generator setting (infer_sweep's ``data`` column) and seed."""
    kind = "coloured gratings" if "texture_colour=colour" in data else "grey gratings"
    generator = "second generator, " if data.startswith("robust ") else ""
    return f"{generator}{kind} (seed {seed})"


@exit_cleanly
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", type=Path)
    ap.add_argument("--profile", default="cpu", help="the profile whose test-time budget is marked")
    args = ap.parse_args()
    if not args.csv.is_file():
        raise DRCError(f"{args.csv} does not exist; write it with python -m bench.infer_sweep ... --csv {args.csv}")
    table = pd.read_csv(args.csv)
    missing = COLUMNS - set(table.columns)
    if missing:
        raise DRCError(f"{args.csv} lacks the columns {sorted(missing)}; is it infer_sweep's --csv output?")
    table["label"] = [data_label(d, s) for d, s in zip(table["data"], table["generator_seed"], strict=True)]
    n = int(table["images"].min())
    title = f"IoU against the test-time budget ({n} validation images each)"
    sampler = resolve_section("sampler", "tmdsprites", args.profile)
    chosen = sampler.restarts * (sampler.steps + sampler.settle_steps)
    figures.budget_curves(table, chosen, title, args.csv.with_suffix(".png"))
    print(f"wrote {args.csv.with_suffix('.png')} and .pdf")


if __name__ == "__main__":
    main()
