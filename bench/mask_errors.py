"""Where a checkpoint's TM-dSprites IoU goes: precision, recall, mask area, and what 1 px costs.

    python -m bench.mask_errors CHECKPOINT [--n 200] [--seed 1] [--data texture_colour=colour]
        [--set sampler.steps=80 --set readout.threshold=0.8 ...] [--thresholds 0.6 0.7 0.8]

Chains start from N(0, I) on unseen images (generator seed 1 by default) with the inference settings
of the profile the model was trained under, changed by ``--set`` (the CLI's override path; `drc
settings --fields` lists the keys). Prints IoU at the 128 px ground truth (the pipeline's protocol:
the soft mask resized as ``drc extract`` does; ``--thresholds``: also with other ``readout.threshold``
values, each one running the chains again, as the same seed does) and at the model's resolution, the
mean precision, recall and predicted / true area, the mean offset of the re-assignment grid from the
identity, and reference points: the ground truth itself grown or shrunk by one pixel at the model's
resolution, and shrunk to the model's resolution and scored as the model's masks are (what a perfect
model could score).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from bench.inputs import add_data_options, generator_config, tmdsprites_inputs
from drc.checkpoint import load_model, train_config_of
from drc.config import for_unseen, parse_set, to_dict
from drc.cpu_isa import pinned_params
from drc.data.prepared import resize_images, resize_masks
from drc.errors import exit_cleanly
from drc.inference import extract
from drc.metrics import per_image_scores, scores_at_target_size
from drc.model.networks import identity_grid
from drc.scoring import inference_settings


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
    add_data_options(ap, seed=1)
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="SECTION.KEY=VALUE")
    ap.add_argument("--thresholds", type=float, nargs="*", default=[], help="also score with these readout.threshold")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    pinned_params()  # the stages' kernels (params.yaml's cpu_isa), before any runs
    torch.set_num_threads(args.threads)
    model, ckpt = load_model(args.checkpoint)
    train = train_config_of(ckpt)
    sampler, readout = inference_settings(ckpt, overrides=parse_set(args.overrides))
    sampler = for_unseen(sampler)
    res = model.config.resolution
    x, masks = tmdsprites_inputs(generator_config(args.n, args.seed, args.data), res)
    small = torch.from_numpy(resize_masks(masks, res))
    out = extract(model, x, sampler, readout, train.sigma, train.tv_norm, progress=False)
    with torch.no_grad():
        r = model.render(out.z)
    soft, mask = out.soft_mask, out.mask
    iou_full, _ = scores_at_target_size(soft, masks)
    iou_small, _ = per_image_scores(mask, small)
    pred, gt = mask.flatten(1).float(), small.flatten(1).float()
    hit = (pred * gt).sum(1)
    print(f"{args.n} unseen images (generator seed {args.seed}, {' '.join(args.data) or 'defaults'}), from N(0, I)")
    print(f"sampler {to_dict(sampler)}")
    print(f"readout {to_dict(readout)}")
    print(f"IoU at {masks.shape[-1]} px (pipeline protocol): {100 * iou_full.mean():.1f}")
    for t in args.thresholds:  # as readout.threshold = t reads it: the same seed gives the same chains
        soft_t = extract(model, x, sampler, replace(readout, threshold=t), train.sigma, train.tv_norm, progress=False)
        iou_t, _ = scores_at_target_size(soft_t.soft_mask, masks)
        print(f"IoU at {masks.shape[-1]} px, read-out > {t} (readout.threshold): {100 * iou_t.mean():.1f}")
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
