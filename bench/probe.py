"""Quality probes on validation seeds: how a setting is chosen without looking at the images the pipeline scores.

    python -m bench.probe train NAME [--variant grey|colour|clevr] [--seed 2] [--profile cpu] [--set train.sigma=0.25]
    python -m bench.probe score NAME [--on colour:13 colour-robust:16] [--set readout.threshold=0.7] [--breakdown]
    python -m bench.probe baselines SET [SET ...] [--images 200]

``train`` draws a training set from a validation seed of a variant of params.yaml (the generator settings
of ``tmdsprites`` for grey gratings, ``tmdsprites_colour`` for coloured ones, ``clevr6_rendered`` for
CLEVR6 scenes rendered here, their seed replaced), trains the profile with ``--set`` overrides on it
exactly as the train stage trains (``drc.trainrun.train_model``; the first train.max_images images), and keeps
the model at ``models/probe/NAME/model.pt`` with its DVCLive curves (``live/``; the persistent chains' IoU under
``monitor/``).

``score`` scores a probe model (or any checkpoint) on validation scoring sets exactly as the evaluate stage
scores (``drc.scoring.evaluate_prepared``: chains from N(0, I), the model's profile's sampler and read-out,
changed by ``--set``): ``VARIANT:SEED`` is a set of the variant's generator, ``VARIANT-robust:SEED`` one of
the second generator's (200 images each; ``--images``). By default a model's variant is scored on its two
scoring seeds below. It prints the model's own masks' and the scored (read-out) masks' IoU / Dice and appends
a row per set to ``--csv`` (default bench/results/probes.csv) with the command and the code version;
``--breakdown`` adds the share of ground-truth sprites the masks miss by size and distance from the border,
and the IoU by the grating's period. ``baselines`` prints every baseline's IoU / Dice on validation sets (the
baselines stage's methods and params.yaml's grabcut section), for the like-for-like comparison.

Validation seeds: a model trains on seed 2 (grey) / 12 (coloured) and is scored on seed 3 / 13 of the first
generator and 6 / 16 of the second; on CLEVR6 scenes it trains on renderer seed 2 and is scored on seed 3
(rendered into the render cache the first time, about 5 CPU s a scene). Any seed params.yaml's pipeline
draws (its evaluation, held-out and robustness sets) is refused: settings are chosen on validation seeds only
(docs/cpu-profile.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import ndimage

from drc.baselines.registry import BASELINES
from drc.checkpoint import read_checkpoint
from drc.config import GrabCutConfig, RobustConfig, TMDSpritesConfig, chain_steps, for_unseen, from_dict, parse_set
from drc.cpu_isa import pinned_params
from drc.data.clevr_rendered import ClevrRenderedConfig, config_from_values, prepare_clevr_rendered
from drc.data.prepared import Prepared
from drc.data.tmdsprites import prepare_tmdsprites
from drc.data.tmdsprites_robust import prepare_robust
from drc.errors import DRCError, exit_cleanly
from drc.metrics import per_image_scores, summarize
from drc.params import data_values, resolve_section, tmdsprites_sets
from drc.readout import Readout
from drc.reports.gratings import generator_config, iou_by_texture
from drc.runinfo import code_version
from drc.scoring import evaluate_prepared, inference_settings, model_readout
from drc.trainrun import train_model

VARIANTS = {"grey": "tmdsprites", "colour": "tmdsprites_colour", "clevr": "clevr6_rendered"}  # -> params.yaml's
TRAIN_SEED = {"grey": 2, "colour": 12, "clevr": 2}
SCORE_SETS = {"grey": ["grey:3", "grey-robust:6"], "colour": ["colour:13", "colour-robust:16"], "clevr": ["clevr:3"]}
RENDERED = {"clevr"}  # variants whose sets are rendered scenes (no second generator)
DATA, MODELS = Path("data/probe"), Path("models/probe")
DOWNLOADS, RENDERS = Path("data/downloads/clevr6_rendered"), Path("data/renders")
CSV = Path("bench/results/probes.csv")
MISSED_BELOW = 0.5  # a sprite whose recall is below this is missed
SIZE_BREAKS = (0, 1 / 6, 1 / 4, 2)  # a sprite's longer side / the image's: the first generator draws 1/6-1/3
NEAR_BORDER = 0.18  # a centre this close to the border (fraction of the side): only the second generator's


def pipeline_seeds(params: dict[str, Any]) -> set[tuple[str, int]]:
    """(generator, seed) of every set params.yaml's pipeline draws: its evaluation, held-out and robustness sets."""
    seeds = set()
    for variant, dataset in VARIANTS.items():
        if variant in RENDERED:
            cfg = config_from_values(data_values(dataset, "cpu", params), dataset)
            seeds |= {(variant, cfg.seed), (variant, cfg.heldout.seed)}
            continue
        sets = tmdsprites_sets(data_values(dataset, "cpu", params), dataset)
        seeds |= {
            (variant, sets[""].seed),
            (variant, sets["-heldout"].seed),
            (f"{variant}-robust", sets["-robust"].seed),
        }
    return seeds


def generator_settings(
    spec: str, n: int, params: dict[str, Any]
) -> tuple[str, TMDSpritesConfig | RobustConfig | ClevrRenderedConfig]:
    """The generator settings of a set ``VARIANT[-robust]:SEED`` of ``n`` images (refusing a pipeline seed)."""
    generator, _, seed_text = spec.partition(":")
    variant = generator.removesuffix("-robust")
    if variant not in VARIANTS or not seed_text.isdigit() or (variant in RENDERED and generator != variant):
        raise DRCError(
            f"a set is VARIANT:SEED or VARIANT-robust:SEED with VARIANT one of {', '.join(VARIANTS)}; got {spec!r}"
        )
    seed = int(seed_text)
    if (generator, seed) in pipeline_seeds(params):
        examples = " ".join(SCORE_SETS[variant])
        raise DRCError(f"{spec} is a set the pipeline scores; probe on validation seeds (e.g. {examples})")
    if variant in RENDERED:
        cfg = config_from_values(data_values(VARIANTS[variant], "cpu", params), VARIANTS[variant])
        heldout = dataclasses.replace(cfg.heldout, seed=seed + 1)  # unused; only to differ from seed
        return variant, dataclasses.replace(cfg, seed=seed, n_scenes=n, eval_size=n, heldout=heldout)
    sets = tmdsprites_sets(data_values(VARIANTS[variant], "cpu", params), VARIANTS[variant])
    if generator.endswith("-robust"):
        return variant, dataclasses.replace(sets["-robust"], seed=seed, n_images=n)
    return variant, dataclasses.replace(sets[""], seed=seed, n_images=n, eval_size=min(n, sets[""].eval_size))


def prepared_set(spec: str, n: int, params: dict[str, Any]) -> Path:
    """The prepared set ``spec`` under data/probe/, generated the first time it is asked for."""
    _, cfg = generator_settings(spec, n, params)
    path = DATA / f"{spec.replace(':', '-s')}-n{n}"
    if not (path / "meta.json").is_file():
        if isinstance(cfg, ClevrRenderedConfig):
            prepare_clevr_rendered(cfg, path, download_dir=DOWNLOADS, render_root=RENDERS / VARIANTS["clevr"])
        elif isinstance(cfg, RobustConfig):
            prepare_robust(cfg, path, name=path.name)
        else:
            prepare_tmdsprites(cfg, path, name=path.name)
    return path


def train(args: argparse.Namespace, params: dict[str, Any]) -> None:
    overrides = parse_set(args.set)
    model = resolve_section("model", VARIANTS[args.variant], args.profile, params, overrides)
    learning = resolve_section("train", VARIANTS[args.variant], args.profile, params, overrides)
    data = prepared_set(f"{args.variant}:{args.seed}", learning.max_images or 1000, params)
    out = MODELS / args.name
    trainer = train_model(data, "all", model, learning, out / "model.pt", live_dir=out / "live", profile=args.profile)
    print(f"{out / 'model.pt'}: {trainer.iteration} iterations on {data}")


COLUMNS = ["model", "trained_on", "set", "images", "set_overrides", "own_iou", "own_dice", "iou", "dice",
           "steps_per_image", "seconds", "code", "command"]  # fmt: skip


def score(args: argparse.Namespace, params: dict[str, Any]) -> None:
    check_columns(args.csv)
    checkpoint = Path(args.model) if Path(args.model).is_file() else MODELS / args.model / "model.pt"
    ckpt = read_checkpoint(checkpoint)
    sampler, readout = inference_settings(ckpt, params, parse_set(args.set))
    sampler = for_unseen(sampler)
    trained_on = str(ckpt.get("dataset", {}).get("name", ""))
    prefix = trained_on.partition("-")[0]  # a probe set's variant, or the dataset a set was prepared as
    variant = prefix if prefix in VARIANTS else {d: v for v, d in VARIANTS.items()}.get(prefix, "grey")
    for spec in args.on or SCORE_SETS[variant]:
        data = prepared_set(spec, args.images, params)
        start = time.perf_counter()
        summary, iou, out = evaluate_prepared(checkpoint, data, "all", sampler, readout, progress=False)
        seconds = time.perf_counter() - start
        final = summary.get("refined", summary)  # GrabCut's redrawing, where the read-out does it
        row = {
            "model": str(checkpoint),
            "trained_on": trained_on,
            "set": spec,
            "images": summary["n_images"],
            "set_overrides": " ".join(args.set),
            "own_iou": round(summary["iou"], 2),
            "own_dice": round(summary["dice"], 2),
            "iou": round(final["iou"], 2),
            "dice": round(final["dice"], 2),
            "steps_per_image": chain_steps(sampler),
            "seconds": round(seconds, 1),
            "code": code_label(),
            "command": shlex.join(["python", "-m", "bench.probe", *sys.argv[1:]]),
        }
        print(f"{spec}: own masks {row['own_iou']:.1f} / {row['own_dice']:.1f}, scored {row['iou']:.1f} / "
              f"{row['dice']:.1f} (IoU / Dice, {row['images']} images, {seconds:.0f} s)")  # fmt: skip
        if args.breakdown:
            print(breakdown(Prepared.open(data), model_readout(ckpt, sampler, readout), out, iou))
        append_row(args.csv, row)


def baselines(args: argparse.Namespace, params: dict[str, Any]) -> None:
    grabcut = from_dict(GrabCutConfig, params.get("grabcut") or {}, "grabcut")
    for spec in args.sets:
        prepared = Prepared.open(prepared_set(spec, args.images, params))
        images, truth = np.asarray(prepared.images), np.asarray(prepared.masks)
        for name, baseline in BASELINES.items():
            summary = summarize(*per_image_scores(baseline.masks(images, grabcut, False)[0], truth))
            print(f"{spec}: {name} {summary['iou']:.1f} / {summary['dice']:.1f} (IoU / Dice, {len(images)} images)")


def code_label() -> str:
    """The commit the row was made at, marked when the tree had uncommitted changes."""
    code = code_version()
    return f"{code['git_commit']}{'+dirty' if code['git_dirty'] else ''}"


def breakdown(prepared: Prepared, how: Readout, out: Any, iou: np.ndarray) -> str:
    """The share of ground-truth sprites missed by the own and the scored masks, by sprite size and distance
    from the border; and the scored IoU by the grating's period (first-generator sets)."""
    truth = np.asarray(prepared.labelled_masks())
    images = np.asarray(prepared.images)
    renderings = how.renderings(out.fg, out.bg)
    lines = []
    for name, read in (("own", how.own), ("scored", how)):
        sprites = sprite_recall(read.masks(out.soft_mask, images, renderings), truth)
        lines.append(f"{name} masks, sprites missed (%) by size and border distance:\n{missed_by_group(sprites)}")
    cfg = generator_config(prepared)
    if cfg is not None:
        per_period = iou_by_texture(cfg, np.asarray(prepared.meta["ids"]), 100 * iou)
        lines.append("scored IoU by grating, fine to coarse: " + " ".join(f"{v:.0f}" for v in per_period))
    return "\n".join(lines)


def sprite_recall(predicted: np.ndarray, truth: np.ndarray) -> pd.DataFrame:
    """One row per ground-truth sprite (a connected component of ``truth``, N x H x W): its size and its
    centre's distance from the border (fractions of the side), and the share of its pixels ``predicted`` holds."""
    rows = []
    for pred, true in zip(predicted, truth, strict=True):
        side = max(true.shape)
        labels, count = ndimage.label(true)
        for box, sprite in zip(ndimage.find_objects(labels), range(1, count + 1), strict=True):
            pixels = labels == sprite
            ys, xs = np.nonzero(pixels)
            cy, cx = ys.mean(), xs.mean()
            border = min(cy + 0.5, cx + 0.5, true.shape[0] - 0.5 - cy, true.shape[1] - 0.5 - cx) / side
            size = max(s.stop - s.start for s in box) / side
            rows.append({"size": size, "border": border, "recall": float(pred[pixels].mean())})
    return pd.DataFrame(rows)


def missed_by_group(sprites: pd.DataFrame) -> pd.DataFrame:
    """Sprites and the share missed (%) by size and by distance from the border, with an ``all`` row."""
    frame = sprites.assign(
        missed=sprites.recall < MISSED_BELOW,
        size=pd.cut(sprites["size"], SIZE_BREAKS, right=False, labels=["< 1/6", "1/6 to 1/4", ">= 1/4"]),
        border=np.where(sprites.border < NEAR_BORDER, f"< {NEAR_BORDER}", f">= {NEAR_BORDER}"),
    )
    table = frame.groupby(["size", "border"], observed=True).agg(sprites=("missed", "size"), missed=("missed", "mean"))
    table.loc[("all", "all"), :] = [len(frame), frame.missed.mean()]
    return table.assign(missed=(100 * table.missed).round(1), sprites=table.sprites.astype(int))


def check_columns(path: Path) -> None:
    """Refuse, before any work, a CSV file of other columns than a probe's rows."""
    if path.is_file():
        header = list(pd.read_csv(path, nrows=0).columns)
        if header != COLUMNS:
            raise DRCError(f"{path} has other columns ({', '.join(header)}); write these rows to a new --csv file")


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Append ``row`` (its keys: COLUMNS) to a CSV file, with the header when the file is new."""
    check_columns(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([row], columns=COLUMNS).to_csv(path, mode="a", header=not path.is_file(), index=False)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    commands = ap.add_subparsers(dest="command", required=True)
    t = commands.add_parser("train", help="train on a validation seed's images")
    t.add_argument("name", help="the model's folder under models/probe/")
    t.add_argument("--variant", choices=list(VARIANTS), default="grey")
    t.add_argument("--seed", type=int, help="the generator seed of the training images (default: 2 / 12)")
    t.add_argument("--profile", default="cpu")
    t.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="over the profile")
    s = commands.add_parser("score", help="score a model on validation sets")
    s.add_argument("model", help="a probe model's name, or a checkpoint file")
    s.add_argument("--on", nargs="+", metavar="SET", help="VARIANT:SEED or VARIANT-robust:SEED (default: the model's)")
    s.add_argument("--images", type=int, default=200, help="images per set")
    s.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="sampler / readout")
    s.add_argument("--breakdown", action="store_true", help="also the sprites missed and IoU by grating")
    s.add_argument("--csv", type=Path, default=CSV, help="append a row per set here")
    b = commands.add_parser("baselines", help="score the baselines on validation sets")
    b.add_argument("sets", nargs="+", metavar="SET", help="VARIANT:SEED or VARIANT-robust:SEED")
    b.add_argument("--images", type=int, default=200, help="images per set")
    return ap


@exit_cleanly
def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    params = pinned_params()  # the stages' kernels (params.yaml's cpu_isa), before any torch work
    torch.set_num_threads(args.threads)
    if args.command == "train":
        args.seed = TRAIN_SEED[args.variant] if args.seed is None else args.seed
        generator_settings(f"{args.variant}:{args.seed}", 1, params)  # refuses a pipeline seed before any work
        train(args, params)
    elif args.command == "baselines":
        baselines(args, params)
    else:
        score(args, params)


if __name__ == "__main__":
    main()
