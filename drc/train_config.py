"""Learning and inference settings (SPEC §2). Defaults are the paper's."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from drc.errors import DRCError
from drc.model.config import from_dict
from drc.perf import check_mode

LR_SCHEDULES = ("constant", "cosine")
MASK_SOURCES = ("pi_f", "responsibility")
RESTART_COMBINATIONS = ("lowest_energy", "mean_mask")


@dataclass(frozen=True)
class TrainConfig:
    iterations: int = 10_000  # paper: at most 10K iterations (and 48 h) per dataset
    batch_size: int = 48  # paper: 48 on one V100
    posterior_steps: int = 40  # K1, posterior Langevin steps per iteration
    posterior_step_size: float = 0.1  # s1
    prior_steps: int = 60  # K0, prior Langevin steps per iteration
    prior_step_size: float = 0.4  # s0
    sigma: float = 0.25  # Laplace likelihood scale: log p = -|g - x| / (2 sigma^2)
    lr_generator: float = 1e-4  # Adam, generators + auxiliary classifiers
    lr_lebm: float = 2e-5  # Adam, latent EBM
    lr_background: float | None = None  # Adam lr of the background + re-assignment nets; None = lr_generator
    lr_schedule: str = "constant"  # constant (paper) | cosine: every lr decays to 0 over `iterations`
    beta1: float = 0.5
    beta2: float = 0.999
    tv_weight: float = 0.01  # TV-norm on the re-assigned background; 0 = ablation "w/o TV-norm"
    ortho_weight: float = 1.0  # orthogonal regulariser (paper: 1.0, 0.1 on Birds; official code 0.1)
    pseudo_label_weight: float = 0.1  # per region; 0 = ablation "w/o pseudo label"
    persistent_chains: bool = True  # False = ablation "short-run chain" (z from N(0, I) each iteration)
    hflip: bool = True  # random horizontal flips (paper)
    generator_loglik_scaled: bool = True  # True: 1/(2 sigma^2) in the generator loss (paper Listing 3);
    #   False: plain L1 there, as the official code
    seed: int = 0
    checkpoint_every: int = 500  # iterations between atomic checkpoints
    log_every: int = 10  # iterations between DVCLive metric steps
    image_every: int = 500  # iterations between sample grids (0 = never)
    monitor_every: int = 250  # iterations between persistent-chain IoU on the monitor images (0 = never)
    device: str = "auto"  # auto | cpu | cuda
    perf: str | None = None  # eager | optimised | max (drc/perf.py); None = $DRC_PERF, else optimised

    def __post_init__(self) -> None:
        if self.perf is not None:
            check_mode(self.perf)
        if self.iterations < 0 or self.batch_size < 1:
            raise DRCError("train.iterations must be >= 0 and train.batch_size >= 1")
        if self.lr_schedule not in LR_SCHEDULES:
            raise DRCError(f"train.lr_schedule must be one of {list(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.sigma <= 0:
            raise DRCError(f"train.sigma must be positive, got {self.sigma}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        return from_dict(cls, values, "train")


@dataclass(frozen=True)
class InferConfig:
    steps: int = 5000  # test-time posterior Langevin steps (paper: 300 Dogs/Cars, 2.5K Birds, 5K others)
    step_size: float = 0.1  # s1
    init: str = "noise"  # noise: z ~ N(0, I) (paper); persistent: start from the training chains
    noise_steps: int | None = None  # steps when chains start from noise (unseen images); None = steps
    batch_size: int = 100
    noise: bool = True  # Langevin noise at test time (paper: yes)
    restarts: int = 1  # chains per image from N(0, I); the lowest posterior energy wins (paper: 1)
    settle_steps: int = 0  # noise-free steps (gradient descent on the posterior energy) from the kept
    #   end point, so the mask is read at a mode rather than at a noisy sample (paper: 0)
    settle_step_size: float = 0.1  # step of the settle phase: z <- z - s^2/2 grad J(z)
    settle_every_restart: bool = False  # settle each restart's chain, then keep the lowest energy (restarts x
    #   the settling cost; compares modes rather than noisy samples); false: settle only the kept chain
    combine_restarts: str = "lowest_energy"  # lowest_energy: the mask of the restart with the lowest
    #   posterior energy; mean_mask: every restart settled, the mean of their soft masks (the posterior mean
    #   over the chains' modes); renderings and z come from the lowest-energy restart either way
    seed: int = 0  # seed of the chains' N(0, I) starts and Langevin noise: scores are reproducible
    mask_from: str = "pi_f"  # what the mask is read from, > 0.5: pi_f, the generators' mixing weight
    #   (paper), or responsibility, each pixel's posterior probability of the foreground given its colour
    #   (the paper's eq. 7 at the inferred z)
    mask_threshold: float = 0.5  # a pixel is foreground where the read-out exceeds it (paper: 0.5)
    perf: str | None = None  # eager | optimised | max (drc/perf.py); None = $DRC_PERF, else optimised

    def __post_init__(self) -> None:
        if self.perf is not None:
            check_mode(self.perf)
        if self.init not in ("noise", "persistent"):
            raise DRCError(f"infer.init must be 'noise' or 'persistent', got {self.init!r}")
        if self.restarts < 1:
            raise DRCError(f"infer.restarts must be >= 1, got {self.restarts}")
        if self.settle_steps < 0 or self.settle_step_size <= 0:
            raise DRCError("infer.settle_steps must be >= 0 and infer.settle_step_size positive")
        if self.combine_restarts not in RESTART_COMBINATIONS:
            raise DRCError(
                f"infer.combine_restarts must be one of {list(RESTART_COMBINATIONS)}, got {self.combine_restarts!r}"
            )
        if self.mask_from not in MASK_SOURCES:
            raise DRCError(f"infer.mask_from must be one of {list(MASK_SOURCES)}, got {self.mask_from!r}")
        if not 0.0 < self.mask_threshold < 1.0:
            raise DRCError(f"infer.mask_threshold must be in (0, 1), got {self.mask_threshold!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**63:
            raise DRCError(f"infer.seed must be an integer in [0, 2**63), got {self.seed!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def score_fields(self) -> dict[str, Any]:
        """The settings a score depends on, recorded beside it (``drc evaluate``'s JSON, the metrics files)."""
        names = ("steps", "restarts", "settle_steps", "mask_from", "mask_threshold", "combine_restarts")
        return {name: getattr(self, name) for name in names}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> InferConfig:
        return from_dict(cls, values, "infer")
