"""One quality run on TM-dSprites: train with overrides, print persistent-chain IoU against time.

    python -m bench.quality_run --n 1000 --minutes 10 model.up_channels=[64,32,16,8] train.batch_size=32
Overrides apply on top of a params.yaml profile (``--profile cpu`` by default; ``--profile none`` starts
from the paper's dataclass defaults, as the first rows of bench/quality_sweep.md did). Prints one JSON
line per monitor step and a final line; used to build bench/quality_sweep.md. Overrides name a section:
``model.*``, ``train.*`` or ``infer.*`` (the held-out scoring; ``--heldout-steps`` sets its steps).
IoU is scored as the pipeline does, against the 128 px ground truth (``scores_at_target_size``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import yaml

from bench.infer_steps import tmdsprites_inputs
from drc.errors import exit_cleanly
from drc.inference import extract
from drc.metrics import scores_at_target_size
from drc.model.config import ModelConfig
from drc.params import load_params, resolve_settings
from drc.train_config import InferConfig, TrainConfig
from drc.training import Trainer


def parse_overrides(items: list[str]) -> dict[str, dict]:
    out: dict[str, dict] = {"model": {}, "train": {}, "infer": {}}
    for item in items:
        key, value = item.split("=", 1)
        section, name = key.split(".", 1)
        out[section][name] = yaml.safe_load(value)
    return out


@exit_cleanly
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--minutes", type=float, default=None, help="stop early after this many minutes (default: never)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--monitor", type=int, default=100)
    ap.add_argument("--heldout", type=int, default=0, help="also score this many unseen images (seed 1)")
    ap.add_argument("--heldout-steps", type=int, default=300, help="posterior steps for the unseen images")
    ap.add_argument("--save", default=None, help="write the trained checkpoint here")
    ap.add_argument("--profile", default="cpu", help="params.yaml profile the overrides apply to ('none': defaults)")
    ap.add_argument("--grid", default=None, help="write a sample grid PNG here at the end")
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ov = parse_overrides(args.overrides)
    base: dict[str, dict] = {"model": {}, "train": {}, "infer": {}}
    if args.profile != "none":
        base = resolve_settings(load_params(), "tmdsprites", args.profile).to_dict()
    mc = ModelConfig.from_dict({**base["model"], **ov["model"]})
    tc = TrainConfig.from_dict({**base["train"], "hflip": False, "log_every": 10**9, **ov["train"]})
    infer = InferConfig.from_dict({**base["infer"], "batch_size": 100, **ov["infer"], "steps": args.heldout_steps})
    res = mc.resolution
    x, m = tmdsprites_inputs(args.n, 0, res)
    trainer = Trainer(mc, tc, x)
    rows = torch.arange(min(len(x), 1000)).numpy()
    t0 = time.time()
    limit = float("inf") if args.minutes is None else 60 * args.minutes
    while time.time() - t0 < limit and trainer.iteration < tc.iterations:
        logs = trainer.step()
        if trainer.iteration % args.monitor == 0:
            s = trainer.chain_scores(rows, m[rows])
            print(
                json.dumps(
                    {
                        "it": trainer.iteration,
                        "min": round((time.time() - t0) / 60, 2),
                        **s,
                        "fg": round(logs["train/fg_fraction"], 3),
                        "recon": round(logs["loss/recon"], 3),
                    }
                ),
                flush=True,
            )
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
        s.update(heldout_scores(trainer, tc, infer, args.heldout, res))
    print(
        json.dumps(
            {"final": True, "it": trainer.iteration, "min": round((time.time() - t0) / 60, 2), **s, "args": vars(args)}
        ),
        flush=True,
    )


def heldout_scores(trainer: Trainer, tc: TrainConfig, infer: InferConfig, n: int, res: int) -> dict[str, float]:
    """IoU/Dice of ``n`` images from another seed, never trained on, inferred from N(0, I) with ``infer``."""
    x, m = tmdsprites_inputs(n, 1, res)
    t = time.time()
    out = extract(trainer.model, x, infer, tc.sigma, tc.tv_weight, progress=False)
    iou, dice = scores_at_target_size(out.soft_mask, m)
    return {
        "heldout_iou": 100 * float(iou.mean()),
        "heldout_dice": 100 * float(dice.mean()),
        "heldout_min": round((time.time() - t) / 60, 2),
    }


if __name__ == "__main__":
    main()
