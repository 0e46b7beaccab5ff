"""IoU against test-time posterior steps for a trained checkpoint, on unseen TM-dSprites images.

    python -m bench.infer_steps CHECKPOINT [--n 200] [--seed 1] [--steps 25 50 100 200 300 500] [--set KEY=VALUE]

One chain per image from N(0, I) (the paper's protocol), continued from one step count to the next, so
one run gives the whole curve; step size, noise and read-out are the model's profile's unless --set
changes them. Prints one line per step count with the elapsed seconds.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from bench.inputs import add_data_options, generator_config, tmdsprites_inputs
from drc.checkpoint import load_model, train_config_of
from drc.config import parse_set
from drc.cpu_isa import pinned_params
from drc.errors import exit_cleanly
from drc.inference import extract
from drc.metrics import scores_at_target_size
from drc.scoring import inference_settings


@exit_cleanly
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    add_data_options(ap, seed=1)
    ap.add_argument("--steps", type=int, nargs="+", default=[25, 50, 100, 200, 300, 500])
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="SECTION.KEY=VALUE")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    pinned_params()  # the stages' kernels (params.yaml's cpu_isa), before any runs
    torch.set_num_threads(args.threads)
    model, ckpt = load_model(args.checkpoint)
    train = train_config_of(ckpt)
    sampler, readout = inference_settings(ckpt, overrides=parse_set(args.overrides))
    sampler = replace(sampler, init="noise", restarts=1, settle_steps=0)  # one chain, continued segment by segment
    x, m = tmdsprites_inputs(generator_config(args.n, args.seed, args.data), model.config.resolution)
    z, done, start = None, 0, time.time()
    for target in sorted(args.steps):
        segment = replace(sampler, steps=target - done, seed=target)  # fresh noise per segment
        out = extract(model, x, segment, readout, train.sigma, train.tv_norm, z_init=z, progress=False)
        z, done = out.z, target
        iou, dice = scores_at_target_size(out.soft_mask, m)
        print(
            f"steps {target}: IoU {100 * float(iou.mean()):.1f} Dice {100 * float(dice.mean()):.1f} "
            f"({time.time() - start:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
