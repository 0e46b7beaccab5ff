"""Image grids: rows of observed / composite / masked foreground / background / masks (paper Fig. 3)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """N x 3 x H x W in [-1, 1] (or N x H x W in [0, 1] for masks) -> uint8 N x H x W x 3."""
    x = images.detach().cpu().float()
    if x.ndim == 3:
        x = x[:, None].expand(-1, 3, -1, -1) * 2 - 1
    x = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def tile(rows: Sequence[np.ndarray], pad: int = 2) -> np.ndarray:
    """Stack rows of equally sized uint8 N x H x W x 3 images into one white-padded picture."""
    n, h, w, _ = rows[0].shape
    out = np.full((len(rows) * (h + pad) + pad, n * (w + pad) + pad, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            out[y : y + h, x : x + w] = img
    return out


def extraction_rows(
    observed: torch.Tensor,
    composite: torch.Tensor,
    fg: torch.Tensor,
    bg: torch.Tensor,
    soft_mask: torch.Tensor,
    gt_mask: torch.Tensor | None = None,
) -> list[np.ndarray]:
    """The paper's Fig. 3 rows: observed, composite, the foreground rendering cut by the inferred mask, bg, [GT mask],
    inferred mask (soft_mask > 0.5)."""
    mask = (soft_mask > 0.5).float()
    masked_fg = fg * mask[:, None] + (1 - mask[:, None])  # white outside the mask
    rows = [to_uint8(observed), to_uint8(composite), to_uint8(masked_fg), to_uint8(bg)]
    if gt_mask is not None:
        rows.append(to_uint8(gt_mask.float()))
    rows.append(to_uint8(mask))
    return rows


@torch.no_grad()
def sample_grid(trainer, data, positions: np.ndarray, n: int = 8) -> np.ndarray:
    """Grid of what the persistent chains of ``n`` training images currently explain."""
    pos = np.asarray(positions)[:n]
    r = trainer.model.render(trainer.z_post[pos].to(trainer.device))
    truth = None if data.masks is None else data.masks[pos]
    return tile(extraction_rows(data.images[pos], r.composite, r.fg, r.bg, r.pi_f[:, 0], truth))
