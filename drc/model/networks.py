"""The networks of DRC (paper Table S2): region generators, re-assignment net, LEBM, classifiers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

GEN_SLOPE = 0.01  # LeakyReLU slope in generators (Table S2)
EBM_SLOPE = 0.2  # LeakyReLU slope in LEBMs and auxiliary classifiers (Table S2)


class UpBlock(nn.Sequential):
    """Bilinear x2 upsample, Conv3x3 (no bias), InstanceNorm (affine), LeakyReLU(0.01).

    ``fast`` (set by ``drc.perf.configure``) runs the same math faster on CPU: upsample and conv
    in channels-last layout (oneDNN's fast path), the instance norm as ``group_norm`` with one
    group per channel (the same per-sample, per-channel statistics), LeakyReLU in place.
    Results agree with the reference path to float32 rounding (tests/test_perf.py).
    """

    fast: bool = False

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.InstanceNorm2d(c_out, affine=True, track_running_stats=False),
            nn.LeakyReLU(GEN_SLOPE),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fast:
            return super().forward(x)
        _, conv, norm, act = self
        x = x.contiguous(memory_format=torch.channels_last)
        h = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        h = conv(h).contiguous()  # group_norm's contiguous kernel is the fast one
        h = F.group_norm(h, h.shape[1], norm.weight, norm.bias, norm.eps)
        return F.leaky_relu(h, act.negative_slope, inplace=True)


class LatentStem(nn.Module):
    """Linear(d -> base*4*4) + LeakyReLU, reshaped to base x 4 x 4."""

    def __init__(self, z_dim: int, base: int) -> None:
        super().__init__()
        self.base = base
        self.fc = nn.Linear(z_dim, base * 16)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.fc(z), GEN_SLOPE).view(-1, self.base, 4, 4)


def up_trunk(c_in: int, channels: tuple[int, ...]) -> nn.Sequential:
    blocks, c = [], c_in
    for c_out in channels:
        blocks.append(UpBlock(c, c_out))
        c = c_out
    return nn.Sequential(*blocks)


class RegionGenerator(nn.Module):
    """Generator of one region: appearance (tanh, 3 channels) and mask logit (1 channel).

    Also returns the 4x4 stem feature, which the re-assignment net reads from the background.
    """

    def __init__(self, z_dim: int, base: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        self.stem = LatentStem(z_dim, base)
        self.trunk = up_trunk(base, channels)
        self.to_rgb = nn.Conv2d(channels[-1], 3, 3, padding=1)
        self.to_mask = nn.Conv2d(channels[-1], 1, 3, padding=1)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        feat = self.stem(z)
        h = self.trunk(feat)
        return torch.tanh(self.to_rgb(h)), self.to_mask(h), feat


class ReassignGenerator(nn.Module):
    """Pixel re-assignment net: z_s and the (detached) background stem feature -> sampling grid.

    The grid is B x H x W x 2 in [-1, 1], in ``F.grid_sample``'s (x, y) convention. With
    ``residual=True`` (a CPU-scale deviation; the paper's head is a plain tanh) the head predicts an
    offset added to the identity grid, and starts at zero, so re-assignment starts as the identity.
    """

    def __init__(self, z_dim: int, base: int, channels: tuple[int, ...], residual: bool) -> None:
        super().__init__()
        self.stem = LatentStem(z_dim, base)
        self.trunk = up_trunk(2 * base, channels)
        self.to_grid = nn.Conv2d(channels[-1], 2, 3, padding=1)
        self.residual = residual

    def forward(self, z: torch.Tensor, bg_feat: torch.Tensor) -> torch.Tensor:
        h = self.trunk(torch.cat([self.stem(z), bg_feat.detach()], dim=1))
        offset = torch.tanh(self.to_grid(h)).permute(0, 2, 3, 1)
        if not self.residual:
            return offset
        return (identity_grid(offset.shape[1], offset.shape[2], offset) + offset).clamp(-1, 1)


def identity_grid(height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """1 x H x W x 2 grid that ``grid_sample`` (align_corners=False) maps onto the input itself."""
    ys = (torch.arange(height, dtype=like.dtype, device=like.device) * 2 + 1) / height - 1
    xs = (torch.arange(width, dtype=like.dtype, device=like.device) * 2 + 1) / width - 1
    return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)[None]


def mlp(d_in: int, hidden: int, n_hidden: int, d_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    d = d_in
    for _ in range(n_hidden):
        layers += [nn.Linear(d, hidden), nn.LeakyReLU(EBM_SLOPE)]
        d = hidden
    layers.append(nn.Linear(d, d_out))
    return nn.Sequential(*layers)


class LatentEBM(nn.Module):
    """Latent-space energy-based prior with symbol-vector coupling (Pang & Wu).

    p_alpha(z) ∝ exp(f_alpha(z)) N(z; 0, I), with
    f_alpha(z) = logsumexp(fg_head(z_f)) + logsumexp(bg_head(z_b)) + reassign_head(z_s).

    Sign convention of this project: ``energy(z) = -f_alpha(z)``, so the prior is
    exp(-energy) N(0, I); Langevin sampling descends ``energy + ||z||^2 / 2``, and the LEBM is
    trained with ``mean energy(z+) - mean energy(z-)`` (posterior minus prior samples). The
    category posterior p(y | z_k) = softmax(head_k(z_k)) is the pseudo-label target.
    """

    def __init__(
        self,
        zf_dim: int,
        zb_dim: int,
        zs_dim: int,
        kf: int,
        kb: int,
        hidden: int,
        reassign_hidden: int,
        reassign_layers: int,
    ) -> None:
        super().__init__()
        self.dims = (zf_dim, zb_dim, zs_dim)
        self.fg_head = mlp(zf_dim, hidden, 2, kf)
        self.bg_head = mlp(zb_dim, hidden, 2, kb)
        self.reassign_head = mlp(zs_dim, reassign_hidden, reassign_layers, 1)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (energy [B], fg category logits [B, kf], bg category logits [B, kb])."""
        zf, zb, zs = torch.split(z, self.dims, dim=1)
        logits_f, logits_b = self.fg_head(zf), self.bg_head(zb)
        f_alpha = torch.logsumexp(logits_f, 1) + torch.logsumexp(logits_b, 1) + self.reassign_head(zs).squeeze(1)
        return -f_alpha, logits_f, logits_b


class AuxClassifier(nn.Module):
    """Auxiliary classifier q(y | generated region): Conv4x4-s2 + InstanceNorm + LReLU blocks, conv to K."""

    def __init__(self, channels: tuple[int, ...], k: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for c_out in channels:
            layers += [
                nn.Conv2d(c, c_out, 4, stride=2, padding=1, bias=False),
                nn.InstanceNorm2d(c_out, affine=True, track_running_stats=False),
                nn.LeakyReLU(EBM_SLOPE),
            ]
            c = c_out
        layers.append(nn.Conv2d(c, k, 4))  # 4x4 -> 1x1
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)


def init_orthogonal(module: nn.Module) -> None:
    """Orthogonal weights (gain 1.0) and zero biases for every conv and linear layer (paper §B)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.orthogonal_(m.weight)  # gain 1
            if m.bias is not None:
                nn.init.zeros_(m.bias)
