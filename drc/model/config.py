"""Model configuration: everything needed to rebuild a DRC model from a checkpoint alone."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from drc.errors import DRCError


@dataclass(frozen=True)
class ModelConfig:
    """DRC architecture (SPEC §1, paper Table S1/S2). Defaults are the paper's TM-dSprites model."""

    zf_dim: int = 256  # foreground latent size (Table S1)
    zb_dim: int = 4  # background latent size (Table S1: 4 on TM-dSprites, 256 on Birds)
    zs_dim: int = 1024  # pixel re-assignment latent size (Table S1)
    base_channels: int = 128  # channels of the 4x4 map after each generator's Linear (Table S2)
    up_channels: tuple[int, ...] = (1024, 512, 256, 128, 64)  # one up-block each; 5 blocks -> 128 px
    kf: int = 30  # foreground categories of the symbol-vector LEBM (200 on Birds/Dogs/Cars)
    kb: int = 10  # background categories
    lebm_hidden: int = 200  # width of the fg/bg LEBM heads (Table S2)
    lebm_reassign_hidden: int = 400  # width of the re-assignment LEBM head (official code; table: 200)
    lebm_reassign_layers: int = 3  # hidden layers of the re-assignment LEBM head
    classifier_channels: tuple[int, ...] = (64, 128, 256, 512, 1024)  # auxiliary classifiers, one per block
    pixel_reassign: bool = True  # ablation "w/o pixel re-assignment": False leaves the background unwarped
    fg_mask_bias: float = 0.0  # initial bias of the fg mask logit; paper 0 (init: biases zero)
    grid_residual: bool = False  # re-assignment grid = identity + predicted offset (paper: False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "up_channels", tuple(self.up_channels))
        object.__setattr__(self, "classifier_channels", tuple(self.classifier_channels))
        if len(self.classifier_channels) != len(self.up_channels):
            raise DRCError(
                "model.classifier_channels needs one entry per up-block "
                f"({len(self.up_channels)}), got {len(self.classifier_channels)}"
            )
        if min(self.zf_dim, self.zb_dim, self.zs_dim, self.kf, self.kb) < 1:
            raise DRCError("model latent sizes and category counts must be positive")

    @property
    def resolution(self) -> int:
        return 4 * 2 ** len(self.up_channels)

    @property
    def z_dim(self) -> int:
        return self.zf_dim + self.zb_dim + self.zs_dim

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        return from_dict(cls, values, "model")


def from_dict(cls: type, values: dict[str, Any], section: str):
    """Build a dataclass from a mapping, rejecting unknown keys with a clear message."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise DRCError(f"unknown {section} parameter(s) {unknown}; known: {sorted(known)}")
    types = {f.name: f.type for f in fields(cls)}
    coerced = {}
    for key, value in values.items():
        if str(types[key]).startswith("float") and isinstance(value, int | str) and not isinstance(value, bool):
            try:
                value = float(value)  # YAML reads "2e-4" as a string
            except ValueError:
                raise DRCError(f"{section}.{key} must be a number, got {value!r}") from None
        coerced[key] = value
    return cls(**coerced)
