"""Where a checkpoint's TM-dSprites IoU goes: precision, recall, mask area, and what 1 px costs.

    python -m bench.mask_errors CHECKPOINT [--n 200] [--seed 1] [--steps 300] [--restarts 1] [--step-size 0.2]
        [--settle-steps 0] [--settle-step-size 0.1] [--no-noise] [--select-settled] [--mask-from pi_f]
        [--mask-threshold 0.5] [--thresholds 0.3 0.6 0.7] [--combine-restarts mean_mask]

Chains start from N(0, I) on unseen images (seed 1 by default); with ``--restarts R``, R chains of
``--steps`` each per image, the one with the lowest posterior energy kept (``infer.restarts``), then
``--settle-steps`` noise-free steps (``infer.settle_steps``). ``--no-noise`` drops the Langevin noise
from the chains (``infer.noise``); ``--select-settled`` settles every restart's chain before the energies
are compared (``infer.settle_every_restart``: R times the settling cost); ``--mask-from``
reads the mask from pi_f (paper) or the per-pixel responsibility (``infer.mask_from``), above
``--mask-threshold`` (``infer.mask_threshold``); ``--combine-restarts mean_mask`` averages the settled
restarts' masks instead of keeping the lowest-energy one's (``infer.combine_restarts``). Prints IoU at
the 128 px ground truth (the pipeline's protocol: the soft mask resized as ``drc extract`` does;
``--thresholds``: also with other ``infer.mask_threshold`` values; with ``mean_mask`` each one runs the
chains again) and at the model's resolution, the mean precision, recall and predicted / true area, the
mean offset of the re-assignment grid from the identity, and reference points: the ground truth itself
grown or shrunk by one pixel at the model's resolution, and shrunk to the model's resolution and scored
as the model's masks are (what a perfect model could score).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from bench.infer_steps import tmdsprites_inputs
from drc.checkpoint import load_model
from drc.data.prepared import resize_images, resize_masks
from drc.errors import exit_cleanly
from drc.inference import extract, soft_mask
from drc.metrics import per_image_scores, scores_at_target_size
from drc.model.networks import identity_grid
from drc.train_config import MASK_SOURCES, RESTART_COMBINATIONS, InferConfig, TrainConfig


def one_pixel(mask: torch.Tensor, grow: bool) -> torch.Tensor:
    """Binary dilation (grow) or erosion of N x H x W masks with a 3 x 3 square."""
    m = mask.float()[:, None]
    out = F.max_pool2d(m, 3, 1, 1) if grow else -F.max_pool2d(-m, 3, 1, 1)
    return out[:, 0] > 0.5


def mean_warp(grid: torch.Tensor) -> float:
    """Mean distance of a B x H x W x 2 sampling grid from the identity, in units of the half-side."""
    return float((grid - identity_grid(grid.shape[1], grid.shape[2], grid)).norm(dim=-1).mean())


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
    ap.add_argument("--no-noise", action="store_true", help="noise-free chains (infer.noise = false)")
    ap.add_argument("--select-settled", action="store_true", help="infer.settle_every_restart")
    ap.add_argument("--mask-from", default="pi_f", choices=MASK_SOURCES, help="infer.mask_from")
    ap.add_argument("--mask-threshold", type=float, default=0.5, help="infer.mask_threshold")
    ap.add_argument(
        "--thresholds", type=float, nargs="*", default=[], help="also score with infer.mask_threshold = each of these"
    )
    ap.add_argument(
        "--combine-restarts", default="lowest_energy", choices=RESTART_COMBINATIONS, help="infer.combine_restarts"
    )
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
        noise=not args.no_noise,
        settle_every_restart=args.select_settled,
        mask_from=args.mask_from,
        mask_threshold=args.mask_threshold,
        combine_restarts=args.combine_restarts,
    )
    out = extract(model, x, infer, train.sigma, train.tv_weight, progress=False)
    with torch.no_grad():
        r = model.render(out.z)
    soft, mask = out.soft_mask, out.mask
    iou_full, _ = scores_at_target_size(soft, masks)
    iou_small, _ = per_image_scores(mask, small)
    pred, gt = mask.flatten(1).float(), small.flatten(1).float()
    hit = (pred * gt).sum(1)
    chains = f"{args.restarts} x {args.steps}" if args.restarts > 1 else f"{args.steps}"
    settle = f", then {args.settle_steps} noise-free of {args.settle_step_size}" if args.settle_steps else ""
    settle += " (every restart settled, then the best kept)" if args.select_settled else ""
    noise = "noise-free " if args.no_noise else ""
    settle += f"; mask read from {args.mask_from} > {args.mask_threshold}"
    settle += ", the restarts' masks averaged" if args.combine_restarts == "mean_mask" else ""
    chains = f"{chains} {noise}steps of size {args.step_size}"
    print(f"{args.n} unseen images (seed {args.seed}), {chains} from N(0, I){settle}")
    print(f"IoU at {masks.shape[-1]} px (pipeline protocol): {100 * iou_full.mean():.1f}")
    for t in args.thresholds:  # as infer.mask_threshold = t reads it
        if args.combine_restarts == "mean_mask":  # the mean of the restarts' masks: run the chains again
            rerun = replace(infer, mask_threshold=t)
            soft_t = extract(model, x, rerun, train.sigma, train.tv_weight, progress=False).soft_mask
        else:
            soft_t = soft_mask(r, x, infer.mask_from, train.sigma, t)
        iou_t, _ = scores_at_target_size(soft_t, masks)
        print(f"IoU at {masks.shape[-1]} px, read-out > {t} (infer.mask_threshold): {100 * iou_t.mean():.1f}")
    print(f"IoU at {res} px (model resolution):        {100 * iou_small.mean():.1f}")
    print(
        f"precision {100 * (hit / pred.sum(1).clamp(min=1)).mean():.1f}  recall {100 * (hit / gt.sum(1)).mean():.1f}  "
        f"predicted / true area {float((pred.sum(1) / gt.sum(1)).mean()):.2f}"
    )
    if r.grid is not None:
        print(f"re-assignment grid: mean offset from the identity {mean_warp(r.grid):.2f} of the half-side")
    for name, grow in (("grown", True), ("shrunk", False)):
        ref, _ = per_image_scores(one_pixel(small, grow), small)
        print(f"reference: ground truth {name} by 1 px at {res} px scores IoU {100 * np.mean(ref):.1f}")
    for name, shrunk in (("soft", resize_images(masks.astype(np.float32), res)), ("binary", small.numpy())):
        ref, _ = scores_at_target_size(shrunk.astype(np.float32), masks)
        print(f"reference: ground truth shrunk to {res} px ({name}), scored as the masks: IoU {100 * np.mean(ref):.1f}")


if __name__ == "__main__":
    main()
