"""Multi-process training (one process per GPU, or CPU processes with gloo).

    torchrun --nproc_per_node=4 -m drc.distributed --dataset data/prepared/tmdsprites --out ckpt.pt
    torchrun --nproc_per_node=4 -m drc.cli train --dataset data/prepared/tmdsprites --out ckpt.pt  # same

Design (docs/performance.md, "Multi-GPU"):

- Every rank computes the same global minibatch ``batch_indices(N, batch_size, seed, it)``;
  ``train.batch_size`` is the GLOBAL batch. Rank r owns the dataset indices i with i % W == r:
  it holds only their images and their persistent chains, and samples the rows of the global
  batch it owns (so local batch sizes vary from iteration to iteration; one may even be empty).
- All ranks share one seed and draw every random number for the whole global batch (flips,
  short-run initialisations, each Langevin step's noise), keeping their own rows. Their RNG
  streams therefore stay identical, and the union of the ranks' draws is exactly what a single
  process draws.
- Losses are batch means; each rank backpropagates (its rows' sum) / (global batch size), the
  batch-independent orthogonal regulariser only on rank 0, and gradients are summed across ranks
  with one all-reduce per optimiser (a flat buffer; manual, simpler than DDP here because the
  LEBM and generator updates are separate backward passes with their own optimisers). The
  result is the single-process update up to floating-point reassociation (tests/test_ddp.py).
- Checkpoints gather the chains onto rank 0 and have the single-process format: a distributed
  checkpoint resumes in one process and vice versa.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from drc.checkpoint import save_checkpoint
from drc.errors import DRCError
from drc.model.objective import orthogonal_reg
from drc.training import Trainer, batch_indices, check_finite

BATCH_TERMS = ("recon", "tv", "pseudo_f", "pseudo_b")  # generator-loss terms that are batch means


@dataclass
class DistributedTrainer(Trainer):
    """A Trainer for one rank of an initialised process group; pass it the FULL training images."""

    def __post_init__(self) -> None:
        if not dist.is_available() or not dist.is_initialized():
            raise DRCError("DistributedTrainer needs torch.distributed initialised (run under torchrun)")
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        super().__post_init__()  # same seed everywhere: same weights and the same full chains on every rank
        self._n_global = len(self.images)
        self.images = self.images[self.rank :: self.world].clone()
        self.z_post = self.z_post[self.rank :: self.world].clone()
        self.z_prior = self.z_prior[self.rank :: self.world].clone()

    @property
    def n_images(self) -> int:
        return self._n_global

    # -- one iteration ------------------------------------------------------------------------------
    def step(self) -> dict[str, float]:
        c, dev = self.config, self.device
        lr_scale = self.set_learning_rates()
        idx = batch_indices(self._n_global, c.batch_size, c.seed, self.iteration)
        n_batch, d = len(idx), self.z_post.shape[1]
        mine = idx % self.world == self.rank
        pos = torch.nonzero(mine).flatten()  # my positions in the global batch
        rows = idx[mine] // self.world  # my rows in the local shard
        n_local, scale = len(rows), len(rows) / n_batch
        x = self.images[rows]
        if c.hflip:
            flip = (torch.rand(n_batch) < 0.5)[pos]
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        x = x.to(dev)
        if c.persistent_chains:
            z_post0, z_prior0 = self.z_post[rows], self.z_prior[rows]
        else:
            z_post0, z_prior0 = torch.randn(n_batch, d)[pos], torch.randn(n_batch, d)[pos]

        pos_dev = pos.to(dev)
        self._noise_like = lambda z: torch.randn((n_batch, d), dtype=z.dtype, device=z.device)[pos_dev]
        try:
            if n_local:
                z_post = self.sample_posterior(z_post0.to(dev), x, c.posterior_steps)
                z_prior = self.sample_prior(z_prior0.to(dev), c.prior_steps)
            else:  # nothing to sample, but draw the noise to keep every rank's RNG stream in step
                for _ in range(c.posterior_steps + c.prior_steps):
                    torch.randn((n_batch, d), device=dev)
        finally:
            self._noise_like = None
        if c.persistent_chains and n_local:
            self.z_post[rows], self.z_prior[rows] = z_post.cpu(), z_prior.cpu()

        zero = torch.zeros((), device=dev)
        lebm = self.model.lebm
        e_loss = scale * (lebm(z_post)[0].mean() - lebm(z_prior)[0].mean()) if n_local else zero
        self.opt_e.zero_grad(set_to_none=True)
        if e_loss.requires_grad:
            e_loss.backward()
        self._allreduce_grads(self.opt_e)
        self.opt_e.step()

        weights = self.loss_weights()
        parts = dict.fromkeys((*BATCH_TERMS, "ortho"), zero)
        mse = fg = zero
        if n_local:
            r = self.model.render(z_post)
            terms = self.generator_loss(r, x, z_post)
            parts.update({k: scale * terms[k] for k in BATCH_TERMS if k in terms})
            with torch.no_grad():
                mse = scale * (r.composite - x).square().mean()
                fg = scale * (r.pi_f > 0.5).float().mean()
        if c.ortho_weight and self.rank == 0:  # not a batch mean: counted once, on rank 0
            parts["ortho"] = (
                terms["ortho"] if n_local else orthogonal_reg(self.model.fg_gen) + orthogonal_reg(self.model.bg_gen)
            )
        total = sum(weights[k] * v for k, v in parts.items())
        self.opt_g.zero_grad(set_to_none=True)
        if torch.is_tensor(total) and total.requires_grad:
            total.backward()
        self._allreduce_grads(self.opt_g)
        self.opt_g.step()
        self.iteration += 1

        present = [k for k in (*BATCH_TERMS, "ortho") if weights[k]]  # the terms generator_loss computes
        values = torch.stack([parts[k].detach().float() for k in present] + [e_loss.detach(), mse, fg])
        dist.all_reduce(values)
        vals = values.tolist()
        logs = {f"loss/{k}": v for k, v in zip(present, vals, strict=False)}
        logs["loss/total"] = sum(weights[k] * logs[f"loss/{k}"] for k in present)
        logs["loss/lebm"], logs["train/mse"], logs["train/fg_fraction"] = vals[-3:]
        logs["train/lr_factor"] = lr_scale
        check_finite(logs, self.iteration)
        return logs

    def _allreduce_grads(self, opt: torch.optim.Optimizer) -> None:
        """Sum gradients over ranks in one flat buffer; a parameter no rank touched keeps grad None."""
        params = [p for group in opt.param_groups for p in group["params"]]
        dev = params[0].device
        touched = torch.tensor([p.grad is not None for p in params], dtype=torch.float32, device=dev)
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in params])
        dist.all_reduce(touched)
        dist.all_reduce(flat)
        offset = 0
        for p, t in zip(params, touched.tolist(), strict=True):
            n = p.numel()
            p.grad = flat[offset : offset + n].view_as(p).clone() if t else None
            offset += n

    # -- chains and checkpoints ---------------------------------------------------------------------
    def gather_chains(self, local: torch.Tensor) -> torch.Tensor:
        """The full N x d chain buffer from every rank's shard (a collective: every rank calls it)."""
        n, w = self._n_global, self.world
        most = -(-n // w)
        dev = self.device if dist.get_backend() == "nccl" else torch.device("cpu")
        padded = torch.zeros(most, local.shape[1], dtype=local.dtype, device=dev)
        padded[: len(local)] = local.to(dev)
        parts = [torch.empty_like(padded) for _ in range(w)]
        dist.all_gather(parts, padded)
        full = torch.empty(n, local.shape[1], dtype=local.dtype)
        for r, part in enumerate(parts):
            count = len(range(r, n, w))
            full[r::w] = part[:count].cpu()
        return full

    def state(self) -> dict:
        local = self.z_post, self.z_prior
        self.z_post, self.z_prior = self.gather_chains(local[0]), self.gather_chains(local[1])
        try:
            state = super().state()
        finally:
            self.z_post, self.z_prior = local
        state["distributed"] = {"world_size": self.world}
        return state

    def save(self, path: str | Path) -> None:
        state = self.state()  # collective
        if self.rank == 0:
            save_checkpoint(path, state)
        dist.barrier()

    def load(self, path: str | Path) -> None:
        super().load(path)  # full chains; every rank reads the same file and RNG state
        self.z_post = self.z_post[self.rank :: self.world].clone()
        self.z_prior = self.z_prior[self.rank :: self.world].clone()

    def chain_scores(self, *args: object, **kwargs: object) -> dict[str, float]:
        raise DRCError("chain_scores needs all chains: load the checkpoint in one process instead")


# -- entry point: torchrun -m drc.distributed ------------------------------------------------------
def init_process_group() -> torch.device:
    """Initialise from torchrun's environment; returns this rank's device."""
    if "RANK" not in os.environ:
        raise DRCError("run under torchrun (e.g. torchrun --nproc_per_node=2 -m drc.distributed ...)")
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    return torch.device("cuda", local_rank) if cuda else torch.device("cpu")


def train_distributed(
    dataset_dir: str | Path,
    split: str,
    settings,  # drc.experiment.Settings
    checkpoint: str | Path,
    resume: bool = True,
) -> DistributedTrainer:
    """``drc.experiment.train_model`` for one rank (no DVCLive logging: rank 0 prints the losses)."""
    from drc.experiment import build_trainer

    trainer, *_ = build_trainer(dataset_dir, split, settings, checkpoint, resume, DistributedTrainer)
    checkpoint = Path(checkpoint)

    def log(iteration: int, logs: dict[str, float], tr: Trainer) -> None:
        if trainer.rank == 0:
            print(f"it {iteration}: " + ", ".join(f"{k}={v:.4g}" for k, v in logs.items()), flush=True)

    trainer.run(checkpoint_path=checkpoint, log=log, progress=trainer.rank == 0)
    if not checkpoint.is_file():
        trainer.save(checkpoint)
    return trainer


def under_torchrun() -> bool:
    """True in a process that torchrun started with more than one rank."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def run_ranks(dataset_dir: str | Path, split: str, settings, checkpoint: str | Path, resume: bool = True) -> None:
    """Join torchrun's process group, train this rank, leave the group (``drc train`` and ``main``)."""
    device = init_process_group()
    if device.type == "cuda":
        from dataclasses import replace

        settings = replace(settings, train=replace(settings.train, device=str(device)))
    try:
        trainer = train_distributed(dataset_dir, split, settings, checkpoint, resume=resume)
        if trainer.rank == 0:
            print(f"trained {trainer.iteration} iterations on {trainer.world} ranks -> {checkpoint}")
    finally:
        dist.destroy_process_group()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, type=Path, help="prepared dataset folder")
    p.add_argument("--out", required=True, type=Path, help="checkpoint (resumed if it exists)")
    p.add_argument("--name", default="tmdsprites", help="dataset name in params.yaml's paper_by_dataset")
    p.add_argument("--split", default="all")
    p.add_argument("--params", type=Path, default=Path("params.yaml"))
    p.add_argument("--profile", default=None, help="override params.yaml's profile")
    p.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    args = p.parse_args(argv)
    from drc.params import load_params, resolve_settings

    settings = resolve_settings(load_params(args.params), args.name, args.profile)
    run_ranks(args.dataset, args.split, settings, args.out, resume=not args.fresh)


if __name__ == "__main__":
    main()
