"""Where a checkpoint's TM-dSprites IoU goes: precision, recall, mask area, and what 1 px costs.

    python -m bench.mask_errors CHECKPOINT [--n 200] [--seed 1] [--steps 300] [--restarts 1] [--step-size 0.2]
        [--settle-steps 0] [--settle-step-size 0.1]

Chains start from N(0, I) on unseen images (seed 1 by default); with ``--restarts R``, R chains of
``--steps`` each per image, the one with the lowest posterior energy kept (``infer.restarts``), then
``--settle-steps`` noise-free steps (``infer.settle_steps``). Prints
IoU at the 128 px ground truth (the pipeline's protocol: the soft mask resized as ``drc extract`` does)
and at the model's resolution, the mean precision, recall and predicted / true area, and two reference
points at the model's resolution: the ground truth itself grown or shrunk by one pixel, scored against
the ground truth.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from bench.infer_steps import tmdsprites_inputs
from drc.checkpoint import load_model
from drc.data.prepared import resize_masks
from drc.errors import exit_cleanly
from drc.inference import extract
from drc.metrics import per_image_scores, scores_at_target_size
from drc.train_config import InferConfig, TrainConfig


def one_pixel(mask: torch.Tensor, grow: bool) -> torch.Tensor:
    """Binary dilation (grow) or erosion of N x H x W masks with a 3 x 3 square."""
    m = mask.float()[:, None]
    out = F.max_pool2d(m, 3, 1, 1) if grow else -F.max_pool2d(-m, 3, 1, 1)
    return out[:, 0] > 0.5


@exit_cleanly
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--restarts", type=int, default=1)
    ap.add_argument("--step-size", type=float, default=0.2)
    ap.add_argument("--settle-steps", type=int, default=0)
    ap.add_argument("--settle-step-size", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, ckpt = load_model(args.checkpoint)
    train = TrainConfig.from_dict(ckpt["train_config"])
    res = model.config.resolution
    x, masks = tmdsprites_inputs(args.n, args.seed, res)
    small = torch.from_numpy(resize_masks(masks, res))
    infer = InferConfig(
        steps=args.steps,
        restarts=args.restarts,
        step_size=args.step_size,
        settle_steps=args.settle_steps,
        settle_step_size=args.settle_step_size,
        batch_size=200,
    )
    out = extract(model, x, infer, train.sigma, train.tv_weight, progress=False)
    iou_full, _ = scores_at_target_size(out.pi_f, masks)
    iou_small, _ = per_image_scores(out.mask, small)
    pred, gt = out.mask.flatten(1).float(), small.flatten(1).float()
    hit = (pred * gt).sum(1)
    chains = f"{args.restarts} x {args.steps}" if args.restarts > 1 else f"{args.steps}"
    settle = f", then {args.settle_steps} noise-free of {args.settle_step_size}" if args.settle_steps else ""
    print(f"{args.n} unseen images (seed {args.seed}), {chains} steps of size {args.step_size} from N(0, I){settle}")
    print(f"IoU at {masks.shape[-1]} px (pipeline protocol): {100 * iou_full.mean():.1f}")
    print(f"IoU at {res} px (model resolution):        {100 * iou_small.mean():.1f}")
    print(
        f"precision {100 * (hit / pred.sum(1).clamp(min=1)).mean():.1f}  recall {100 * (hit / gt.sum(1)).mean():.1f}  "
        f"predicted / true area {float((pred.sum(1) / gt.sum(1)).mean()):.2f}"
    )
    for name, grow in (("grown", True), ("shrunk", False)):
        ref, _ = per_image_scores(one_pixel(small, grow), small)
        print(f"reference: ground truth {name} by 1 px at {res} px scores IoU {100 * np.mean(ref):.1f}")


if __name__ == "__main__":
    main()
