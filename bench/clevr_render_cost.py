"""Cost against looks of the CLEVR6 renderer (drc/data/clevr_rendered.py): seconds per scene and how far each
setting's prepared 128 px images are from a reference render of the same scenes.

    python -m bench.clevr_render_cost ASSETS_DIR [--scenes 3] [--settings 16:1 32:1 64:1 16:0 64:0]
        [--reference 512:1] [--workers 1] [--out DIR]

ASSETS_DIR is a copy of the CLEVR generator's image_generation/data/. Each setting is SAMPLES:DENOISE; every
setting renders the same scenes (seed 0) in --workers processes (each on cores / workers threads). Per setting it
prints the mean wall and CPU seconds per scene, the worker's peak memory, and the PSNR (dB) and mean absolute
error (grey levels) of the prepared images (the crop resized to 128 px, what the model sees) against the
reference setting's. Renders are kept under --out, so a second run only measures what is new.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from drc.data import clevr_rendered as cr
from drc.data.clevr import crop_scene
from drc.data.prepared import sha256_file
from drc.errors import exit_cleanly


def _setting(text: str) -> cr.RenderSettings:
    samples, _, denoise = text.partition(":")
    return cr.RenderSettings(samples=int(samples), denoise=denoise != "0")


def _prepared(paths: list[Path], cfg: cr.ClevrRenderedConfig) -> np.ndarray:
    return np.stack([crop_scene(cr.load_scene(p).as_clevr(), cfg.crop_box, cfg.resolution)[0] for p in paths])


@exit_cleanly
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("assets", type=Path)
    ap.add_argument("--scenes", type=int, default=3)
    ap.add_argument("--settings", nargs="+", default=["16:1", "32:1", "64:1", "16:0", "64:0"])
    ap.add_argument("--reference", default="512:1")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("data/bench/clevr_render_cost"))
    args = ap.parse_args()
    sha = {str(p.relative_to(args.assets)): sha256_file(p) for p in sorted(args.assets.rglob("*.*")) if p.is_file()}
    base = replace(cr.ClevrRenderedConfig(), assets_dir=str(args.assets), assets_sha256=sha, workers=args.workers)
    assets_dir, assets = cr.fetch_assets(base, args.out)
    renderer = cr.renderer_id(base.python)
    print(f"# python -m bench.clevr_render_cost {' '.join(sys.argv[1:])}")
    print(f"# {renderer}; {args.scenes} scenes of seed 0; {args.workers} process(es)")
    results = {}
    for text in dict.fromkeys([args.reference, *args.settings]):
        cfg = replace(base, render=_setting(text))
        out_dir = cr.render_dir(args.out, cfg, cfg.seed, assets)
        start = time.time()
        paths = cr.render_scenes(
            cfg, assets_dir=assets_dir, out_dir=out_dir, seed=cfg.seed, indices=range(args.scenes), renderer=renderer
        )
        wall = time.time() - start
        records = [cr.load_scene(p).record for p in paths]
        results[text] = (_prepared(paths, cfg), records, wall)
    reference = results[args.reference][0].astype(np.float64)
    print("samples:denoise | s/scene (one worker) | CPU s/scene | peak MB | PSNR dB vs ref | MAE | wall s/scene, all")
    for text, (images, records, wall) in results.items():
        error = images.astype(np.float64) - reference
        mse = float(np.mean(error**2))
        psnr = float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)
        print(
            f"{text:>15} | {np.mean([r['seconds'] for r in records]):20.2f} | "
            f"{np.mean([r['cpu_seconds'] for r in records]):11.2f} | {max(r['peak_rss_mb'] for r in records):7.0f} | "
            f"{psnr:14.1f} | {np.mean(np.abs(error)):4.2f} | {wall / args.scenes:.2f}"
        )


if __name__ == "__main__":
    main()
