"""Time TM-dSprites generation, score GrabCut on its evaluation subset, draw the sample figure.

    python -m bench.bench_tmdsprites                                  # full 20K set + GrabCut on 1K
    python -m bench.bench_tmdsprites --data texture_colour=colour     # a variant of the generator
    python -m bench.bench_tmdsprites --figure docs/figures/tmdsprites_samples.png

Prints the command, the seconds per phase, dataset stats and GrabCut IoU / Dice (percent, per-image
mean, drc.metrics). ``--data key=value`` overrides any TMDSpritesConfig field (value parsed as YAML).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from bench.inputs import data_config
from drc.baselines.grabcut import grabcut_masks, rectangle_mask
from drc.config import to_dict
from drc.data.tmdsprites import (
    dataset_stats,
    generate_with_labels,
    prepare_tmdsprites,
    sample_sheet,
)
from drc.metrics import score_masks


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", action="append", default=[], metavar="KEY=VALUE", help="a TMDSpritesConfig setting")
    p.add_argument("--workers", type=int, default=1, help="generator processes (output is identical)")
    p.add_argument("--grabcut", type=int, default=None, help="images for GrabCut (default: eval_size; 0 skips)")
    p.add_argument("--grabcut-workers", type=int, default=2)
    p.add_argument("--margin", type=float, default=1 / 8, help="GrabCut rectangle margin (fraction of the side)")
    p.add_argument("--iterations", type=int, default=5, help="GrabCut iterations")
    p.add_argument("--figure", type=Path, default=None, help="write the 16-sample picture here (PNG)")
    p.add_argument("--write", action="store_true", help="also time prepare_tmdsprites into a temporary dir")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cfg = data_config(args.data)
    print("command:", shlex.join([Path(sys.executable).name, "-m", "bench.bench_tmdsprites", *sys.argv[1:]]))
    print("config:", to_dict(cfg))

    t0 = time.perf_counter()
    images, labels, backgrounds = generate_with_labels(cfg, workers=args.workers)
    seconds = time.perf_counter() - t0
    print(
        f"generate: {cfg.n_images} images x {cfg.resolution} px in {seconds:.1f} s "
        f"({1e3 * seconds / cfg.n_images:.2f} ms/image, workers={args.workers})"
    )
    print("stats:", dataset_stats(cfg, labels))

    if args.write:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            prepare_tmdsprites(cfg, Path(tmp) / "tmdsprites", workers=args.workers)
            print(f"prepare_tmdsprites (generate + write + checksums): {time.perf_counter() - t0:.1f} s")

    if args.figure is not None:
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.figure), sample_sheet(images, backgrounds, labels > 0)[..., ::-1])
        print("figure:", args.figure)

    n_eval = cfg.eval_size if args.grabcut is None else min(args.grabcut, cfg.n_images)
    if n_eval > 0:
        target = labels[:n_eval] > 0
        t0 = time.perf_counter()
        pred, failed = grabcut_masks(
            images[:n_eval], margin=args.margin, iterations=args.iterations, workers=args.grabcut_workers
        )
        seconds = time.perf_counter() - t0
        scores = score_masks(pred, target)
        box = rectangle_mask(cfg.resolution, cfg.resolution, args.margin)
        rect = score_masks(np.broadcast_to(box, target.shape), target)
        print(
            f"grabcut: {n_eval} images in {seconds:.1f} s, failed {failed}; "
            f"IoU {scores['iou']:.1f} Dice {scores['dice']:.1f} (paper 61.9 / 71.0); "
            f"rectangle alone IoU {rect['iou']:.1f} Dice {rect['dice']:.1f}"
        )


if __name__ == "__main__":
    main()
