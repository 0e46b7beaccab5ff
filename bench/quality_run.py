"""One quality run on TM-dSprites: train with overrides, print persistent-chain IoU against time.

    python -m bench.quality_run --n 1000 --minutes 10 model.up_channels=[64,32,16,8] train.batch_size=32
Prints one JSON line per monitor step and a final line; used to build bench/quality_sweep.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import yaml

from drc.data.prepared import resize_images, resize_masks, to_model_range
from drc.data.tmdsprites import TMDSpritesConfig, generate
from drc.model.config import ModelConfig
from drc.train_config import TrainConfig
from drc.training import Trainer


def parse_overrides(items: list[str]) -> dict[str, dict]:
    out: dict[str, dict] = {"model": {}, "train": {}}
    for item in items:
        key, value = item.split("=", 1)
        section, name = key.split(".", 1)
        out[section][name] = yaml.safe_load(value)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--monitor", type=int, default=100)
    ap.add_argument("--grid", default=None, help="write a sample grid PNG here at the end")
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ov = parse_overrides(args.overrides)
    mc = ModelConfig.from_dict(ov["model"])
    tc = TrainConfig.from_dict({"hflip": False, "log_every": 10**9, **ov["train"]})
    images, masks, _ = generate(TMDSpritesConfig(n_images=args.n))
    res = mc.resolution
    x = to_model_range(resize_images(images, res))
    m = torch.from_numpy(resize_masks(masks, res))
    trainer = Trainer(mc, tc, x)
    rows = torch.arange(min(len(x), 1000)).numpy()
    t0 = time.time()
    while time.time() - t0 < 60 * args.minutes and trainer.iteration < tc.iterations:
        logs = trainer.step()
        if trainer.iteration % args.monitor == 0:
            s = trainer.chain_scores(rows, m[rows])
            print(json.dumps({"it": trainer.iteration, "min": round((time.time() - t0) / 60, 2), **s,
                              "fg": round(logs["train/fg_fraction"], 3), "recon": round(logs["loss/recon"], 3)}),
                  flush=True)
    from drc.imageio import write_png
    from drc.reports.grids import sample_grid

    class Data:
        images, masks = x, m

    if args.grid:
        write_png(Path(args.grid), sample_grid(trainer, Data, rows))
    s = trainer.chain_scores(rows, m[rows])
    print(json.dumps({"final": True, "it": trainer.iteration, "min": round((time.time() - t0) / 60, 2), **s,
                      "args": vars(args)}), flush=True)


if __name__ == "__main__":
    main()
