"""Two CPU processes (gloo) train what one process trains, up to floating-point reassociation.

Why tolerances and not bit equality: each rank runs only its rows of the global batch (oneDNN
may compute a batch of 1-3 rows with other blocking than a batch of 4) and gradients are summed
across ranks rather than inside one batch, so float sums are reassociated (~1e-7 relative).
Everything random is drawn identically (drc/distributed.py). But DRC training amplifies such
differences, so the comparison is built around that:

- Adam's first steps move each weight by about +-lr whatever its gradient's size, so elements
  whose gradient is ~0 (e.g. biases instance norm nearly cancels) move on the sign of rounding
  noise, and sharp posterior Langevin (sigma = 0.25) turns those weight differences into chain
  differences. After 4 iterations, one process with 1 thread vs the same process with 2 threads
  already differed by ~40 % (relative L2 of the weight change, a one-off check): comparing
  weights after several iterations cannot tell a correct distributed run from a wrong one.
- So test 1 compares ONE iteration tightly: the all-reduced gradients of every parameter (this
  also catches a wrong loss scale, which Adam would hide), every logged loss and the chains.
- Test 2 runs 4 iterations with learning rates 1e-9 and posterior step 1e-3 (weights stay put and
  chains move by their noise, so nothing amplifies) and
  checks the bookkeeping across iterations: which rank owns which chain, write-back, uneven and
  empty shards, the gather into the checkpoint, and that every rank's RNG stream stayed equal to
  the single process's. This run also flips the images, and test 3 checks that every rank trained
  on exactly (bit for bit) its rows of the single process's flipped batches.

Observed on 2-core dev machines: one-iteration gradients 3e-4 on one CPU, 3.5e-3 on another (an
AMD EPYC: other kernels, other rounding), chains 5e-5 on both; chains after 4 frozen iterations
3e-5, prior chains 1e-8 (relative L2). Deliberate bugs give 1e-1..1: noise rows given to the wrong
chains 0.6 / 1.3; a missing 1/global-batch loss scale 1.4 (gradients); flips taken from the
wrong rows of the global draw fail test 3.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from drc.checkpoint import read_checkpoint
from drc.training import Trainer, batch_indices
from tests.helpers import (
    images_to_tensor,
    squares_on_stripes,
    tiny_model_config,
    tiny_train_config,
    torch_threads,
    write_squares,
)

ITERATIONS = 4
WORLD = 2
GRAD_TOL = 1e-2  # relative L2 over all parameters' gradients after one iteration
CHAIN_TOL = 1e-3  # relative L2 of the chains' change from their initial state
FROZEN_LR = 1e-9


def settings(lr: float | None = None):
    """The tiny test model on 10 images, global batch 4 (per-rank batches are uneven, some empty).

    Test 1 uses posterior step 0.02 (paper 0.1): the sharp Laplace posterior with its |g - x| kinks
    makes s = 0.1 chaotic enough to grow rounding differences to 1e-2 within a few steps. Test 2
    (``lr``) freezes the weights and uses step 1e-3, where the chains move by their noise.
    """
    images, _ = squares_on_stripes(n=10)
    extra = {"posterior_step_size": 0.02}
    if lr is not None:
        extra = {"lr_generator": lr, "lr_lebm": lr, "posterior_step_size": 1e-3}
    train = tiny_train_config(iterations=ITERATIONS, batch_size=4, checkpoint_every=ITERATIONS, hflip=True, **extra)
    return tiny_model_config(), train, images_to_tensor(images)


def grads(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.grad is not None}


@contextmanager
def recording_batches() -> Iterator[list[torch.Tensor]]:
    """The images each training step trains on (after flips), in order of iterations."""
    seen: list[torch.Tensor] = []
    real = Trainer.batch_images

    def spy(self: Trainer, rows: torch.Tensor, pos: torch.Tensor, n_batch: int) -> torch.Tensor:
        x = real(self, rows, pos, n_batch)
        seen.append(x.clone())
        return x

    with mock.patch.object(Trainer, "batch_images", spy):
        yield seen


def _worker(rank: int, tmp: str) -> None:
    from drc.distributed import DistributedTrainer

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{tmp}/rendezvous", rank=rank, world_size=WORLD)
    try:
        trainer = DistributedTrainer(*settings())
        logs = trainer.step()
        z_post = trainer.gather_chains(trainer.z_post)
        if rank == 0:
            torch.save({"grads": grads(trainer), "logs": logs, "z_post": z_post}, os.path.join(tmp, "first.pt"))
        trainer = DistributedTrainer(*settings(FROZEN_LR))
        with recording_batches() as batches:
            trainer.run(checkpoint_path=os.path.join(tmp, "ddp.pt"), progress=False)
        torch.save(batches, os.path.join(tmp, f"batches{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("ddp"))
    mp.spawn(_worker, args=(tmp,), nprocs=WORLD, join=True)
    with torch_threads(1):  # as each rank runs
        one = Trainer(*settings())
        z0 = one.z_post.clone()
        logs = one.step()
        several = Trainer(*settings(FROZEN_LR))
        with recording_batches() as batches:
            several.run(progress=False)
    return {
        "z0": z0,
        "first": {"grads": grads(one), "logs": logs, "z_post": one.z_post},
        "ddp_first": torch.load(os.path.join(tmp, "first.pt")),
        "several": several,
        "rng_after": torch.get_rng_state(),
        "ddp": read_checkpoint(os.path.join(tmp, "ddp.pt")),
        "batches": batches,
        "ddp_batches": [torch.load(os.path.join(tmp, f"batches{r}.pt")) for r in range(WORLD)],
    }


def rel(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    a_, b_ = torch.cat([t.double().flatten() for t in a]), torch.cat([t.double().flatten() for t in b])
    return float((a_ - b_).norm() / b_.norm())


def test_batches_split_unevenly_and_one_shard_is_empty():
    _, train, images = settings()
    counts = [
        int((batch_indices(len(images), train.batch_size, train.seed, it) % WORLD == 0).sum())
        for it in range(ITERATIONS)
    ]
    assert any(c != train.batch_size // WORLD for c in counts), counts


def test_one_iteration_gradients_losses_and_chains_match(runs):
    mine, ref, z0 = runs["ddp_first"], runs["first"], runs["z0"]
    assert set(mine["grads"]) == set(ref["grads"])  # the same parameters got gradients
    names = sorted(ref["grads"])
    err = rel([mine["grads"][n] for n in names], [ref["grads"][n] for n in names])
    chains = rel([mine["z_post"] - z0], [ref["z_post"] - z0])
    print(f"one iteration: gradients differ by {err:.1e}, chains by {chains:.1e} (relative L2)")
    assert err < GRAD_TOL and chains < CHAIN_TOL
    assert set(mine["logs"]) == set(ref["logs"])
    for key, value in ref["logs"].items():
        assert mine["logs"][key] == pytest.approx(value, rel=1e-3, abs=1e-6), key


def test_chains_rng_and_checkpoint_across_iterations(runs):
    single, ckpt, z0 = runs["several"], runs["ddp"], runs["z0"]
    assert ckpt["iteration"] == single.iteration == ITERATIONS
    assert ckpt["distributed"] == {"world_size": WORLD}
    post = rel([ckpt["z_post"] - z0], [single.z_post - z0])
    prior = rel([ckpt["z_prior"]], [single.z_prior])
    print(f"{ITERATIONS} iterations: posterior chains differ by {post:.1e}, prior chains by {prior:.1e}")
    assert post < CHAIN_TOL and prior < CHAIN_TOL
    untouched = (single.z_post == z0).all(1)  # rows never in a batch are bit-identical
    assert torch.equal(ckpt["z_post"][untouched], z0[untouched])
    assert torch.equal(ckpt["rng"]["torch"], runs["rng_after"])  # every rank's RNG == one process's


def test_every_rank_trains_on_its_rows_of_the_flipped_batch(runs):
    _, train, images = settings(FROZEN_LR)
    single, per_rank = runs["batches"], runs["ddp_batches"]
    assert len(single) == ITERATIONS and all(len(b) == ITERATIONS for b in per_rank)
    assert not torch.equal(single[0], images[batch_indices(len(images), train.batch_size, train.seed, 0)])
    for it in range(ITERATIONS):
        idx = batch_indices(len(images), train.batch_size, train.seed, it)
        for rank, batches in enumerate(per_rank):
            assert torch.equal(batches[it], single[it][idx % WORLD == rank]), (it, rank)


def test_distributed_checkpoint_resumes_in_one_process(runs, tmp_path):
    torch.save(runs["ddp"], tmp_path / "c.pt")
    resumed = Trainer(*settings(FROZEN_LR))
    resumed.load(tmp_path / "c.pt")
    assert resumed.iteration == ITERATIONS and resumed.z_post.shape == runs["several"].z_post.shape
    resumed.run(until=ITERATIONS + 1, progress=False)


def test_drc_train_under_torchrun_trains_on_two_ranks(tmp_path):
    """`torchrun -m drc.cli train` takes the distributed path and writes a one-process checkpoint."""
    import subprocess
    import sys

    data = write_squares(tmp_path, n=12, splits={})
    out = tmp_path / "model.pt"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={WORLD}",
        "-m",
        "drc.cli",
        "train",
        "--dataset",
        str(data),
        "--out",
        str(out),
        "--profile",
        "tiny",
        "--set",
        "train.iterations=2",
        "--set",
        "train.checkpoint_every=2",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"on {WORLD} ranks" in done.stdout
    ckpt = read_checkpoint(out)
    assert ckpt["iteration"] == 2 and len(ckpt["z_post"]) == 12 and ckpt["profile"] == "tiny"
