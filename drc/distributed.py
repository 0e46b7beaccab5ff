"""Multi-process training (one process per GPU, or CPU processes with gloo).

    torchrun --nproc_per_node=4 -m drc.cli train --dataset data/prepared/tmdsprites --out ckpt.pt

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
  checkpoint resumes in one process and vice versa. A signal stops every rank after the same
  iteration (``agreed_stop``), so the checkpoint written on the way out is consistent.
- The step itself is ``Trainer.step``: one process is the one-rank case of the same sharding.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.distributed as dist

from drc.checkpoint import save_checkpoint
from drc.config import ModelConfig, TrainConfig
from drc.errors import DRCError
from drc.stopping import StopRequest
from drc.training import Trainer


@dataclass
class DistributedTrainer(Trainer):
    """A Trainer for one rank of an initialised process group; pass it the FULL training images.

    ``Trainer.step`` does the sharding (this rank's rows of the global batch, its share of each batch
    mean); this class adds only what crosses processes: the gradient and log sums, the agreed stop and
    the gathered checkpoint.
    """

    def __post_init__(self) -> None:
        if not dist.is_available() or not dist.is_initialized():
            raise DRCError("DistributedTrainer needs torch.distributed initialised (run under torchrun)")
        super().__post_init__()  # same seed everywhere: same weights and the same full chains on every rank
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        self.images = self.images[self.rank :: self.world].clone()
        self.z_post = self.z_post[self.rank :: self.world].clone()
        self.z_prior = self.z_prior[self.rank :: self.world].clone()

    def reduce_gradients(self, opt: torch.optim.Optimizer) -> None:
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

    def reduce_values(self, values: torch.Tensor) -> torch.Tensor:
        dist.all_reduce(values)
        return values

    def agreed_stop(self, request: StopRequest) -> int | None:
        """Every rank stops at the same iteration (the checkpoint is a collective): the largest signal seen."""
        signum = torch.tensor([request.signum or 0], device=self.device)
        dist.all_reduce(signum, op=dist.ReduceOp.MAX)
        return int(signum) or None

    # -- chains and checkpoints ---------------------------------------------------------------------
    def gather_chains(self, local: torch.Tensor) -> torch.Tensor:
        """The full N x d chain buffer from every rank's shard (a collective: every rank calls it)."""
        n, w = self.n_images, self.world
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
        raise DRCError("run under torchrun (e.g. torchrun --nproc_per_node=2 -m drc.cli train ...)")
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    return torch.device("cuda", local_rank) if cuda else torch.device("cpu")


def under_torchrun() -> bool:
    """True in a process that torchrun started with more than one rank."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def run_ranks(
    dataset_dir: str | Path,
    split: str,
    model: ModelConfig,
    train: TrainConfig,
    checkpoint: str | Path,
    profile: str | None = None,
    resume: bool = True,
    force: bool = False,
) -> None:
    """``drc.trainrun.train_model`` for this rank of torchrun's processes (``drc train`` under torchrun): join
    the process group, train, leave it. No DVCLive logging: rank 0 prints the losses."""
    from drc.trainrun import build_trainer

    device = init_process_group()
    try:
        train = replace(train, device=str(device)) if device.type == "cuda" else train
        trainer, *_ = build_trainer(
            dataset_dir, split, model, train, checkpoint, resume, profile, DistributedTrainer, force=force
        )

        def log(iteration: int, logs: dict[str, float], tr: Trainer) -> None:
            if trainer.rank == 0:
                print(f"it {iteration}: " + ", ".join(f"{k}={v:.4g}" for k, v in logs.items()), flush=True)

        trainer.run(checkpoint_path=checkpoint, log=log, progress=trainer.rank == 0)
        if not Path(checkpoint).is_file():
            trainer.save(checkpoint)
        if trainer.rank == 0:
            print(f"trained {trainer.iteration} iterations on {trainer.world} ranks -> {checkpoint}")
    finally:
        dist.destroy_process_group()
