"""The terms of DRC's objective (paper §3, eqs. 5-12 and 21-24, and supplementary C), as pure functions."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-8  # inside logs and the responsibility's denominator, as in the paper's listings


def laplace_loglik(pred: torch.Tensor, target: torch.Tensor, sigma: float | None) -> torch.Tensor:
    """Per pixel and channel log p(x_i | z_k) = -|g_k(z_k)_i - x_i| / (2 sigma^2), up to a constant.

    ``sigma=None`` drops the 1/(2 sigma^2) factor (plain L1), as the official code's generator update.
    """
    l1 = (pred - target).abs()
    return -l1 if sigma is None else -l1 / (2.0 * sigma**2)


def responsibility(pi_f: torch.Tensor, log_pf: torch.Tensor, log_pb: torch.Tensor) -> torch.Tensor:
    """gamma_f = pi_f p_f / (pi_f p_f + pi_b p_b + 1e-8), without gradient (the E-step's w)."""
    with torch.no_grad():
        pf = pi_f * log_pf.exp()
        return pf / (pf + (1.0 - pi_f) * log_pb.exp() + EPS)


def pixel_log_odds(pi_f: torch.Tensor, log_pf: torch.Tensor, log_pb: torch.Tensor) -> torch.Tensor:
    """Log posterior odds that each pixel is foreground; their sigmoid is gamma_f of the paper's eq. 7 with
    x_i the pixel's colour: pi_f prod_c p_f(x_ic) / (pi_f prod_c p_f(x_ic) + pi_b prod_c p_b(x_ic)).

    ``pi_f``: B x 1 x H x W; ``log_pf``, ``log_pb``: B x C x H x W per channel. Kept in log space, so pixels
    where both likelihoods underflow still go to the better region. Returns B x 1 x H x W, without gradient.
    """
    with torch.no_grad():
        log_prior_odds = (pi_f + EPS).log() - (1.0 - pi_f + EPS).log()
        return log_prior_odds + log_pf.sum(1, keepdim=True) - log_pb.sum(1, keepdim=True)


def threshold_log_odds(threshold: float) -> float:
    """log(t / (1 - t)): where a probability threshold t (readout.threshold, readout.seed_threshold) lies on the
    log-odds scale ``pixel_log_odds`` decides on."""
    return math.log(threshold / (1.0 - threshold))


def estep_objective(pi_f: torch.Tensor, log_pf: torch.Tensor, log_pb: torch.Tensor) -> torch.Tensor:
    """Per pixel and channel: gamma_f (log pi_f + log p_f) + (1 - gamma_f)(log pi_b + log p_b)."""
    gamma = responsibility(pi_f, log_pf, log_pb)
    pi_b = 1.0 - pi_f
    return gamma * ((pi_f + EPS).log() + log_pf) + (1.0 - gamma) * ((pi_b + EPS).log() + log_pb)


def tv_norm(image: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
    """Anisotropic total variation: reduce(|d/dx|) + reduce(|d/dy|) over all elements.

    ``reduction="per_sample"`` sums over everything but the batch dimension (a B vector).
    """
    dx = (image[..., :, 1:] - image[..., :, :-1]).abs()
    dy = (image[..., 1:, :] - image[..., :-1, :]).abs()
    if reduction == "sum":
        return dx.sum() + dy.sum()
    if reduction == "mean":
        return dx.mean() + dy.mean()
    if reduction == "per_sample":
        return dx.flatten(1).sum(1) + dy.flatten(1).sum(1)
    raise ValueError(f"reduction must be 'sum', 'mean' or 'per_sample', got {reduction!r}")


def orthogonal_reg(module: nn.Module, squared: bool = False) -> torch.Tensor:
    """Eq. 24: the sum over 4-D conv weights W (flattened to C_out x rest) of ||W W^T ⊙ (1 - I)||_F, or of its
    square (``squared``, as the official code)."""
    total = torch.zeros(())
    for p in module.parameters():
        if p.ndim == 4:
            w = p.flatten(1)
            gram = w @ w.t()
            off = gram - torch.diag_embed(torch.diagonal(gram))
            norm_sq = off.square().sum()
            if not squared:  # the norm, with gradient 0 where it is 0 (sqrt's is infinite there)
                positive = norm_sq > 0
                norm_sq = torch.where(positive, torch.where(positive, norm_sq, 1.0).sqrt(), 0.0)
            total = total.to(p.device) + norm_sq
    return total


def pseudo_label_loss(lebm_logits: torch.Tensor, classifier_logits: torch.Tensor) -> torch.Tensor:
    """H(P, Q) = -<softmax(LEBM logits).detach(), log_softmax(classifier logits)>, batch mean."""
    target = F.softmax(lebm_logits.detach(), dim=1)
    return -(target * F.log_softmax(classifier_logits, dim=1)).sum(1).mean()
