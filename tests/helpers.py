"""Small shared builders for the tests: a tiny model config and synthetic scenes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from drc.config import ModelConfig, TrainConfig
from drc.cpu_isa import ISA_ENV

# The environment variables that pin torch's CPU kernels (drc/cpu_isa.py).
ISA_VARIABLES = sorted({name for env in ISA_ENV.values() for name in env})


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block on ``threads`` torch threads, then put the caller's count back. Tiny tensors run
    fastest on 1, and more OpenMP threads than idle cores can be 50x slower on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Fixed(torch.nn.Module):
    """A stand-in network that returns fixed outputs and records what it was given."""

    def __init__(self, *outputs: torch.Tensor) -> None:
        super().__init__()
        self.outputs, self.inputs = outputs, []

    def forward(self, *inputs: torch.Tensor):
        self.inputs.append(inputs)
        return self.outputs if len(self.outputs) > 1 else self.outputs[0]


def hand_estep_objective(pi_f, fg, bg, x, sigma: float | None) -> np.ndarray:
    """The E-step objective per pixel (eqs. 5, 7, 12, Listings 2-3) in NumPy, written apart from drc/:
    gamma (log(pi_f + 1e-8) + log p_f) + (1 - gamma)(log(1 - pi_f + 1e-8) + log p_b), with log p_k =
    -|g_k - x| / (2 sigma^2) (plain -|g_k - x| for sigma None), gamma = pi_f p_f / (pi_f p_f + pi_b p_b + 1e-8)."""
    pi_f, fg, bg, x = (np.asarray(a, np.float64) for a in (pi_f, fg, bg, x))
    scale = 1.0 if sigma is None else 2 * sigma**2
    log_pf, log_pb = -np.abs(fg - x) / scale, -np.abs(bg - x) / scale
    gamma = pi_f * np.exp(log_pf) / (pi_f * np.exp(log_pf) + (1 - pi_f) * np.exp(log_pb) + 1e-8)
    return gamma * (np.log(pi_f + 1e-8) + log_pf) + (1 - gamma) * (np.log(1 - pi_f + 1e-8) + log_pb)


def tiny_model_config(**overrides) -> ModelConfig:
    """A 32 px model small enough for CPU tests."""
    base = dict(
        zf_dim=16,
        zb_dim=2,
        zs_dim=16,
        base_channels=32,
        up_channels=(48, 32, 16),
        classifier_channels=(8, 16, 32),
        kf=6,
        kb=3,
        lebm_hidden=32,
        lebm_reassign_hidden=32,
    )
    return ModelConfig(**{**base, **overrides})


def tiny_train_config(**overrides) -> TrainConfig:
    base = dict(
        iterations=6,
        batch_size=4,
        posterior_steps=3,
        prior_steps=3,
        hflip=True,
        checkpoint_every=3,
        log_every=1,
        image_every=0,
        monitor_every=0,
        device="cpu",
    )
    return TrainConfig(**{**base, **overrides})


def squares_on_stripes(n: int = 8, res: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Coloured squares on a grey striped background: uint8 N x res x res x 3 and bool masks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:res, :res]
    images = np.empty((n, res, res, 3), np.uint8)
    masks = np.zeros((n, res, res), bool)
    for i in range(n):
        phase = rng.uniform(0, 2 * np.pi)
        stripes = 128 + 60 * np.sin(2 * np.pi * xx / 8 + phase)
        images[i] = stripes[..., None].astype(np.uint8)
        side = int(rng.integers(res // 4, res // 2))
        y0, x0 = rng.integers(0, res - side, size=2)
        masks[i, y0 : y0 + side, x0 : x0 + side] = True
        images[i][masks[i]] = rng.choice([[230, 30, 30], [30, 200, 40], [40, 60, 230]])
    return images, masks


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1


def tiny_checkpoint(folder: Path) -> Path:
    """A checkpoint of the tiny model trained 2 iterations on 8 squares on stripes, at ``folder``/model.pt."""
    from drc.training import Trainer

    images, _ = squares_on_stripes(n=8)
    trainer = Trainer(tiny_model_config(), tiny_train_config(iterations=2), images_to_tensor(images), profile="tiny")
    trainer.run(progress=False)
    path = folder / "model.pt"
    trainer.save(path)
    return path


def write_squares(root, n: int = 10, splits: dict | None = None, name: str = "squares"):
    """A prepared dataset of ``squares_on_stripes`` at 32 px (default splits: eval 0-5, train 0-7, test 8-9)."""
    from drc.data.prepared import write_prepared

    images, masks = squares_on_stripes(n=n, res=32)
    splits = {"eval": range(6), "train": range(8), "test": range(8, 10)} if splits is None else splits
    ids = [f"i{k}" for k in range(n)]
    return write_prepared(root / name, name=name, images=images, masks=masks, ids=ids, splits=splits, source={})
