"""The DRC model: forward pass (paper Listing 1) and the two energies Langevin sampling descends."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from drc.config import ModelConfig
from drc.model.networks import (
    AuxClassifier,
    LatentEBM,
    ReassignGenerator,
    RegionGenerator,
    init_orthogonal,
)
from drc.model.objective import estep_objective, laplace_loglik, tv_norm


@dataclass
class Rendering:
    """What the generators produce for a batch of latents."""

    fg: torch.Tensor  # B x 3 x H x W foreground appearance in [-1, 1]
    bg: torch.Tensor  # B x 3 x H x W background after pixel re-assignment
    pi_f: torch.Tensor  # B x 1 x H x W foreground mixing weight; pi_b = 1 - pi_f
    fg_mask_logit: torch.Tensor  # B x 1 x H x W, before mixing
    bg_raw: torch.Tensor  # B x 3 x H x W background before re-assignment
    bg_mask_logit_raw: torch.Tensor  # B x 1 x H x W, before re-assignment
    grid: torch.Tensor | None  # B x H x W x 2 sampling grid (None without re-assignment)

    @property
    def composite(self) -> torch.Tensor:
        return self.pi_f * self.fg + (1.0 - self.pi_f) * self.bg


def reassign(image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Pixel re-assignment: resample ``image`` at ``grid`` (bilinear, align_corners=False)."""
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class DRC(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        self.fg_gen = RegionGenerator(c.zf_dim, c.base_channels, c.up_channels)
        self.bg_gen = RegionGenerator(c.zb_dim, c.base_channels, c.up_channels)
        self.reassign_gen = ReassignGenerator(c.zs_dim, c.base_channels, c.up_channels, c.grid_residual)
        self.lebm = LatentEBM(
            c.zf_dim,
            c.zb_dim,
            c.zs_dim,
            c.kf,
            c.kb,
            c.lebm_hidden,
            c.lebm_reassign_hidden,
            c.lebm_reassign_layers,
        )
        self.fg_classifier = AuxClassifier(c.classifier_channels, c.kf)
        self.bg_classifier = AuxClassifier(c.classifier_channels, c.kb)
        init_orthogonal(self)
        nn.init.constant_(self.fg_gen.to_mask.bias, c.fg_mask_bias)
        if c.grid_residual:  # re-assignment starts as the identity
            nn.init.zeros_(self.reassign_gen.to_grid.weight)

    # -- groups of parameters, one optimiser each -------------------------------------------------
    def foreground_parameters(self) -> list[nn.Parameter]:
        """Foreground generator and both auxiliary classifiers."""
        mods = (self.fg_gen, self.fg_classifier, self.bg_classifier)
        return [p for m in mods for p in m.parameters()]

    def background_parameters(self) -> list[nn.Parameter]:
        """Background generator and pixel re-assignment net."""
        return [*self.bg_gen.parameters(), *self.reassign_gen.parameters()]

    def split(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c = self.config
        return torch.split(z, (c.zf_dim, c.zb_dim, c.zs_dim), dim=1)

    def render(self, z: torch.Tensor) -> Rendering:
        zf, zb, zs = self.split(z)
        fg, fm, _ = self.fg_gen(zf)
        bg_raw, bm_raw, bg_feat = self.bg_gen(zb)
        if self.config.pixel_reassign:
            grid = self.reassign_gen(zs, bg_feat)
            bg, bm = reassign(bg_raw, grid), reassign(bm_raw, grid)
        else:
            grid, bg, bm = None, bg_raw, bm_raw
        pi_f = torch.softmax(torch.cat([fm, bm], dim=1), dim=1)[:, :1]
        return Rendering(fg=fg, bg=bg, pi_f=pi_f, fg_mask_logit=fm, bg_raw=bg_raw, bg_mask_logit_raw=bm_raw, grid=grid)

    def prior_energy(self, z: torch.Tensor) -> torch.Tensor:
        """Per-sample energy of the prior p_alpha(z): LEBM energy + ||z||^2 / 2."""
        return self.lebm(z)[0] + 0.5 * z.square().sum(1)

    def posterior_energy(self, z: torch.Tensor, x: torch.Tensor, sigma: float, tv_weight: float) -> torch.Tensor:
        """J(z) of posterior Langevin (eq. 12 negated, plus the TV-norm; Algorithm 1 step 4), summed over
        the batch (``posterior_energies``).

        Samples are independent, so its gradient w.r.t. each row of z is that sample's own.
        """
        return self.posterior_energies(z, x, sigma, tv_weight).sum()

    def posterior_energies(self, z: torch.Tensor, x: torch.Tensor, sigma: float, tv_weight: float) -> torch.Tensor:
        """J(z) per sample (B): -sum(E-step objective) + tv_weight * TV(re-assigned bg) + E_lebm(z)
        + ||z||^2 / 2, each summed over that sample's pixels."""
        r = self.render(z)
        log_pf = laplace_loglik(r.fg, x, sigma)
        log_pb = laplace_loglik(r.bg, x, sigma)
        j = -estep_objective(r.pi_f, log_pf, log_pb).flatten(1).sum(1) + self.prior_energy(z)
        if tv_weight:
            j = j + tv_weight * tv_norm(r.bg, "per_sample")
        return j


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
