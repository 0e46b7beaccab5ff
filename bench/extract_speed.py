"""Throughput and memory of `drc extract` on your own images, at the cpu profile's settings.

    python -m bench.extract_speed [--images 48] [--batches 1 16 250] [--large 1000] [--threads 1]

A cpu-profile model (untrained: speed and memory do not depend on the weights) extracts a folder of
generated JPEGs in a fresh process per measurement. Throughput: images per second at each
``sampler.batch_size`` on ``--images`` photos of 640 x 480, with the profile's test-time settings (150
steps per image from the start encoder, the mask redrawn by GrabCut at each photo's size). Memory: the
peak RSS (VmHWM) of extracting 100 and ``--large`` photos of 3000 x 2000 with one step per image and
no GrabCut (neither changes how memory grows), to show that it does not grow with the number of
images.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

CHILD = """
import json, sys, time
import torch
from drc.config import parse_set
from drc.checkpoint import read_checkpoint
from drc.extraction import extract_folder
from drc.scoring import inference_settings
torch.set_num_threads(int(sys.argv[4]))
checkpoint, folder, out = sys.argv[1:4]
overrides = parse_set(sys.argv[5:])
sampler, readout = inference_settings(read_checkpoint(checkpoint), overrides=overrides)
start = time.perf_counter()
report = extract_folder(checkpoint, [folder], out, sampler, readout, progress=False)
seconds = time.perf_counter() - start
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
print(json.dumps({"images": report.written, "seconds": seconds, "peak_rss_mb": peak}))
"""


def write_photos(folder: Path, n: int, size: tuple[int, int], seed: int = 0) -> None:
    """``n`` JPEGs of ``size`` (w, h): smooth colour gradients with a disc, so they compress like photos."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        t = (xx / w)[..., None]
        image = a * (1 - t) + b * t
        cx, cy, r = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h, rng.uniform(0.1, 0.25) * h
        image[(xx - cx) ** 2 + (yy - cy) ** 2 < r**2] = rng.uniform(0, 255, 3)
        Image.fromarray(image.astype(np.uint8)).save(folder / f"{i:05d}.jpg", quality=90)


def cpu_checkpoint(path: Path) -> None:
    """An untrained model of the cpu profile, saved as training would save it."""
    import torch

    from drc.params import resolve_section
    from drc.training import Trainer

    model = resolve_section("model", "tmdsprites", "cpu")
    train = resolve_section("train", "tmdsprites", "cpu")
    images = torch.zeros(16, 3, model.resolution, model.resolution)
    Trainer(model, train, images, dataset_info={"name": "photos"}, profile="cpu").save(path)


def measure(checkpoint: Path, folder: Path, out: Path, threads: int, overrides: list[str]) -> dict:
    cmd = [sys.executable, "-c", CHILD, str(checkpoint), str(folder), str(out), str(threads), *overrides]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=48, help="photos for the throughput rows")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 16, 250], help="sampler.batch_size values")
    p.add_argument("--large", type=int, default=1000, help="large photos for the memory row (0 skips it)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    print("command:", " ".join(["python -m bench.extract_speed", *(argv if argv is not None else sys.argv[1:])]))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cpu_checkpoint(root / "model.pt")
        t = time.perf_counter()
        write_photos(root / "photos", args.images, (640, 480))
        print(f"wrote {args.images} photos of 640 x 480 in {time.perf_counter() - t:.0f} s")
        for batch in args.batches:
            r = measure(
                root / "model.pt", root / "photos", root / f"out{batch}", args.threads, [f"sampler.batch_size={batch}"]
            )
            print(
                f"batch {batch:4d}: {r['images'] / r['seconds']:.2f} images/s ({r['images']} in {r['seconds']:.0f} s, "
                f"the profile's sampler and read-out), peak RSS {r['peak_rss_mb']:.0f} MB"
            )
        if args.large:
            quick = ["sampler.steps=1", "sampler.settle_steps=0", "sampler.restarts=1", "sampler.batch_size=16"]
            quick += ["readout.refine=none"]  # GrabCut on 6-megapixel photos takes seconds each
            for n in (100, args.large):
                folder = root / f"large{n}"
                write_photos(folder, n, (3000, 2000), seed=n)
                r = measure(root / "model.pt", folder, root / f"outlarge{n}", args.threads, quick)
                print(f"{n:5d} photos of 3000 x 2000 (batch 16, 1 step, no GrabCut): "
                      f"peak RSS {r['peak_rss_mb']:.0f} MB, {r['images'] / r['seconds']:.1f} images/s "
                      "(reading and writing full-size outputs)")  # fmt: skip


if __name__ == "__main__":
    main()
