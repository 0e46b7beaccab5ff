"""Photometric jitter of training images (``train.saturation_jitter``, ``train.value_jitter``).

A deviation from the paper, which only flips: each training image's HSV saturation and value are
scaled by factors drawn per visit, so the foreground generator also sees sprites paler and darker
than the training set's. Greys keep their saturation of 0; hue is kept exactly. Off in every profile:
on TM-dSprites it scored lower on every validation set (docs/cpu-profile.md).
"""

from __future__ import annotations

import torch


def scale_saturation_value(x: torch.Tensor, saturation: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """``x`` (N x 3 x H x W in [-1, 1]) with each image's HSV saturation times ``saturation[i]`` and value
    times ``value[i]`` (factors in [0, 1]).

    With V = max(r, g, b) per pixel, each channel becomes value * (V - saturation * (V - c)): the new
    maximum is value * V and (max - min) / max scales by ``saturation``, while the channels' order and
    ratios of differences, hence the hue, stay.
    """
    u = (x + 1) / 2
    top = u.amax(dim=1, keepdim=True)
    s, v = saturation.view(-1, 1, 1, 1).to(x), value.view(-1, 1, 1, 1).to(x)
    return 2 * (v * (top - s * (top - u))) - 1
