"""IoU against test-time posterior steps for a trained checkpoint, on unseen TM-dSprites images.

    python -m bench.infer_steps CHECKPOINT [--n 200] [--seed 1] [--steps 25 50 100 200 300 500]

Chains start from N(0, I) (the paper's protocol) and are continued from one step count to the next,
so one run gives the whole curve. Prints one line per step count with the elapsed seconds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from drc.checkpoint import load_model
from drc.data.prepared import resize_images, to_model_range
from drc.data.tmdsprites import TMDSpritesConfig, generate
from drc.errors import exit_cleanly
from drc.inference import extract
from drc.metrics import scores_at_target_size
from drc.train_config import InferConfig, TrainConfig


def tmdsprites_inputs(n: int, seed: int, res: int) -> tuple[torch.Tensor, np.ndarray]:
    """The first ``n`` TM-dSprites images of ``seed``: (N x 3 x r x r in [-1, 1] at the model's ``res`` px,
    N x 128 x 128 ground-truth masks, scored as the pipeline does with ``scores_at_target_size``)."""
    images, masks, _ = generate(TMDSpritesConfig(n_images=n, eval_size=min(n, 1000), seed=seed))
    return to_model_range(resize_images(images, res)), masks


@exit_cleanly
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--n", type=int, default=200, help="images to score")
    ap.add_argument("--seed", type=int, default=1, help="generator seed (the pipeline trains on seed 0)")
    ap.add_argument("--steps", type=int, nargs="+", default=[25, 50, 100, 200, 300, 500])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, ckpt = load_model(args.checkpoint)
    train = TrainConfig.from_dict(ckpt["train_config"])
    x, m = tmdsprites_inputs(args.n, args.seed, model.config.resolution)
    z, done, start = None, 0, time.time()
    for target in sorted(args.steps):
        infer = InferConfig(steps=target - done, batch_size=200, seed=target)  # fresh noise per segment
        out = extract(model, x, infer, train.sigma, train.tv_weight, z_init=z, progress=False)
        z, done = out.z, target
        iou, dice = scores_at_target_size(out.soft_mask, m)
        print(
            f"steps {target}: IoU {100 * float(iou.mean()):.1f} Dice {100 * float(dice.mean()):.1f} "
            f"({time.time() - start:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
