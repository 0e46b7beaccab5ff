"""How much of a posterior Langevin step the convolutions are: the floor under any rewrite of the other ops.

    python -m bench.conv_floor --profiles cpu --repeats 10

Records every convolution of one step (a TorchDispatchMode on aten.convolution), replays each alone
(forward + input gradient, what a Langevin step needs of it) on tensors of the recorded shapes and
layouts, and compares with the whole step, for the optimised and the eager path (docs/performance.md).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from bench.speed import MODES, Parts, make_trainer, timed


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


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profiles", nargs="+", default=["cpu"], help="profiles (drc/profiles/)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=10, help="timed repeats (minimum reported)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print("command:", " ".join(["python -m bench.conv_floor", *(argv if argv is not None else sys.argv[1:])]))
    for profile in args.profiles:
        print(conv_floor_table(profile, conv_floor(profile, args.device, args.repeats)))


if __name__ == "__main__":
    main()
