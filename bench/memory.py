"""GPU memory of a profile at its training batch, estimated from saved activations measured on the CPU.

python -m bench.memory [--profile paper] [--batch 48]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import torch

from bench.speed import make_trainer
from drc.langevin import frozen


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
            tr.model.posterior_energy(v, x, c.sigma, c.tv_norm)

    def update() -> None:
        tr.generator_loss(tr.model.render(z), x, tr.model.lebm(z)[1:])["total"]

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


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="paper", help="profile (drc/profiles/)")
    p.add_argument("--batch", type=int, default=48, help="the training batch to estimate for")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(memory_table(gpu_memory_estimate(args.profile, args.batch)))


if __name__ == "__main__":
    main()
