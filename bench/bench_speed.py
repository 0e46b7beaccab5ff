"""Speed, FLOPs and memory of DRC training and inference, optimised path vs eager fp32 baseline.

    python -m bench.bench_speed                       # both perf modes side by side (what `make bench` prints)
    python -m bench.bench_speed --eager               # the eager fp32 baseline only
    python -m bench.bench_speed --profiles cpu --threads 2 --repeats 5   # only on an otherwise idle machine
    python -m bench.bench_speed --compile-check --profiles cpu           # does torch.compile pay? (minutes)
    python -m bench.bench_speed --ablation --profiles cpu --repeats 10   # which part of the fast path pays
    python -m bench.bench_speed --conv-floor --profiles cpu --repeats 10 # how much of a step the convs are

For each params.yaml profile (default: cpu, and paper at 128 px with batch 2):
- s/iteration: one training iteration (Algorithm 1). cpu profile: whole iterations timed
  (warm-up excluded). paper profile: a 128 px iteration is over a minute on a CPU, so it is
  composed from measured parts: K1 x (posterior Langevin step) + K0 x (prior step) + (the rest
  of an iteration: batch, LEBM update, generator update), each timed separately.
- test-time steps/s/image: posterior Langevin steps per second per image at the profile's
  inference batch (params.yaml; paper: the training batch), i.e. batch x steps / seconds.
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
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from drc import perf
from drc.langevin import frozen
from drc.params import load_params, resolve_settings
from drc.training import Trainer

MODES = ("optimised", "eager")
PROFILE_BATCH = {"paper": 2}  # training batch for the benchmark (None = the profile's own)
PROFILE_REPEATS = {"paper": 2}  # at most this many repeats (a 128 px CPU measurement takes minutes)


def make_trainer(profile: str, mode: str, device: str, batch: int | None = None) -> Trainer:
    settings = resolve_settings(load_params(), "tmdsprites", profile)
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
        torch.autograd.grad(tr.model.posterior_energy(v, x, c.sigma, c.tv_weight), v)
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
    settings = resolve_settings(load_params(), "tmdsprites", profile)
    trainers = {m: make_trainer(profile, m, device) for m in modes}
    any_tr = next(iter(trainers.values()))
    batch, k1, k0 = any_tr.config.batch_size, any_tr.config.posterior_steps, any_tr.config.prior_steps
    direct = profile != "paper"  # whole iterations only where they take seconds
    infer_batch = settings.infer.batch_size if direct else batch
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
    cmd = [sys.executable, "-m", "bench.bench_speed", "--memory-only", profile, mode, "--device", device]
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
    device = torch.device(args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
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
    p.add_argument("--profiles", nargs="+", default=["cpu", "paper"], help="params.yaml profiles")
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
    p.add_argument("--compile-check", action="store_true", help="only: does torch.compile pay (minutes)")
    p.add_argument("--ablation", action="store_true", help="only: posterior step time of up-block variants")
    p.add_argument("--conv-floor", action="store_true", help="only: the convolutions' share of a posterior step")
    p.add_argument("--memory-only", nargs=2, metavar=("PROFILE", "MODE"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def cpu_unless(device: str) -> str:
    """The device of the one-off CPU studies (--ablation, --conv-floor, --compile-check): cpu for "auto"."""
    return "cpu" if device == "auto" else device


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.memory_only:
        torch.set_num_threads(args.threads)
        print(*peak_memory(*args.memory_only, args.device))
        return
    print("command:", " ".join(["python -m bench.bench_speed", *(argv if argv is not None else sys.argv[1:])]))
    if args.ablation:
        torch.set_num_threads(args.threads)
        for profile in args.profiles:
            times = ablation(profile, cpu_unless(args.device), args.repeats)
            ref = times["eager (reference)"]
            print(f"posterior Langevin step, profile {profile}, {args.threads} thread(s), min of {args.repeats}:")
            for name, t in times.items():
                print(f"  {name:56s} {t * 1e3:7.1f} ms   speedup {ref / t:.2f}x")
        return
    if args.conv_floor:
        torch.set_num_threads(args.threads)
        for profile in args.profiles:
            print(conv_floor_table(profile, conv_floor(profile, cpu_unless(args.device), args.repeats)))
        return
    if args.compile_check:
        torch.set_num_threads(args.threads)
        for profile in args.profiles:
            r = compile_check(profile, cpu_unless(args.device), args.repeats)
            print(
                f"torch.compile, profile {profile}, posterior step, {args.threads} thread(s): compile "
                f"{r['compile_s']:.1f} s (cold cache); step {r['optimised_step_s'] * 1e3:.1f} ms optimised eager "
                f"vs {r['compiled_step_s'] * 1e3:.1f} ms compiled; pays after "
                f"{r['break_even_iterations']:.0f} training iterations"
            )
        return
    results = run(args)
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


# -- which parts of the optimised path pay: variants of the up-block, posterior step time -----------
def _up_ct(x: torch.Tensor) -> torch.Tensor:
    """Exact bilinear x2 as a fixed depthwise transposed conv on the replicate-padded input."""
    k = torch.tensor([0.25, 0.75, 0.75, 0.25], dtype=x.dtype, device=x.device)
    w = (k[:, None] * k[None, :]).expand(x.shape[1], 1, 4, 4)
    pad = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
    return torch.nn.functional.conv_transpose2d(pad, w, stride=2, padding=3, groups=x.shape[1])


def _block_variant(up: str, layout: str, norm: str) -> Callable[[Any, torch.Tensor], torch.Tensor]:
    F = torch.nn.functional

    def forward(block: Any, x: torch.Tensor) -> torch.Tensor:
        _, conv, inorm, act = block
        if layout == "channels_last":
            x = x.contiguous(memory_format=torch.channels_last)
        h = conv(_up_ct(x) if up == "conv_transpose" else F.interpolate(x, scale_factor=2, mode="bilinear"))
        if norm.endswith("(NCHW)"):
            h = h.contiguous()
        if norm.startswith("group_norm"):
            h = F.group_norm(h, h.shape[1], inorm.weight, inorm.bias, inorm.eps)
        else:
            h = inorm(h)
        return F.leaky_relu(h, act.negative_slope)

    return forward


ABLATION = {  # name: (upsample, layout of upsample + conv, instance norm as)
    "eager (reference)": None,
    "group_norm only": ("interpolate", "NCHW", "group_norm"),
    "conv_transpose upsample + group_norm": ("conv_transpose", "NCHW", "group_norm"),
    "channels_last up+conv, InstanceNorm2d (NCHW)": ("interpolate", "channels_last", "instance_norm (NCHW)"),
    "channels_last up+conv, group_norm in channels_last": ("interpolate", "channels_last", "group_norm"),
    "channels_last conv_transpose + conv, group_norm (NCHW)": ("conv_transpose", "channels_last", "group_norm (NCHW)"),
    "optimised (channels_last up+conv, group_norm NCHW)": "optimised",
}


def ablation(profile: str, device: str, repeats: int) -> dict[str, float]:
    """Seconds per posterior Langevin step for each variant (interleaved, minimum over repeats)."""
    import types

    from drc.model.networks import UpBlock

    tr = make_trainer(profile, "eager", device)
    blocks = [m for m in tr.model.modules() if isinstance(m, UpBlock)]
    parts = Parts(tr, 1)

    def use(variant: Any) -> None:
        perf.configure(tr.model, "optimised" if variant == "optimised" else "eager")
        for b in blocks:
            b.__dict__.pop("forward", None)
            if isinstance(variant, tuple):
                b.forward = types.MethodType(_block_variant(*variant), b)

    best = dict.fromkeys(ABLATION, float("inf"))
    for variant in ABLATION.values():  # warm-up
        use(variant)
        parts.posterior()
    for _ in range(repeats):
        for name, variant in ABLATION.items():
            use(variant)
            best[name] = min(best[name], parts.posterior())
    use(None)
    return best


# -- the convolutions' share of a posterior step: the floor of any rewrite of the other ops ----------
class ConvRecorder(TorchDispatchMode):
    """Records every convolution a block of code runs: input shape and layout, weight shape, options."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[Any, ...]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 (torch's signature)
        if func is torch.ops.aten.convolution.default:
            x, w, b, stride, padding, dilation, transposed, _, groups = args
            if transposed:
                raise NotImplementedError("ConvRecorder replays plain convolutions only")
            nhwc = x.is_contiguous(memory_format=torch.channels_last)
            layout = torch.channels_last if nhwc else torch.contiguous_format
            self.calls.append(
                (tuple(x.shape), layout, tuple(w.shape), b is not None, stride, padding, dilation, groups)
            )
        return func(*args, **(kwargs or {}))


def replay_convs(calls: list[tuple[Any, ...]], device: torch.device) -> Callable[[], None]:
    """A function that runs each recorded convolution alone, forward and input gradient (what a
    Langevin step needs of it), on random tensors of the recorded shapes and layouts."""
    F = torch.nn.functional
    prepared = []
    for shape, layout, w_shape, has_bias, stride, padding, dilation, groups in calls:
        x = torch.randn(shape, device=device).contiguous(memory_format=layout)
        w = torch.randn(w_shape, device=device)
        b = torch.randn(w_shape[0], device=device) if has_bias else None
        prepared.append((x, w, b, stride, padding, dilation, groups))

    def run() -> None:
        for x, w, b, stride, padding, dilation, groups in prepared:
            v = x.detach().requires_grad_(True)
            y = F.conv2d(v, w, b, stride, padding, dilation, groups)
            torch.autograd.grad(y, v, torch.ones_like(y))

    return run


def conv_floor(profile: str, device: str, repeats: int) -> dict[str, dict[str, float]]:
    """Per mode: seconds of a posterior Langevin step, and of its convolutions alone (replayed with the
    same shapes and layouts, forward + input gradient), interleaved, minimum over repeats."""
    out: dict[str, dict[str, float]] = {}
    runners = {}
    for mode in MODES:
        tr = make_trainer(profile, mode, device)
        parts = Parts(tr, 1)
        recorder = ConvRecorder()
        with recorder:
            parts.posterior(steps=1)
        runners[mode] = (parts, replay_convs(recorder.calls, tr.device))
        out[mode] = {"step_s": float("inf"), "convs_s": float("inf"), "n_convs": len(recorder.calls)}
    for _ in range(max(repeats, 1)):
        for mode, (parts, convs) in runners.items():
            out[mode]["step_s"] = min(out[mode]["step_s"], parts.posterior())
            convs()
            out[mode]["convs_s"] = min(out[mode]["convs_s"], timed(convs, parts.tr.device))
    return out


def conv_floor_table(profile: str, r: dict[str, dict[str, float]]) -> str:
    lines = [f"posterior Langevin step, profile {profile}, {torch.get_num_threads()} thread(s):"]
    for mode, v in r.items():
        rest = v["step_s"] - v["convs_s"]
        lines.append(
            f"  {mode:9s} step {v['step_s'] * 1e3:7.1f} ms = {v['n_convs']} convolutions {v['convs_s'] * 1e3:6.1f} ms "
            f"(fwd + input grad, alone) + everything else {rest * 1e3:6.1f} ms"
        )
    eager, opt = r["eager"]["step_s"], r["optimised"]["convs_s"]
    lines.append(
        f"  ceiling: with everything but the optimised convolutions free, a step would be "
        f"{eager / opt:.2f}x faster than eager (now {eager / r['optimised']['step_s']:.2f}x)"
    )
    return "\n".join(lines)


# -- torch.compile: does it pay? -------------------------------------------------------------------
def compile_check(profile: str, device: str, repeats: int) -> dict[str, float]:
    """Compile time and step time of torch.compile on the optimised posterior step (cold cache)."""
    import torch._inductor.config as inductor_config

    inductor_config.force_disable_caches = True  # measure a cold compile, as a fresh machine sees it
    tr = make_trainer(profile, "optimised", device)
    c, b = tr.config, tr.config.batch_size
    x, z = tr.images[:b].to(tr.device), tr.z_post[:b].to(tr.device)

    def energy(v: torch.Tensor) -> torch.Tensor:
        return tr.model.posterior_energy(v, x, c.sigma, c.tv_weight)

    compiled = torch.compile(energy, dynamic=False)

    def step(fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        v = z.clone().requires_grad_(True)
        torch.autograd.grad(fn(v), v)

    with frozen(tr.model):
        compile_s = timed(lambda: step(compiled), tr.device)
        step(energy)
        eager_s = compiled_s = float("inf")
        for _ in range(repeats):
            eager_s = min(eager_s, timed(lambda: step(energy), tr.device))
            compiled_s = min(compiled_s, timed(lambda: step(compiled), tr.device))
    saved = (eager_s - compiled_s) * c.posterior_steps  # per training iteration
    return {
        "compile_s": compile_s,
        "optimised_step_s": eager_s,
        "compiled_step_s": compiled_s,
        "break_even_iterations": compile_s / saved if saved > 0 else float("inf"),
    }


# -- GPU memory estimate from CPU measurements ---------------------------------------------------------
def saved_bytes(fn: Callable[[], Any]) -> tuple[int, int]:
    """(total, largest) bytes of the distinct storages autograd saves for backward while ``fn`` runs."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values()), max(seen.values(), default=0)


def activation_memory(profile: str, mode: str, batch: int) -> dict[str, int]:
    """Saved activations of one posterior Langevin step and of the generator update at ``batch``."""
    tr = make_trainer(profile, mode, "cpu", batch=batch)
    c = tr.config
    x, z = tr.images[:batch], tr.z_post[:batch]

    def langevin_step() -> None:
        with frozen(tr.model):
            v = z.clone().requires_grad_(True)
            tr.model.posterior_energy(v, x, c.sigma, c.tv_weight)

    def update() -> None:
        tr.generator_loss(tr.model.render(z), x, z)["total"]

    post, post_max = saved_bytes(langevin_step)
    upd, upd_max = saved_bytes(update)
    params = sum(p.numel() * p.element_size() for p in tr.model.parameters())
    return {"langevin": post, "langevin_max": post_max, "update": upd, "update_max": upd_max, "params": params}


def gpu_memory_estimate(profile: str = "paper", target_batch: int = 48, mode: str = "optimised") -> dict[str, Any]:
    """Extrapolate the activation memory linearly from batches 2 and 4 to ``target_batch``.

    GPU peak ~ parameters x 4 (weights, gradients, Adam's two moments) + the update's saved
    activations + 3 x its largest saved tensor (gradient buffers in flight during backward). The
    Langevin steps save less than the update (no classifiers), so the update sets the peak. The
    persistent chains and the training images stay in host memory. Not included: the CUDA context
    (~0.5 GB) and cuDNN workspaces; fp32 (perf mode "max" would halve the convs' saved inputs).
    """
    a2, a4 = activation_memory(profile, mode, 2), activation_memory(profile, mode, 4)
    out: dict[str, Any] = {"profile": profile, "batch": target_batch, "mode": mode, "params_bytes": a2["params"]}
    for key in ("langevin", "update"):
        per_image = (a4[key] - a2[key]) / 2
        out[f"{key}_per_image_mb"] = per_image / 2**20
        out[f"{key}_gb"] = (a2[key] + per_image * (target_batch - 2)) / 2**30
        out[f"{key}_largest_gb"] = a2[f"{key}_max"] / 2 * target_batch / 2**30
    static = 4 * a2["params"] / 2**30
    out["static_gb"] = static
    out["peak_gb"] = static + max(out["update_gb"] + 3 * out["update_largest_gb"], out["langevin_gb"])
    return out


def memory_table(est: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"GPU memory estimate, profile {est['profile']} at batch {est['batch']} (fp32, extrapolated from "
            f"saved activations at batch 2 and 4 on CPU, perf mode {est['mode']}):",
            f"  parameters {est['params_bytes'] / 2**20:.0f} MB; x4 with gradients and Adam: {est['static_gb']:.2f} GB",
            f"  posterior Langevin step: {est['langevin_per_image_mb']:.0f} MB/image -> {est['langevin_gb']:.2f} GB",
            f"  generator update: {est['update_per_image_mb']:.0f} MB/image -> {est['update_gb']:.2f} GB "
            f"(+ {3 * est['update_largest_gb']:.2f} GB gradient buffers)",
            f"  estimated peak: {est['peak_gb']:.2f} GB (+ CUDA context and cuDNN workspace) "
            f"-> {'fits' if est['peak_gb'] < 14.5 else 'does NOT fit'} a 16 GB GPU",
        ]
    )


if __name__ == "__main__":
    main()
