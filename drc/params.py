"""A run's settings, resolved from layers (later wins; null keeps the layer below, and the word ``none``
sets a nullable setting to null over it: ``--set sampler.sigma=none``; drc.config.UNSET):

  1. the dataclass defaults of drc/config.py (the paper's settings);
  2. the paper's facts for the dataset (``drc.config.PAPER_FACTS``: latent sizes, K, ortho weight, test steps);
  3. the profile: ``drc/profiles/<profile>/<section>.yaml``, then its ``by_kind.<kind>`` entry for the dataset's
     kind (a departure for one kind of data only, e.g. the cpu profile's for CLEVR6 scenes);
  4. the params file's section of the same name (params.yaml's ``model``, ``train``, ``sampler``, ``readout``);
  5. overrides: ``--set section.key=value`` of the CLI and the benchmarks (``drc.config.parse_set``).

Each section is resolved on its own and reads only its own files and keys, which is what lets each DVC
stage depend on exactly what it reads (dvc.yaml: ``drc/profiles/${profile}/<section>.yaml`` and the
params.yaml section). Data settings resolve the same way from the profile's ``data.yaml`` (per kind of
dataset) and params.yaml's ``data.<dataset>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from drc.config import (
    PAPER_FACTS,
    SECTIONS,
    HeldoutConfig,
    ReadoutConfig,
    RobustConfig,
    SamplerConfig,
    Settings,
    TMDSpritesConfig,
    check_inference,
    dataset_kind,
    from_dict,
)
from drc.errors import DRCError

PROFILES = Path(__file__).with_name("profiles")
DATA_SECTION = "data"
RENDERED_CLEVR = "clevr6_rendered"
BY_KIND = "by_kind"  # a profile section's departures for one kind of dataset (layer 3)


def read_yaml(path: Path, what: str) -> dict[str, Any]:
    """A YAML mapping from ``path`` (empty file: {}), or one clear error."""
    if not path.is_file():
        raise DRCError(f"{what} {path} not found")
    try:
        value = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise DRCError(f"{path} is not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(value, dict):
        raise DRCError(f"{path} must hold a mapping of settings")
    return value


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    return read_yaml(Path(path), "params file")


def profile_names() -> list[str]:
    return sorted(p.name for p in PROFILES.iterdir() if p.is_dir())


def profile_file(profile: str, section: str) -> Path:
    """``drc/profiles/<profile>/<section>.yaml`` (what a DVC stage lists as its dependency)."""
    if not (PROFILES / profile).is_dir():
        raise DRCError(f"unknown profile {profile!r}; choose one of {', '.join(profile_names())}")
    return PROFILES / profile / f"{section}.yaml"


def check_dataset(name: str, params: Mapping[str, Any] | None = None) -> None:
    """Refuse a dataset name that no run could have: a paper dataset or a variant of one
    (``<dataset>_<variant>``), ``folder`` (your own images), or a dataset the params file lists."""
    listed = [str(d) for key in ("datasets", "folder_datasets") for d in (params or {}).get(key) or []]
    if dataset_kind(name) is None and name != "folder" and name not in listed:
        raise DRCError(
            f"unknown dataset {name!r}; choose one of {', '.join(PAPER_FACTS)} (or a variant such as "
            "tmdsprites_colour), folder (your own images), or one that the params file lists"
        )


def _set_values(layer: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    if layer is None:
        return {}
    if not isinstance(layer, Mapping):
        raise DRCError(f"{where} must be a mapping of settings")
    return {k: v for k, v in layer.items() if v is not None}


def resolve_section(
    section: str,
    dataset: str,
    profile: str,
    params: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Any:
    """One section's config dataclass for ``dataset`` under ``profile``: layers 2-5 merged (see the module
    docstring), the dataclass adding its defaults."""
    if section not in SECTIONS:
        raise DRCError(f"unknown settings section {section!r}; known: {', '.join(SECTIONS)}")
    kind = dataset_kind(dataset)
    values = dict(PAPER_FACTS[kind].get(section, {})) if kind else {}
    profile_values = read_yaml(profile_file(profile, section), "profile file")
    by_kind = _set_values(profile_values.pop(BY_KIND, None), f"profile {profile} {section} {BY_KIND}")
    if unknown := sorted(set(by_kind) - set(PAPER_FACTS)):
        known = ", ".join(PAPER_FACTS)
        raise DRCError(f"profile {profile} {section} {BY_KIND}: unknown kind(s) {unknown}; known: {known}")
    values |= _set_values(profile_values, f"profile {profile} {section}")
    values |= _set_values(by_kind.get(kind), f"profile {profile} {section} {BY_KIND}.{kind}")
    values |= _set_values((params or {}).get(section), f"params {section}")
    values |= _set_values((overrides or {}).get(section), f"--set {section}")
    return from_dict(SECTIONS[section], values, section)


def resolve_inference(
    dataset: str,
    profile: str,
    params: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[SamplerConfig, ReadoutConfig]:
    """The sampler and readout sections of a run that extracts masks, checked as a pair before any model
    or image is read."""
    sampler = resolve_section("sampler", dataset, profile, params, overrides)
    readout = resolve_section("readout", dataset, profile, params, overrides)
    check_inference(sampler, readout)
    return sampler, readout


def resolve_settings(
    dataset: str,
    profile: str,
    params: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """All four sections (a stage that reads only some of them resolves those with ``resolve_section``)."""
    return Settings(**{name: resolve_section(name, dataset, profile, params, overrides) for name in SECTIONS})


def _deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        both = isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
        out[key] = _deep_merge(out[key], value) if both else value
    return out


def is_rendered_clevr(dataset: str) -> bool:
    """Whether ``dataset`` is CLEVR6 rendered here (drc/data/clevr_rendered.py) or a variant of it: a paper
    dataset of kind clevr6 (the paper's facts apply) whose data settings are its own."""
    return dataset == RENDERED_CLEVR or dataset.startswith(f"{RENDERED_CLEVR}_")


def data_kind(dataset: str) -> str:
    """The entry of a profile's data.yaml that holds a dataset's settings: its paper dataset's (variants share
    it; CLEVR6 rendered here has its own), or its name."""
    return RENDERED_CLEVR if is_rendered_clevr(dataset) else dataset_kind(dataset) or dataset


def data_values(dataset: str, profile: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``data.<dataset>`` of params.yaml over the profile's data settings for the dataset's kind. Here null
    is a value (a real dataset's ``*_sha256: null`` accepts and records an archive's checksum)."""
    by_kind = read_yaml(profile_file(profile, DATA_SECTION), "profile file")
    kind = data_kind(dataset)
    own = ((params.get("data") or {}).get(dataset)) or {}
    if not isinstance(own, Mapping):
        raise DRCError(f"params data.{dataset} must be a mapping of settings")
    return _deep_merge(by_kind.get(kind) or {}, own)


def tmdsprites_sets(values: Mapping[str, Any], name: str) -> dict[str, TMDSpritesConfig | RobustConfig]:
    """The prepared sets of a TM-dSprites variant, by the suffix of their name: "" the dataset itself;
    "-heldout" the same generator from another seed, all of it evaluated (never trained on); "-robust"
    the second generator (drc/data/tmdsprites_robust.py), at the variant's resolution and colours."""
    values = dict(values)
    heldout = from_dict(HeldoutConfig, values.pop("heldout", None) or {}, f"data.{name}.heldout")
    robust = values.pop("robust", None) or {}
    main = from_dict(TMDSpritesConfig, values, f"data.{name}")
    if heldout.seed == main.seed:
        raise DRCError(f"data.{name}.heldout.seed must differ from data.{name}.seed ({main.seed})")
    other = {**values, "seed": heldout.seed, "n_images": heldout.n_images, "eval_size": heldout.n_images}
    robust = {"resolution": main.resolution, "texture_colour": main.texture_colour, **robust}
    return {
        "": main,
        "-heldout": from_dict(TMDSpritesConfig, other, f"data.{name}.heldout"),
        "-robust": from_dict(RobustConfig, robust, f"data.{name}.robust"),
    }
