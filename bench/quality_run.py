"""One quality run on TM-dSprites: train with overrides, print persistent-chain IoU against time.

    python -m bench.quality_run [--profile cpu] [--data texture_colour=colour] [--heldout 200] \
        --set model.up_channels=[64,32,16,8] --set train.batch_size=32

The settings are a profile's (drc/profiles/) changed by ``--set`` (the CLI's override path), for the
TM-dSprites facts of the paper. It trains on the first ``train.max_images`` of ``--n`` generated images
(generator seed 0, ``--data`` changing the generator), prints one JSON line per monitor step and a
final line, and with ``--heldout N`` scores N unseen images (generator seed ``--heldout-seed``) from
N(0, I) with the profile's sampler and read-out. IoU is scored as the pipeline does, against the
128 px ground truth (``scores_at_target_size``). Used to build bench/quality_sweep.md.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.inputs import add_data_options, generator_config, tmdsprites_inputs, tmdsprites_with_originals
from drc.config import Settings, for_unseen, parse_set, to_dict
from drc.cpu_isa import pinned_params
from drc.errors import exit_cleanly
from drc.fullres import MaskReadout
from drc.inference import extract
from drc.metrics import scores_at_target_size
from drc.params import resolve_settings
from drc.training import Trainer


@exit_cleanly
def main() -> None:
    ap = argparse.ArgumentParser()
    add_data_options(ap, seed=0)
    ap.set_defaults(n=1000)
    ap.add_argument("--profile", default="cpu", help="profile the overrides apply to (drc/profiles/)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="SECTION.KEY=VALUE")
    ap.add_argument("--minutes", type=float, default=None, help="stop early after this many minutes (default: never)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--monitor", type=int, default=100)
    ap.add_argument("--heldout", type=int, default=0, help="also score this many unseen images")
    ap.add_argument("--heldout-seed", type=int, default=1, help="generator seed of the unseen images")
    ap.add_argument("--save", default=None, help="write the trained checkpoint here")
    ap.add_argument("--grid", default=None, help="write a sample grid PNG here at the end")
    args = ap.parse_args()
    pinned_params()  # the stages' kernels (params.yaml's cpu_isa), before any runs
    torch.set_num_threads(args.threads)
    overrides = parse_set(args.overrides)
    overrides["train"] = {"log_every": 10**9, **overrides.get("train", {})}
    settings = resolve_settings("tmdsprites", args.profile, None, overrides)
    res = settings.model.resolution
    x, m = tmdsprites_inputs(generator_config(args.n, args.seed, args.data), res)
    x, m = x[: settings.train.max_images], m[: settings.train.max_images]
    trainer = Trainer(settings.model, settings.train, x, profile=args.profile)
    rows = torch.arange(min(len(x), 1000)).numpy()
    t0 = time.time()
    for point in monitored(trainer, rows, m[rows], args.minutes, args.monitor):
        print(json.dumps(point), flush=True)
    from drc.data.prepared import resize_masks
    from drc.imageio import write_png
    from drc.reports.grids import sample_grid

    class Data:  # what sample_grid shows: masks at the model's resolution
        images, masks = x, torch.from_numpy(resize_masks(m, res))

    if args.grid:
        write_png(Path(args.grid), sample_grid(trainer, Data, rows))
    if args.save:
        trainer.save(args.save)
    s = trainer.chain_scores(rows, m[rows])
    if args.heldout:
        s.update(heldout_scores(trainer, settings, args))
    final = {"final": True, "it": trainer.iteration, "min": round((time.time() - t0) / 60, 2), **s}
    print(json.dumps({**final, "args": vars(args), "settings": settings.to_dict()}), flush=True)


def monitored(
    trainer: Trainer, rows: np.ndarray, masks: np.ndarray, minutes: float | None, every: int
) -> Iterator[dict[str, float]]:
    """Train until train.iterations (or ``minutes`` have passed) and every ``every`` iterations, and at the
    last, yield the persistent chains' IoU / Dice on the training images ``rows`` (ground truth ``masks``),
    with the iteration, the minutes so far and the last batch's foreground fraction and reconstruction error."""
    t0 = time.time()
    limit = float("inf") if minutes is None else 60 * minutes
    while time.time() - t0 < limit and trainer.iteration < trainer.config.iterations:
        logs = trainer.step()
        last = time.time() - t0 >= limit or trainer.iteration == trainer.config.iterations
        if trainer.iteration % every == 0 or last:
            scores = trainer.chain_scores(rows, masks)
            fg, recon = round(logs["train/fg_fraction"], 3), round(logs["loss/recon"], 3)
            yield {
                "it": trainer.iteration,
                "min": round((time.time() - t0) / 60, 2),
                **scores,
                "fg": fg,
                "recon": recon,
            }


def heldout_scores(trainer: Trainer, settings: Settings, args: argparse.Namespace) -> dict[str, float]:
    """IoU/Dice of unseen images (another generator seed) with the profile's sampler and read-out (the
    model's own masks as ``heldout_unrefined_iou`` when the read-out redraws them with GrabCut)."""
    cfg = generator_config(args.heldout, args.heldout_seed, args.data)
    x, m, originals = tmdsprites_with_originals(cfg, settings.model.resolution)
    scores = scored_from_noise(trainer, settings, x, m, originals)
    return {f"heldout_{key}": value for key, value in scores.items()}


def scored_from_noise(
    trainer: Trainer, settings: Settings, x: torch.Tensor, masks: np.ndarray, originals: np.ndarray
) -> dict[str, Any]:
    """IoU/Dice of images ``x`` scored as evaluate@ scores them: chains from N(0, I) with the profile's
    sampler and read-out, masks against the 128 px ground truth (the model's own masks as
    ``unrefined_iou`` when the read-out redraws them with GrabCut), and the minutes it took."""
    t = time.time()
    sampler = for_unseen(settings.sampler)
    out = extract(
        trainer.model, x, sampler, settings.readout, settings.train.sigma, settings.train.tv_norm, progress=False
    )
    how = MaskReadout.of(settings.readout, settings.train.sigma)
    renderings = how.renderings(out.fg, out.bg)
    iou, dice = scores_at_target_size(out.soft_mask, masks, originals, how, renderings)
    unrefined = {}
    if how.refine != "none":
        own = scores_at_target_size(out.soft_mask, masks, originals, how.unrefined(), renderings)[0]
        unrefined = {"unrefined_iou": 100 * float(own.mean())}
    return {
        "iou": 100 * float(iou.mean()),
        "dice": 100 * float(dice.mean()),
        **unrefined,
        "min": round((time.time() - t) / 60, 2),
        "sampler": to_dict(sampler),
    }


if __name__ == "__main__":
    main()
