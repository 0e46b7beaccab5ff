"""Learning DRC by EM with persistent Langevin chains (paper Algorithm 1).

Every source of randomness is torch's global generator (Langevin noise, flips) or a generator
seeded from (seed, epoch) (batch order), so a run resumed from a checkpoint continues exactly
as the uninterrupted run would have. SIGINT / SIGTERM stop the loop after the current iteration
and write a checkpoint there (``drc.stopping``), so an interrupted run resumes where it stopped.

One process is the one-rank case of drc/distributed.py: ``Trainer.step`` shards the global batch by
``rank`` / ``world`` (here 0 / 1: every row is this process's) and calls ``reduce_gradients`` /
``reduce_values`` (here: nothing to reduce), which the distributed trainer overrides.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from drc import perf
from drc.checkpoint import read_checkpoint, save_checkpoint, snapshot_path
from drc.config import ModelConfig, TrainConfig, to_dict
from drc.devices import resolve_device
from drc.errors import DRCError, Interrupted
from drc.langevin import frozen, langevin
from drc.metrics import ArrayLike, resized_scores
from drc.model.drc import DRC, Rendering
from drc.model.objective import (
    estep_objective,
    laplace_loglik,
    orthogonal_reg,
    pseudo_label_loss,
    tv_norm,
)
from drc.runinfo import rng_state, run_info, seed_everything, set_rng_state
from drc.stopping import StopRequest, stop_requests

Logger = Callable[[int, dict[str, float], "Trainer"], None]
ESTIMATE_AFTER = 3  # iterations timed before a run says how long the rest will take
GENERATOR_TERMS = ("recon", "tv", "pseudo_f", "pseudo_b", "ortho")  # in the order they are summed


def batch_indices(n: int, batch_size: int, seed: int, iteration: int) -> torch.Tensor:
    """Rows of iteration ``iteration``: epochs are seeded permutations, the last partial batch dropped."""
    per_epoch = max(n // batch_size, 1)
    epoch, k = divmod(iteration, per_epoch)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    return perm[k * batch_size : (k + 1) * batch_size]


def lr_factor(schedule: str, iteration: int, iterations: int) -> float:
    """Multiplier of every base learning rate at ``iteration`` (0-based): 1 for "constant" (the paper);
    for "cosine", 0.5 (1 + cos(pi t / T)), from 1 at the first iteration towards 0 at the last."""
    if schedule == "constant" or iterations <= 0:
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * min(iteration, iterations) / iterations))


def duration(seconds: float) -> str:
    """A duration in words: "40 s", "12 min", "3 h 05 min"."""
    minutes = round(seconds / 60)
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def check_finite(logs: dict[str, float], iteration: int) -> None:
    """A non-finite loss stops the run with one clear line."""
    bad = {k: v for k, v in logs.items() if not math.isfinite(v)}
    if bad:
        raise DRCError(
            f"training diverged at iteration {iteration} ({bad}); lower the learning rates or "
            "Langevin step sizes, or resume from the last checkpoint"
        )


@dataclass
class Trainer:
    """Owns the model, optimisers and persistent chains for one training set."""

    model_config: ModelConfig
    config: TrainConfig
    images: torch.Tensor  # N x 3 x H x W in [-1, 1]
    dataset_info: dict[str, Any] = field(default_factory=dict)
    profile: str | None = None  # the profile it was trained under: `drc extract` infers with its settings
    iteration: int = 0
    rank: int = field(default=0, init=False)  # this process's shard of the training set (drc/distributed.py)
    world: int = field(default=1, init=False)

    def __post_init__(self) -> None:
        res = self.model_config.resolution
        if tuple(self.images.shape[1:]) != (3, res, res):
            raise DRCError(
                f"training images are {tuple(self.images.shape[1:])} but the model generates 3x{res}x{res}; "
                "set the dataset resolution to the model's"
            )
        seed_everything(self.config.seed)
        self.device = resolve_device(self.config.device)
        self.model = DRC(self.model_config).to(self.device)
        self.perf_mode = perf.mode_of(self.config)  # how the math is executed (drc/perf.py)
        self.perf = perf.configure(self.model, self.perf_mode)
        self._noise_like: Callable[[torch.Tensor], torch.Tensor] | None = None  # this step's Langevin noise
        c = self.config
        betas = (c.beta1, c.beta2)
        groups = [
            {"params": self.model.foreground_parameters(), "lr": c.lr_generator},
            {"params": self.model.background_parameters(), "lr": c.lr_background or c.lr_generator},
        ]
        self.opt_g = torch.optim.Adam(groups, betas=betas)
        self.opt_e = torch.optim.Adam(self.model.lebm.parameters(), lr=c.lr_lebm, betas=betas)
        self._base_lrs = [[g["lr"] for g in opt.param_groups] for opt in (self.opt_g, self.opt_e)]
        self.n_images = len(self.images)  # the whole training set (a rank holds only its shard's images)
        d = self.model_config.z_dim
        # Persistent chains: one posterior and one prior latent per training image (official code).
        self.z_post = torch.randn(self.n_images, d)
        self.z_prior = torch.randn(self.n_images, d)

    # -- one iteration of Algorithm 1 -------------------------------------------------------------
    def sample_posterior(self, z: torch.Tensor, x: torch.Tensor, steps: int) -> torch.Tensor:
        c = self.config
        with frozen(self.model):
            return langevin(
                z,
                lambda v: self.model.posterior_energy(v, x, c.sigma, c.tv_norm),
                steps,
                c.posterior_step_size,
                noise_like=self._noise_like,
            )

    def sample_prior(self, z: torch.Tensor, steps: int) -> torch.Tensor:
        with frozen(self.model):
            return langevin(
                z,
                lambda v: self.model.prior_energy(v).sum(),
                steps,
                self.config.prior_step_size,
                noise_like=self._noise_like,
            )

    def generator_loss(
        self, r: Rendering, x: torch.Tensor, categories: tuple[torch.Tensor, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """The generator-loss terms that are switched on, in ``GENERATOR_TERMS`` order (all batch means but
        "ortho"), and their weighted sum "total". ``categories``: the LEBM's fg and bg category logits at the
        posterior samples, the pseudo labels' targets (read before the LEBM's update, paper Listing 3)."""
        c, m = self.config, self.model
        sigma = c.sigma if c.generator_loglik_scaled else None
        log_pf, log_pb = laplace_loglik(r.fg, x, sigma), laplace_loglik(r.bg, x, sigma)
        terms = {"recon": -estep_objective(r.pi_f, log_pf, log_pb).mean()}
        if c.tv_norm:
            terms["tv"] = tv_norm(r.bg, "mean")
        if c.pseudo_label:
            logits_f, logits_b = categories
            terms["pseudo_f"] = pseudo_label_loss(logits_f, m.fg_classifier(r.fg * torch.sigmoid(r.fg_mask_logit)))
            terms["pseudo_b"] = pseudo_label_loss(
                logits_b, m.bg_classifier(r.bg_raw * torch.sigmoid(r.bg_mask_logit_raw))
            )
        if c.ortho_reg:
            terms["ortho"] = self.ortho_term()
        weights = self.loss_weights()
        terms["total"] = sum(weights[k] * v for k, v in terms.items())
        return terms

    def ortho_term(self) -> torch.Tensor:
        squared = self.config.ortho_squared
        return orthogonal_reg(self.model.fg_gen, squared) + orthogonal_reg(self.model.bg_gen, squared)

    def loss_weights(self) -> dict[str, float]:
        """Weight of each generator-loss term ("ortho" is the only one that is not a batch mean)."""
        c = self.config
        return {
            "recon": 1.0,
            "tv": c.tv_norm,
            "pseudo_f": c.pseudo_label,
            "pseudo_b": c.pseudo_label,
            "ortho": c.ortho_reg,
        }

    def set_learning_rates(self) -> float:
        """Apply the schedule for the current iteration (a function of the iteration alone, so a resumed
        run continues with the same rates); returns the factor."""
        factor = lr_factor(self.config.lr_schedule, self.iteration, self.config.iterations)
        for opt, bases in zip((self.opt_g, self.opt_e), self._base_lrs, strict=True):
            for group, base in zip(opt.param_groups, bases, strict=True):
                group["lr"] = base * factor
        return factor

    def step(self) -> dict[str, float]:
        """One EM iteration on this process's rows of the global batch.

        Every random number is drawn for the whole global batch (flips, short-run starts, each Langevin
        step's noise) and the rows of this shard are kept, so every rank draws what one process draws.
        Batch means are weighted by this shard's share of the batch; "ortho" counts once, on rank 0.
        """
        c, dev = self.config, self.device
        lr_scale = self.set_learning_rates()
        idx = batch_indices(self.n_images, c.batch_size, c.seed, self.iteration)
        n_batch, d = len(idx), self.z_post.shape[1]
        mine = idx % self.world == self.rank
        pos = torch.nonzero(mine).flatten()  # this shard's positions in the global batch
        rows = idx[mine] // self.world  # and its rows in the shard's images and chains
        share = len(rows) / n_batch
        x = self.batch_images(rows, pos, n_batch)
        if c.persistent_chains:
            z_post0, z_prior0 = self.z_post[rows], self.z_prior[rows]
        else:
            z_post0, z_prior0 = torch.randn(n_batch, d)[pos], torch.randn(n_batch, d)[pos]

        pos_dev = pos.to(dev)
        z_post = None
        self._noise_like = lambda z: torch.randn((n_batch, d), dtype=z.dtype, device=z.device)[pos_dev]
        try:
            if len(rows):
                z_post = self.sample_posterior(z_post0.to(dev), x, c.posterior_steps)
                z_prior = self.sample_prior(z_prior0.to(dev), c.prior_steps)
            else:  # nothing to sample, but draw the noise to keep every rank's RNG stream in step
                for _ in range(c.posterior_steps + c.prior_steps):
                    torch.randn((n_batch, d), device=dev)
        finally:
            self._noise_like = None
        if c.persistent_chains and len(rows):
            self.z_post[rows], self.z_prior[rows] = z_post.cpu(), z_prior.cpu()

        # LEBM: lower the energy of posterior samples, raise it at prior samples. Its category logits at the
        # posterior samples, before this update, are the pseudo labels' targets (paper Listing 3).
        zero = torch.zeros((), device=dev)
        lebm = self.model.lebm
        e_loss, categories = zero, None
        if len(rows):
            energy_post, logits_f, logits_b = lebm(z_post)
            e_loss = share * (energy_post.mean() - lebm(z_prior)[0].mean())
            categories = (logits_f.detach(), logits_b.detach())
        self.opt_e.zero_grad(set_to_none=True)
        if e_loss.requires_grad:
            e_loss.backward()
        self.reduce_gradients(self.opt_e)
        self.opt_e.step()

        # Generators and auxiliary classifiers at the posterior samples.
        weights = self.loss_weights()
        parts: dict[str, torch.Tensor] = {}
        mse = fg = zero
        if len(rows):
            r = self.model.render(z_post)
            terms = self.generator_loss(r, x, categories)
            parts = {k: v if k == "ortho" else share * v for k, v in terms.items() if k != "total"}
            with torch.no_grad():
                mse = share * (r.composite - x).square().mean()
                fg = share * (r.pi_f > 0.5).float().mean()
        if c.ortho_reg and self.rank == 0 and "ortho" not in parts:
            parts["ortho"] = self.ortho_term()
        elif self.rank != 0:
            parts.pop("ortho", None)
        total = sum(weights[k] * v for k, v in parts.items())
        self.opt_g.zero_grad(set_to_none=True)
        if torch.is_tensor(total) and total.requires_grad:
            total.backward()
        self.reduce_gradients(self.opt_g)
        self.opt_g.step()
        self.iteration += 1

        present = [k for k in GENERATOR_TERMS if weights[k]]  # the terms generator_loss computes
        local = [parts.get(k, zero) for k in present] + [total if torch.is_tensor(total) else zero, e_loss, mse, fg]
        names = [*present, "total", "lebm"]
        values = self.reduce_values(torch.stack([v.detach().float() for v in local])).tolist()
        logs = {f"loss/{k}": v for k, v in zip(names, values, strict=False)}
        logs["train/lr_factor"] = lr_scale
        logs["train/mse"], logs["train/fg_fraction"] = values[-2:]
        check_finite(logs, self.iteration)
        return logs

    def batch_images(self, rows: torch.Tensor, pos: torch.Tensor, n_batch: int) -> torch.Tensor:
        """This shard's images of the global batch (``rows``; ``pos``: their places in it), on the device,
        flipped at random (train.hflip) by one draw for the whole batch, as one process draws it."""
        x = self.images[rows]
        if self.config.hflip:
            flip = (torch.rand(n_batch) < 0.5)[pos]
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        return x.to(self.device)

    def reduce_gradients(self, opt: torch.optim.Optimizer) -> None:
        """Sum the gradients of ``opt``'s parameters over the shards (one process: nothing to sum)."""

    def reduce_values(self, values: torch.Tensor) -> torch.Tensor:
        """Sum logged values over the shards (one process: nothing to sum)."""
        return values

    # -- monitoring -------------------------------------------------------------------------------
    @torch.no_grad()
    def chain_scores(self, rows: np.ndarray, masks: ArrayLike, batch_size: int = 200) -> dict[str, float]:
        """IoU/Dice (percent) of the masks the persistent posterior chains currently explain, scored at
        the ground truth's own resolution (``drc.metrics.resized_scores``)."""
        soft = []
        for start in range(0, len(rows), batch_size):
            z = self.z_post[rows[start : start + batch_size]].to(self.device)
            soft.append(self.model.render(z).pi_f[:, 0].cpu())
        iou, dice = resized_scores(torch.cat(soft), masks)
        return {"iou": 100 * float(iou.mean()), "dice": 100 * float(dice.mean())}

    # -- state ------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "model_config": to_dict(self.model_config),
            "train_config": to_dict(self.config),
            "model": self.model.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_e": self.opt_e.state_dict(),
            "z_post": self.z_post,
            "z_prior": self.z_prior,
            "iteration": self.iteration,
            "rng": rng_state(),
            "dataset": self.dataset_info,
            "profile": self.profile,
            "run": run_info(self.config.seed),
            "perf": self.perf_mode,
        }

    def save(self, path: str | Path) -> None:
        save_checkpoint(path, self.state())

    def load(self, path: str | Path) -> None:
        """Resume exactly: weights, optimisers, chains, RNG states and iteration counter."""
        ckpt = read_checkpoint(path)
        if ckpt["model_config"] != to_dict(self.model_config):
            raise DRCError(f"{path} was trained with another model config; pass --fresh to train afresh over it")
        if len(ckpt["z_post"]) != self.n_images:
            raise DRCError(
                f"{path} holds chains for {len(ckpt['z_post'])} images, the training set has "
                f"{self.n_images}; pass --fresh to train afresh over it"
            )
        self.model.load_state_dict(ckpt["model"])
        self.opt_g.load_state_dict(ckpt["opt_g"])
        self.opt_e.load_state_dict(ckpt["opt_e"])
        self.z_post, self.z_prior = ckpt["z_post"], ckpt["z_prior"]
        self.iteration = int(ckpt["iteration"])
        set_rng_state(ckpt["rng"])

    # -- loop -------------------------------------------------------------------------------------
    def run(
        self,
        until: int | None = None,
        checkpoint_path: str | Path | None = None,
        log: Logger | None = None,
        progress: bool = True,
        snapshot_dir: str | Path | None = None,
    ) -> None:
        """Train until iteration ``until`` (default: config.iterations), checkpointing on the way, and
        keeping a copy of the checkpoint in ``snapshot_dir`` every ``config.snapshot_every`` iterations and
        at iteration 0 (the untrained model: what the read-out gets without training).

        SIGINT / SIGTERM end the loop after the current iteration: the checkpoint is written there and
        ``Interrupted`` raised (a second Ctrl-C stops at once, without a checkpoint). After
        ``ESTIMATE_AFTER`` iterations it prints the time they took each and how long the rest will take.
        """
        c = self.config
        until = c.iterations if until is None else until
        self.model.train()
        if snapshot_dir and c.snapshot_every and self.iteration == 0:
            self.save(snapshot_path(snapshot_dir, 0))
        bar = tqdm(total=until, initial=self.iteration, disable=not progress, desc="train", unit="it")
        started, first = perf_counter(), self.iteration
        with stop_requests() as request, bar:
            while self.iteration < until:
                logs = self.step()
                bar.update(1)
                if self.iteration - first == ESTIMATE_AFTER and self.iteration < until and self.rank == 0:
                    each = (perf_counter() - started) / ESTIMATE_AFTER
                    left = until - self.iteration
                    bar.write(f"{each:.1f} s per iteration: about {duration(each * left)} for the {left} to go")
                if self.iteration % max(c.log_every, 1) == 0 or self.iteration == until:
                    bar.set_postfix(recon=f"{logs['loss/recon']:.3f}", fg=f"{logs['train/fg_fraction']:.2f}")
                    if log is not None:
                        log(self.iteration, logs, self)
                signum = self.agreed_stop(request)
                due = self.iteration % c.checkpoint_every == 0 or self.iteration == until
                if checkpoint_path and (due or signum is not None):
                    self.save(checkpoint_path)
                if snapshot_dir and c.snapshot_every and self.iteration % c.snapshot_every == 0:
                    self.save(snapshot_path(snapshot_dir, self.iteration))
                if signum is not None:
                    saved = (
                        f"checkpoint written to {checkpoint_path}" if checkpoint_path else "no checkpoint path given"
                    )
                    raise Interrupted(signum, f"stopped at iteration {self.iteration} of {until}; {saved}")

    def agreed_stop(self, request: StopRequest) -> int | None:
        """The signal that stops the run after this iteration, if any (every rank must agree on it)."""
        return request.signum
