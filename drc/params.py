"""Resolving params.yaml into the settings of one run.

Layering, later wins:
  1. the dataclass defaults (the paper's settings, SPEC §2);
  2. ``paper_by_dataset.<dataset>``: the paper's per-dataset facts (latent sizes, K, test-time
     steps, orthogonal-regulariser weight; Table S1 and supplementary B/C);
  3. ``profiles.<profile>``: the scale of the run (``paper``, ``cpu``, ``tiny``);
  4. ``train``: the method's ablation knobs, which apply under every profile.
DVC cannot interpolate ``${profiles.${profile}}``, so stages read the whole mapping and resolve here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from drc.errors import DRCError
from drc.experiment import Settings
from drc.model.config import ModelConfig
from drc.train_config import InferConfig, TrainConfig

# params.yaml `train:` key -> (section, field) of the resolved settings
ABLATION_KNOBS = {
    "pseudo_label": ("train", "pseudo_label_weight"),
    "tv_norm": ("train", "tv_weight"),
    "ortho_reg": ("train", "ortho_weight"),
    "pixel_reassign": ("model", "pixel_reassign"),
    "persistent_chains": ("train", "persistent_chains"),
}
PAPER_KEYS = {
    "zf_dim": "model",
    "zb_dim": "model",
    "zs_dim": "model",
    "kf": "model",
    "kb": "model",
    "ortho_reg": "train",
    "test_steps": "infer",
}
FIELD = {"ortho_reg": "ortho_weight", "test_steps": "steps"}


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise DRCError(f"{path} not found; run from the project root or pass --params")
    try:
        params = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise DRCError(f"{path} is not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(params, dict):
        raise DRCError(f"{path} must hold a mapping of parameters")
    return params


def _section(mapping: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = mapping.get(key) or {}
    if not isinstance(value, Mapping):
        raise DRCError(f"{where}.{key} must be a mapping")
    return dict(value)


def resolve_settings(params: Mapping[str, Any], dataset: str, profile: str | None = None) -> Settings:
    profile = profile or params.get("profile", "cpu")
    profiles = _section(params, "profiles", "params")
    if profile not in profiles:
        raise DRCError(f"unknown profile {profile!r}; params.yaml defines {sorted(profiles)}")
    prof = profiles[profile] or {}
    paper = _section(params, "paper_by_dataset", "params")
    if dataset not in paper:
        raise DRCError(f"params.yaml paper_by_dataset has no entry for dataset {dataset!r}")

    sections: dict[str, dict[str, Any]] = {"model": {}, "train": {}, "infer": {}}
    for key, value in (paper[dataset] or {}).items():
        if key not in PAPER_KEYS:
            raise DRCError(f"paper_by_dataset.{dataset}.{key} is not a known per-dataset fact")
        sections[PAPER_KEYS[key]][FIELD.get(key, key)] = value
    for name in sections:
        sections[name].update(_section(prof, name, f"profiles.{profile}"))
    for key, value in _section(params, "train", "params").items():
        if key not in ABLATION_KNOBS:
            raise DRCError(f"train.{key} is not an ablation knob; known: {sorted(ABLATION_KNOBS)}")
        if value is not None:  # null keeps the paper's / profile's value
            section, field = ABLATION_KNOBS[key]
            sections[section][field] = value
    return Settings(
        model=ModelConfig.from_dict(sections["model"]),
        train=TrainConfig.from_dict(sections["train"]),
        infer=InferConfig.from_dict(sections["infer"]),
        train_images=prof.get("train_images"),
    )
