"""Speed, FLOPs and memory of DRC training and inference, optimised path vs eager fp32 baseline.

    python -m bench.speed                       # both perf modes side by side (what `make bench` prints)
    python -m bench.speed --eager               # the eager fp32 baseline only
    python -m bench.speed --profiles cpu --threads 2 --repeats 5   # only on an otherwise idle machine

How much of a step the convolutions are: bench/conv_floor.py; GPU memory at the paper's batch:
bench/memory.py. For each profile (drc/profiles/; default: cpu, and paper at 128 px with batch 2):
- s/iteration: one training iteration (Algorithm 1). cpu profile: whole iterations timed
  (warm-up excluded). paper profile: a 128 px iteration is over a minute on a CPU, so it is
  composed from measured parts: K1 x (posterior Langevin step) + K0 x (prior step) + (the rest
  of an iteration: batch, LEBM update, generator update), each timed separately.
- test-time steps/s/image: posterior Langevin steps per second per image at the profile's
  inference batch (the profile's sampler.batch_size; paper: the training batch), i.e. batch x steps / seconds.
- GFLOP/step: FLOPs of one posterior Langevin step (energy + gradient w.r.t. z) at the training
  batch, counted by torch.utils.flop_counter.FlopCounterMode (convolutions and matmuls), and the
  fraction of the machine's peak that achieves; the peak is estimated on the spot from a
  2048 x 2048 float32 matmul at the same thread count.
- peak memory: RSS of a fresh subprocess running one iteration with K1 = K0 = 1 (CPU; includes
  the interpreter, torch and the random training images) or torch.cuda.max_memory_allocated (CUDA).
Timings interleave the two modes (A B A B ...) and report the minimum over repeats, so load
from other processes affects both alike; the printed load average says how busy the machine was.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from drc.devices import resolve_device
from drc.langevin import frozen
from drc.params import resolve_settings
from drc.training import Trainer

MODES = ("optimised", "eager")
PROFILE_BATCH = {"paper": 2}  # training batch for the benchmark (None = the profile's own)
PROFILE_REPEATS = {"paper": 2}  # at most this many repeats (a 128 px CPU measurement takes minutes)


def make_trainer(profile: str, mode: str, device: str, batch: int | None = None) -> Trainer:
    settings = resolve_settings("tmdsprites", profile)
    batch = batch or PROFILE_BATCH.get(profile) or settings.train.batch_size
    res = settings.model.resolution
    train = dataclasses.replace(settings.train, batch_size=batch, device=device, hflip=True, perf=mode)
    torch.manual_seed(0)
    images = torch.rand(max(4 * batch, 8), 3, res, res) * 2 - 1  # content does not change the speed
    trainer = Trainer(settings.model, train, images)
    assert trainer.perf_mode == mode
    return trainer


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], device: torch.device) -> float:
    sync(device)
    t = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t


def matmul_peak_gflops(device: torch.device, n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    best = min(timed(lambda: a @ b, device) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def posterior_flops(tr: Trainer) -> float:
    c, b = tr.config, tr.config.batch_size
    x, z = tr.images[:b].to(tr.device), tr.z_post[:b].to(tr.device)
    with frozen(tr.model), FlopCounterMode(display=False) as counter:
        v = z.clone().requires_grad_(True) * 1.0  # a non-leaf: FlopCounterMode rejects leaf inputs
        torch.autograd.grad(tr.model.posterior_energy(v, x, c.sigma, c.tv_norm), v)
    return counter.get_total_flops()


class Parts:
    """Timers for one trainer: posterior / prior steps, the rest of an iteration, whole iterations."""

    def __init__(self, tr: Trainer, infer_batch: int) -> None:
        self.tr = tr
        b = tr.config.batch_size
        self.x = tr.images[:b].to(tr.device)
        self.z = tr.z_post[:b].to(tr.device)
        self.x_inf = (tr.images[:1].expand(infer_batch, -1, -1, -1)).contiguous().to(tr.device)
        self.z_inf = torch.randn(infer_batch, tr.z_post.shape[1], device=tr.device)

    def posterior(self, steps: int = 3) -> float:
        return timed(lambda: self.tr.sample_posterior(self.z, self.x, steps), self.tr.device) / steps

    def prior(self, steps: int = 5) -> float:
        return timed(lambda: self.tr.sample_prior(self.z, steps), self.tr.device) / steps

    def inference(self, steps: int = 1) -> float:
        """Seconds per posterior step at the inference batch (model in eval mode, as extract)."""
        tr = self.tr
        tr.model.eval()
        try:
            return timed(lambda: tr.sample_posterior(self.z_inf, self.x_inf, steps), tr.device) / steps
        finally:
            tr.model.train()

    def rest(self) -> float:
        """An iteration without Langevin steps: batch, LEBM update, generator update."""
        tr, config = self.tr, self.tr.config
        tr.config = dataclasses.replace(config, posterior_steps=0, prior_steps=0)
        try:
            return timed(tr.step, tr.device)
        finally:
            tr.config = config

    def iteration(self) -> float:
        return timed(self.tr.step, self.tr.device)


def measure(profile: str, modes: tuple[str, ...], device: str, repeats: int) -> dict[str, dict[str, Any]]:
    """Interleaved timings of ``modes`` for one profile; returns {mode: results}."""
    settings = resolve_settings("tmdsprites", profile)
    trainers = {m: make_trainer(profile, m, device) for m in modes}
    any_tr = next(iter(trainers.values()))
    batch, k1, k0 = any_tr.config.batch_size, any_tr.config.posterior_steps, any_tr.config.prior_steps
    direct = profile != "paper"  # whole iterations only where they take seconds
    infer_batch = settings.sampler.batch_size if direct else batch
    parts = {m: Parts(tr, infer_batch) for m, tr in trainers.items()}
    best: dict[str, dict[str, float]] = {m: {} for m in modes}

    def keep(mode: str, key: str, value: float) -> None:
        best[mode][key] = min(best[mode].get(key, float("inf")), value)

    for m in modes:  # warm-up: first calls allocate, pick kernels, fill caches
        parts[m].posterior()
        parts[m].inference()
        if direct:
            parts[m].iteration()
        else:
            parts[m].rest()
    for _ in range(min(repeats, PROFILE_REPEATS.get(profile, repeats))):
        for m in modes:
            p = parts[m]
            keep(m, "posterior_step_s", p.posterior())
            keep(m, "prior_step_s", p.prior())
            keep(m, "infer_step_s", p.inference())
            if direct:
                keep(m, "iteration_s", p.iteration())
            else:
                keep(m, "rest_s", p.rest())
    out = {}
    for m in modes:
        r = dict(best[m])
        if not direct:
            r["iteration_s"] = k1 * r["posterior_step_s"] + k0 * r["prior_step_s"] + r["rest_s"]
        r["iteration_how"] = "measured" if direct else f"composed: {k1} x post + {k0} x prior + rest"
        r["gflop_per_step"] = posterior_flops(trainers[m]) / 1e9
        r["infer_steps_per_s_per_image"] = infer_batch / r["infer_step_s"]
        r.update(profile=profile, mode=m, batch=batch, infer_batch=infer_batch, k1=k1, k0=k0)
        r["resolution"] = settings.model.resolution
        out[m] = r
    return out


def peak_memory(profile: str, mode: str, device: str) -> tuple[float, float]:
    """Peak memory (MB) of one training iteration with K1 = K0 = 1 (the peak does not grow with the
    number of Langevin steps): RSS of a fresh process on CPU, the allocator's peak on CUDA."""
    base = current_rss_mb()  # the interpreter, torch and its libraries
    tr = make_trainer(profile, mode, device)
    tr.config = dataclasses.replace(tr.config, posterior_steps=1, prior_steps=1)
    if tr.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        tr.step()
        return torch.cuda.max_memory_allocated() / 2**20, 0.0
    tr.step()
    return peak_rss_mb(), base


def current_rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    except (OSError, StopIteration):
        return 0.0


def peak_rss_mb() -> float:
    """This process's peak resident set size. VmHWM, not ru_maxrss: Linux carries ru_maxrss over
    from the parent across fork + exec, so a child would report at least the parent's size."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_memory_subprocess(profile: str, mode: str, device: str, threads: int) -> tuple[float, float]:
    cmd = [sys.executable, "-m", "bench.speed", "--memory-only", profile, mode, "--device", device]
    cmd += ["--threads", str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    peak, base = out.stdout.strip().splitlines()[-1].split()
    return float(peak), float(base)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average": os.getloadavg(),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    modes = ("eager",) if args.eager else MODES
    peak = matmul_peak_gflops(device)
    results: dict[str, Any] = {"machine": machine(), "peak_gflops": peak, "device": str(device), "profiles": {}}
    for profile in args.profiles:
        r = measure(profile, modes, str(device), args.repeats)
        for m in modes:
            r[m]["peak_fraction"] = r[m]["gflop_per_step"] / r[m]["posterior_step_s"] / peak
            if not args.no_memory:
                peak_mb, base_mb = peak_memory_subprocess(profile, m, str(device), args.threads)
                r[m]["peak_memory_mb"], r[m]["memory_above_import_mb"] = peak_mb, peak_mb - base_mb
        results["profiles"][profile] = r
    results["machine"]["load_average_after"] = os.getloadavg()
    return results


ROWS = (
    ("s/iteration", "iteration_s", "{:.3f}", True),
    ("posterior Langevin step, s", "posterior_step_s", "{:.4f}", True),
    ("prior Langevin step, s", "prior_step_s", "{:.5f}", None),
    ("test-time steps/s/image", "infer_steps_per_s_per_image", "{:.1f}", False),
    ("GFLOP / posterior step", "gflop_per_step", "{:.2f}", None),
    ("fraction of matmul peak", "peak_fraction", "{:.1%}", None),
    ("peak memory, MB", "peak_memory_mb", "{:.0f}", None),
    ("  of which above import, MB", "memory_above_import_mb", "{:.0f}", None),
)


def table(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, {m['threads']} thread(s), "
        f"device {results['device']}; load average {m['load_average'][0]:.2f} before, "
        f"{m['load_average_after'][0]:.2f} after",
        f"matmul peak (2048x2048 fp32, measured now): {results['peak_gflops']:.1f} GFLOP/s",
    ]
    for profile, r in results["profiles"].items():
        modes = list(r)
        first = r[modes[0]]
        lines.append("")
        lines.append(
            f"profile {profile}: {first['resolution']} px, training batch {first['batch']} "
            f"(K1={first['k1']}, K0={first['k0']}), inference batch {first['infer_batch']}; "
            f"s/iteration {first['iteration_how']}"
        )
        lines.append(f"| {'':28s} | " + " | ".join(f"{mode:>10s}" for mode in modes) + " |")
        lines.append(f"|{'-' * 30}|" + "|".join("-" * 12 for _ in modes) + "|")
        for label, key, fmt, _ in ROWS:
            if key not in first:
                continue
            lines.append(f"| {label:28s} | " + " | ".join(f"{fmt.format(r[mode][key]):>10s}" for mode in modes) + " |")
        if "eager" in r and "optimised" in r:
            for label, key, _, lower_better in ROWS:
                if lower_better is None or key not in first:
                    continue
                a, b = r["eager"][key], r["optimised"][key]
                lines.append(f"speedup: {(a / b if lower_better else b / a):.2f}x  ({profile}, {label})")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profiles", nargs="+", default=["cpu", "paper"], help="profiles (drc/profiles/)")
    p.add_argument("--eager", action="store_true", help="the eager fp32 baseline only")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: per-core numbers; more threads than free cores can be 50x slower)",
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats per quantity (minimum reported)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--memory-only", nargs=2, metavar=("PROFILE", "MODE"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.memory_only:
        torch.set_num_threads(args.threads)
        print(*peak_memory(*args.memory_only, args.device))
        return
    print("command:", " ".join(["python -m bench.speed", *(argv if argv is not None else sys.argv[1:])]))
    results = run(args)
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
