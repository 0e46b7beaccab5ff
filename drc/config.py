"""Every setting of a run, as frozen dataclasses whose defaults are the paper's (docs/method.md).

This module is the configuration's one leaf: it imports nothing of the project but ``drc.errors`` and
nothing heavy (no torch, no NumPy), so any part of the project, and any tool, can read and check
settings cheaply. Sections of a run (``SECTIONS``), each one dataclass:

  model    ModelConfig     the architecture; a checkpoint stores it, so the model is rebuilt from it alone
  train    TrainConfig     learning (Algorithm 1): chains, loss weights, optimisers, schedule, bookkeeping
  sampler  SamplerConfig   test-time posterior chains: how they start, how long they run, how they settle
  readout  ReadoutConfig   how the foreground mask is read from the chains' end points

``Settings`` holds the four. ``drc.params`` resolves them for a dataset from layers (the paper's
per-dataset facts ``PAPER_FACTS``, a packaged profile, params.yaml, ``--set`` overrides); every layer goes
through ``from_dict``, which rejects unknown keys and mistyped values with one line.

The data generators' and the baseline's settings live here too (``TMDSpritesConfig``, ``GrabCutConfig``).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypeVar

from drc.errors import DRCError

T = TypeVar("T")

# The word that sets a nullable setting to null from a layer of settings, where a null keeps the layer
# below (drc/params.py): ``--set sampler.sigma=none``. A nullable text setting keeps "none" as text.
UNSET = "none"

PerfMode = Literal["eager", "optimised"]  # how the math is executed (drc/perf.py); not what it computes
LrSchedule = Literal["constant", "cosine"]
ChainStart = Literal["noise", "persistent"]
SettleWhich = Literal["kept", "every"]
MaskSource = Literal["pi_f", "responsibility"]
RestartCombination = Literal["lowest_energy", "mean_mask"]
Refinement = Literal["none", "grabcut"]
Shape = Literal["square", "circle", "triangle"]
TextureColour = Literal["grey", "colour"]


# -- typed construction -------------------------------------------------------------------------------
def knob(default: Any, doc: str) -> Any:
    """A settings field with its documentation, the one place a setting is explained (``drc settings --fields``
    prints it). The paper's value is the default unless the text says otherwise."""
    return field(default=default, metadata={"doc": doc})


def _kind(hint: Any) -> str:
    """A type annotation in words, for error messages and ``--help``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return " | ".join(map(str, args))
    if origin in (typing.Union, types.UnionType):
        (inner,) = (a for a in args if a is not type(None))
        return f"{_kind(inner)} or " + ("null" if inner is str else UNSET)
    if origin is tuple:
        return f"list of {_kind(args[0])}" if args[-1] is Ellipsis else f"list of {len(args)} {_kind(args[0])}"
    return {bool: "true | false", int: "integer", float: "number", str: "text"}.get(hint, str(hint))


def _coerce(value: Any, hint: Any, name: str) -> Any:
    """``value`` as the annotated type (YAML's "2e-4" string as a float, lists as tuples), or one clear error."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    wrong = DRCError(f"{name} must be {_kind(hint)}, got {value!r}")
    if origin is Literal:
        if value not in args or isinstance(value, bool) != isinstance(args[0], bool):
            raise wrong
        return value
    if origin in (typing.Union, types.UnionType):
        (inner,) = (a for a in args if a is not type(None))
        if value is None or (value == UNSET and inner is not str):
            return None
        try:
            return _coerce(value, inner, name)
        except DRCError:
            raise wrong from None
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise wrong
        items = args[:1] * len(value) if args[-1] is Ellipsis else args
        if len(items) != len(value):
            raise wrong
        return tuple(_coerce(v, h, name) for v, h in zip(value, items, strict=True))
    if hint is bool:
        if not isinstance(value, bool):
            raise wrong
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise wrong
        try:
            return float(value)
        except ValueError:
            raise wrong from None
    if hint is str and not isinstance(value, str):
        raise wrong
    return value


def check_types(obj: Any, section: str) -> None:
    """Coerce every field of a frozen dataclass to its annotation (called by each config's __post_init__)."""
    hints = typing.get_type_hints(type(obj))
    for f in fields(obj):
        value = _coerce(getattr(obj, f.name), hints[f.name], f"{section}.{f.name}")
        object.__setattr__(obj, f.name, value)


def from_dict(cls: type[T], values: Mapping[str, Any], section: str) -> T:
    """Build a config dataclass from a mapping, rejecting unknown keys with a clear message."""
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise DRCError(f"unknown {section} setting(s) {unknown}; known: {', '.join(known)}")
    return cls(**values)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def to_dict(obj: Any) -> dict[str, Any]:
    """A config as plain YAML/JSON values (tuples as lists)."""
    return {k: _plain(v) for k, v in dataclasses.asdict(obj).items()}


def check_positive(obj: Any, section: str, *names: str) -> None:
    """Each named setting (when set) must be a number above 0 (NaN and infinity included in the refusal)."""
    for name in names:
        value = getattr(obj, name)
        if value is not None and not 0 < value < float("inf"):
            raise DRCError(f"{section}.{name} must be positive, got {value!r}")


def check_at_least(obj: Any, section: str, low: int | float, *names: str) -> None:
    """Each named setting (counts, weights) must be at least ``low`` (and finite)."""
    for name in names:
        value = getattr(obj, name)
        if not low <= value < float("inf"):
            raise DRCError(f"{section}.{name} must be >= {low}, got {value!r}")


# Side of the images a dataset is prepared at, px: 16 is the smallest a model here generates (tiny profile),
# 1024 bounds the memory of a prepared folder (N x side x side x 3 bytes).
RESOLUTIONS = (16, 1024)


def check_resolution(value: int, name: str) -> None:
    lo, hi = RESOLUTIONS
    if not lo <= value <= hi:
        raise DRCError(f"{name} must be {lo} to {hi} px, got {value}")


# -- the four sections of a run ---------------------------------------------------------------------
@dataclass(frozen=True)
class ModelConfig:
    """DRC architecture (paper Table S1/S2). Defaults are the paper's TM-dSprites model."""

    zf_dim: int = knob(256, "foreground latent size (Table S1)")
    zb_dim: int = knob(4, "background latent size (Table S1: 4 on TM-dSprites, 256 on Birds)")
    zs_dim: int = knob(1024, "pixel re-assignment latent size (Table S1)")
    base_channels: int = knob(128, "channels of the 4x4 map after each generator's Linear (Table S2)")
    up_channels: tuple[int, ...] = knob((1024, 512, 256, 128, 64), "one up-block each; 5 blocks -> 128 px")
    kf: int = knob(30, "foreground categories of the symbol-vector LEBM (200 on Birds/Dogs/Cars)")
    kb: int = knob(10, "background categories")
    lebm_hidden: int = knob(200, "width of the fg/bg LEBM heads (Table S2)")
    lebm_reassign_hidden: int = knob(200, "width of the re-assignment LEBM head (Table S2; the official code: 400)")
    lebm_reassign_layers: int = knob(3, "hidden layers of the re-assignment LEBM head")
    classifier_channels: tuple[int, ...] = knob((64, 128, 256, 512, 1024), "auxiliary classifiers, one per block")
    pixel_reassign: bool = knob(True, 'false: ablation "w/o pixel re-assignment" (the background is not resampled)')
    fg_mask_bias: float = knob(0.0, "initial bias of the fg mask logit; paper 0 (init: biases zero)")
    grid_residual: bool = knob(False, "re-assignment grid = identity + predicted offset (paper: False)")

    def __post_init__(self) -> None:
        check_types(self, "model")
        if len(self.classifier_channels) != len(self.up_channels):
            raise DRCError(
                "model.classifier_channels needs one entry per up-block "
                f"({len(self.up_channels)}), got {len(self.classifier_channels)}"
            )
        if min(self.zf_dim, self.zb_dim, self.zs_dim, self.kf, self.kb) < 1:
            raise DRCError("model latent sizes and category counts must be positive")
        check_at_least(self, "model", 1, "base_channels", "lebm_hidden", "lebm_reassign_hidden")
        check_at_least(self, "model", 0, "lebm_reassign_layers")
        if not self.up_channels or min(self.up_channels) < 1 or min(self.classifier_channels, default=1) < 1:
            raise DRCError(
                f"model.up_channels needs at least one block and every channel count >= 1, got {self.up_channels} "
                f"and classifier_channels {self.classifier_channels}"
            )

    @property
    def resolution(self) -> int:
        return 4 * 2 ** len(self.up_channels)

    @property
    def z_dim(self) -> int:
        return self.zf_dim + self.zb_dim + self.zs_dim


@dataclass(frozen=True)
class TrainConfig:
    """Learning (paper Algorithm 1, supplementary B). Defaults are the paper's."""

    iterations: int = knob(10_000, "paper: at most 10K iterations (and 48 h) per dataset")
    batch_size: int = knob(48, "paper: 48 on one V100")
    max_images: int | None = knob(None, "train on the first N images of the split (None: all); printed when it caps")
    posterior_steps: int = knob(40, "K1, posterior Langevin steps per iteration")
    posterior_step_size: float = knob(0.1, "s1")
    prior_steps: int = knob(60, "K0, prior Langevin steps per iteration")
    prior_step_size: float = knob(0.4, "s0")
    sigma: float = knob(0.25, "Laplace likelihood scale: log p = -|g - x| / (2 sigma^2)")
    lr_generator: float = knob(1e-4, "Adam, generators + auxiliary classifiers")
    lr_lebm: float = knob(2e-5, "Adam, latent EBM")
    lr_background: float | None = knob(None, "Adam lr of the background + re-assignment nets; None = lr_generator")
    lr_schedule: LrSchedule = knob("constant", "constant (paper) | cosine: every lr decays to 0 over `iterations`")
    beta1: float = knob(0.5, "Adam beta1 of every optimiser (supplementary B)")
    beta2: float = knob(0.999, "Adam beta2 of every optimiser")
    tv_norm: float = knob(0.01, 'weight of the TV-norm on the re-assigned background; 0 = ablation "w/o TV-norm"')
    ortho_reg: float = knob(1.0, "weight of the orthogonal regulariser (paper 1.0, Birds 0.1; official code 0.1)")
    ortho_squared: bool = knob(
        False, "False: eq. 24's Frobenius norm ||W W^T (1 - I)||_F (paper); True: its square, as the official code"
    )
    pseudo_label: float = knob(0.1, 'weight of each region\'s pseudo-label loss; 0 = ablation "w/o pseudo label"')
    persistent_chains: bool = knob(True, 'false = ablation "short-run chain" (z from N(0, I) each iteration)')
    hflip: bool = knob(True, "random horizontal flips (paper)")
    generator_loglik_scaled: bool = knob(
        True, "True: 1/(2 sigma^2) in the generator loss (paper Listing 3); False: plain L1 there, as the official code"
    )
    seed: int = knob(0, "seeds the model's initialisation, the chains' starts, the batch order and every draw")
    checkpoint_every: int = knob(500, "iterations between atomic checkpoints (an interrupt also writes one)")
    snapshot_every: int = knob(
        1000,
        "iterations between kept copies of the checkpoint, which the progress stage scores to draw IoU "
        "against iterations (0 = none)",
    )
    log_every: int = knob(10, "iterations between DVCLive metric steps")
    image_every: int = knob(500, "iterations between sample grids (0 = never)")
    monitor_every: int = knob(250, "iterations between persistent-chain IoU on the monitor images (0 = never)")
    device: str = knob("auto", "auto | cpu | cuda | cuda:N")
    perf: PerfMode | None = knob(None, "None = $DRC_PERF, else optimised (drc/perf.py)")

    def __post_init__(self) -> None:
        check_types(self, "train")
        if self.iterations < 0 or self.batch_size < 1:
            raise DRCError("train.iterations must be >= 0 and train.batch_size >= 1")
        check_positive(self, "train", "sigma", "posterior_step_size", "prior_step_size", "lr_generator", "lr_lebm")
        check_positive(self, "train", "lr_background")
        check_at_least(self, "train", 0, "posterior_steps", "prior_steps", "tv_norm", "ortho_reg", "pseudo_label")
        check_at_least(self, "train", 0, "seed", "snapshot_every", "image_every", "monitor_every")
        check_at_least(self, "train", 1, "checkpoint_every", "log_every")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise DRCError(f"train.beta1 and train.beta2 must be in [0, 1), got {self.beta1}, {self.beta2}")
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device):
            raise DRCError(f"train.device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        if self.max_images is not None and self.max_images < 1:
            raise DRCError(f"train.max_images must be >= 1 or none (all), got {self.max_images}")


@dataclass(frozen=True)
class SamplerConfig:
    """Test-time posterior Langevin chains (paper §3.3, supplementary B): one chain from N(0, I) per image."""

    init: ChainStart = knob(
        "noise", "noise: z ~ N(0, I) (paper); persistent: the training run's chains (its images only)"
    )
    steps: int = knob(5000, "posterior steps per chain (paper: 300 Dogs/Cars, 2.5K Birds, 5K others)")
    step_size: float = knob(0.1, "s1")
    noise: bool = knob(True, "Langevin noise at test time (paper: yes)")
    restarts: int = knob(1, "chains per image from N(0, I), one after another (paper: 1)")
    settle_steps: int = knob(
        0,
        "noise-free steps z <- z - s^2/2 grad J(z) after the chain, so the mask is read at a mode rather than "
        "at a noisy sample (paper: 0)",
    )
    settle_step_size: float = knob(0.1, "step size of the settling steps")
    settle: SettleWhich = knob(
        "kept",
        'which restarts settle: "kept" = only the one the read-out keeps (lowest energy of the unsettled '
        'chains); "every" = each restart, before energies or masks are compared',
    )
    sigma: float | None = knob(
        None,
        "the Laplace likelihood's scale (eq. 5) in the chains' energy and in the read-out's responsibilities "
        "(eq. 7); None = train.sigma, the model's (paper: the same sigma throughout)",
    )
    seed: int = knob(0, "seeds the N(0, I) starts and the Langevin noise: a score repeats exactly")
    batch_size: int = knob(100, "images per batch (memory; the noise stream is drawn per batch)")
    perf: PerfMode | None = knob(None, "None = $DRC_PERF, else optimised (drc/perf.py)")

    def __post_init__(self) -> None:
        check_types(self, "sampler")
        if self.steps < 0 or self.settle_steps < 0:
            raise DRCError("sampler.steps and sampler.settle_steps must be >= 0")
        check_positive(self, "sampler", "step_size", "settle_step_size")
        if self.sigma is not None and not 0 < self.sigma < float("inf"):
            raise DRCError(f"sampler.sigma must be positive (or none: train.sigma), got {self.sigma}")
        if self.restarts < 1 or self.batch_size < 1:
            raise DRCError(
                f"sampler.restarts and sampler.batch_size must be >= 1, got {self.restarts}, {self.batch_size}"
            )
        if self.init == "persistent" and self.restarts > 1:
            raise DRCError(
                "sampler.restarts > 1 needs chains from N(0, I); set sampler.init=noise or sampler.restarts=1"
            )
        if not 0 <= self.seed < 2**63:
            raise DRCError(f"sampler.seed must be in [0, 2**63), got {self.seed}")


@dataclass(frozen=True)
class ReadoutConfig:
    """How the foreground mask is read from the chains' end points (paper: pi_f > 0.5 of the one chain)."""

    source: MaskSource = knob(
        "pi_f",
        "pi_f: the generators' mixing weight (paper); responsibility: each pixel's posterior probability of "
        "the foreground given its colour (the paper's eq. 7 at the inferred z)",
    )
    threshold: float = knob(0.5, "a pixel is foreground where the read-out exceeds it (paper: 0.5)")
    combine: RestartCombination = knob(
        "lowest_energy",
        "lowest_energy: the mask of the restart with the lowest posterior energy; mean_mask: the mean of "
        "every restart's soft mask (the posterior mean over the modes the chains found). Renderings and z are "
        "the lowest-energy restart's either way",
    )
    full_resolution: bool = knob(
        False,
        "true: decided per pixel of the image, the read-out (bilinear) as prior odds times the pixel's own "
        "likelihood ratio under the renderings (drc/readout.py; a deviation; paper: the mask at the model's "
        "resolution, which is the image's)",
    )
    refine: Refinement = knob(
        "none",
        "grabcut: the mask, brought to the image's own size, seeds OpenCV's GrabCut there (probable "
        "foreground / background), which redraws its edges (a deviation; paper: none)",
    )
    seed_threshold: float | None = knob(
        None,
        "under refine=grabcut: GrabCut is seeded with the mask the read-out gives at this threshold instead "
        "(its odds recentred from `threshold`), resized or decided per pixel, while the model's own masks "
        "keep `threshold` (None: the same mask; a deviation, drc/readout.py)",
    )
    grabcut_band: int | None = knob(
        None,
        "under refine=grabcut: pixels farther than this many model pixels from GrabCut's seed are fixed "
        "background, so it redraws edges without spreading over far texture (None: any pixel may change; a "
        "deviation)",
    )

    def __post_init__(self) -> None:
        check_types(self, "readout")
        for name in ("threshold", "seed_threshold"):
            value = getattr(self, name)
            if value is not None and not 0.0 < value < 1.0:
                raise DRCError(f"readout.{name} must be in (0, 1), got {value!r}")
        if self.grabcut_band is not None and self.grabcut_band < 1:
            raise DRCError(f"readout.grabcut_band must be at least 1 model pixel (or none), got {self.grabcut_band!r}")

    @property
    def uses_images(self) -> bool:
        """Whether masks are decided on the images at the ground truth's size, not from the soft masks alone."""
        return self.refine != "none" or self.full_resolution


def for_unseen(sampler: SamplerConfig) -> SamplerConfig:
    """The sampler for images the model was not trained on: they have no persistent chains (N(0, I) instead)."""
    return dataclasses.replace(sampler, init="noise") if sampler.init == "persistent" else sampler


def chain_steps(sampler: SamplerConfig) -> int:
    """Langevin steps each image gets: every restart's chain and the settling steps (after each restart, or once)."""
    settles = sampler.restarts if sampler.settle == "every" else 1
    return sampler.restarts * sampler.steps + settles * sampler.settle_steps


def paper_chain(sampler: SamplerConfig) -> SamplerConfig:
    """The paper's test-time chain (one from N(0, I), step size s1 = 0.1, with noise, no settling) given the
    Langevin steps ``sampler`` spends per image: the paper's read-out at another plan's budget. The likelihood
    scale, seed and batching stay ``sampler``'s."""
    return SamplerConfig(
        init="noise",
        steps=chain_steps(sampler),
        sigma=sampler.sigma,
        seed=sampler.seed,
        batch_size=sampler.batch_size,
        perf=sampler.perf,
    )


def check_inference(sampler: SamplerConfig, readout: ReadoutConfig) -> None:
    """Reject a sampler / read-out pair in which a setting would be silently ignored."""
    if readout.combine == "mean_mask" and sampler.settle == "kept" and sampler.restarts > 1 and sampler.settle_steps:
        raise DRCError(
            "readout.combine=mean_mask reads every restart's settled mask, so sampler.settle=kept would be ignored; "
            "set sampler.settle=every"
        )


SECTIONS: dict[str, type] = {
    "model": ModelConfig,
    "train": TrainConfig,
    "sampler": SamplerConfig,
    "readout": ReadoutConfig,
}


@dataclass(frozen=True)
class Settings:
    """Everything that decides a run: the four sections, resolved (drc/params.py)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    readout: ReadoutConfig = field(default_factory=ReadoutConfig)

    def __post_init__(self) -> None:
        check_inference(self.sampler, self.readout)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: to_dict(getattr(self, name)) for name in SECTIONS}

    @classmethod
    def from_dict(cls, values: Mapping[str, Mapping[str, Any]]) -> Settings:
        unknown = sorted(set(values) - set(SECTIONS))
        if unknown:
            raise DRCError(f"unknown settings section(s) {unknown}; known: {', '.join(SECTIONS)}")
        return cls(**{name: from_dict(SECTIONS[name], values.get(name) or {}, name) for name in SECTIONS})


# The paper's per-dataset facts: latent sizes and categories (Table S1), orthogonal-regulariser weight
# (supplementary C.2), test-time posterior steps (supplementary B; the official configs use 300 for Birds
# and 20K for CLEVR6). Every profile starts from these.
# dataset: z_f, z_b, z_s, K_f, K_b, ortho weight, test-time steps
_PAPER_TABLE: dict[str, tuple[int, int, int, int, int, float, int]] = {
    "tmdsprites": (256, 4, 1024, 30, 10, 1.0, 5000),
    "birds": (256, 256, 512, 200, 200, 0.1, 2500),
    "dogs": (256, 256, 512, 200, 200, 1.0, 300),
    "cars": (256, 192, 512, 200, 200, 1.0, 300),
    "clevr6": (256, 2, 256, 30, 10, 1.0, 5000),
}
PAPER_FACTS: dict[str, dict[str, dict[str, Any]]] = {
    name: {
        "model": {"zf_dim": zf, "zb_dim": zb, "zs_dim": zs, "kf": kf, "kb": kb},
        "train": {"ortho_reg": ortho},
        "sampler": {"steps": steps},
    }
    for name, (zf, zb, zs, kf, kb, ortho, steps) in _PAPER_TABLE.items()
}


def dataset_kind(name: str) -> str | None:
    """The paper dataset that ``name`` is, or is a variant of (``<dataset>_<variant>``, e.g. tmdsprites_colour);
    None for any other dataset (your own images)."""
    for kind in PAPER_FACTS:
        if name == kind or name.startswith(f"{kind}_"):
            return kind
    return None


# -- overrides: one path for params.yaml sections, the CLI's --set and the benchmarks ------------------
def parse_set(items: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``["sampler.steps=100", "model.up_channels=[64,32,16]"]`` -> ``{"sampler": {"steps": 100}, ...}``.

    Values are read as YAML (numbers, true / false, null, lists); keys and values are checked later by
    ``from_dict`` when the section is built.
    """
    import yaml  # light, and only needed here

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not (sep and dot and name) or section not in SECTIONS:
            raise DRCError(f"--set takes SECTION.KEY=VALUE with SECTION one of {', '.join(SECTIONS)}; got {item!r}")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise DRCError(f"--set {item!r}: {text!r} is not a value (a number, true / false, null, [a, b])") from None
        out.setdefault(section, {})[name] = value
    return out


def choices_help() -> str:
    """The enumerated settings and their choices, for ``--help``."""
    listed = []
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in fields(cls):
            hint = hints[f.name]
            if Literal in (typing.get_origin(hint), *map(typing.get_origin, typing.get_args(hint))):
                listed.append(f"{section}.{f.name}: {_kind(hint).removesuffix(f' or {UNSET}')}")
    return "; ".join(listed)


def describe(cls: type) -> list[tuple[str, str, Any, str]]:
    """(field, type in words, default, its documentation) of each field of a config dataclass."""
    hints = typing.get_type_hints(cls)
    return [(f.name, _kind(hints[f.name]), _plain(f.default), f.metadata.get("doc", "")) for f in fields(cls)]


# -- data and baseline ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TMDSpritesConfig:
    """Every knob of the TM-dSprites generator (drc/data/tmdsprites.py; docs/tmdsprites.md gives the reading
    behind each default). Fractions are relative to the image side, so the look is resolution-independent."""

    n_images: int = knob(20_000, "images in the dataset; paper: 20K")
    resolution: int = knob(128, "px, square images; paper: 128x128")
    min_sprites: int = knob(2, "sprites per image, drawn uniformly from [min, max]; paper: 2-3")
    max_sprites: int = knob(3, "see min_sprites")
    shapes: tuple[Shape, ...] = knob(("square", "circle", "triangle"), "drawn uniformly; paper: these three")
    size_range: tuple[float, float] = knob(
        (0.1667, 0.3333),
        "Side of a sprite's bounding square as a fraction of the image side, uniform in [lo, hi]. Paper: "
        "unstated; 1/6-1/3 (21-43 px at 128, written to 4 digits) is dSprites-like (its shapes span ~0.2-0.4 "
        "of the side).",
    )
    position_range: tuple[float, float] = knob(
        (0.18, 0.82),
        "Range of sprite centres as a fraction of the side (both axes), further limited so that every sprite "
        'lies wholly inside the image. Paper: "continuous", range unstated. (0, 1) = anywhere it fits, (1/4, '
        "3/4) = dSprites' position latent. (0.18, 0.82) reproduces the paper's GrabCut score (61.9 IoU), "
        "which is very sensitive to it: see docs/tmdsprites.md.",
    )
    min_gap_px: float = knob(
        2.0,
        "px; bounding squares of two sprites are at least this far apart, so sprites never overlap (paper: "
        '"the foreground objects are not occluded"); 2 leaves >= 1 background pixel between them once '
        "rasterised.",
    )
    max_placement_tries: int = knob(10_000, "candidate position sets per image before a clear error (too crowded)")
    n_textures: int = knob(20, "gratings in the background bank; paper: 20")
    texture_period_range: tuple[float, float] = knob(
        (1 / 32, 1 / 4),
        "Grating period as a fraction of the image side, spaced geometrically over [lo, hi] across the bank "
        '(4-32 px at 128). Paper: "different frequencies", values unstated.',
    )
    texture_colour: TextureColour = knob(
        "grey",
        '"grey": gratings from black to white, as in Textured MNIST (greyscale); "colour": each grating runs '
        "between two random RGB colours. See docs/tmdsprites.md.",
    )
    eval_size: int = knob(1000, "evaluation subset = the first eval_size images; paper: 1K")
    seed: int = knob(0, ">= 0; fixes the texture bank and every image")

    def __post_init__(self) -> None:
        check_types(self, "tmdsprites")

        def bad(msg: str) -> DRCError:
            return DRCError(f"tmdsprites: {msg}")

        if self.n_images < 1:
            raise bad(f"n_images must be >= 1, got {self.n_images}")
        if self.resolution < 16:
            raise bad(f"resolution must be >= 16 px, got {self.resolution}")
        if not 1 <= self.min_sprites <= self.max_sprites:
            raise bad(f"need 1 <= min_sprites <= max_sprites, got {self.min_sprites}, {self.max_sprites}")
        if not self.shapes:
            raise bad("shapes must name at least one shape")
        lo, hi = self.size_range
        if not 0 < lo <= hi < 1:
            raise bad(f"size_range needs 0 < lo <= hi < 1 (fractions of the side), got {self.size_range}")
        lo, hi = self.position_range
        if not 0 <= lo < hi <= 1:
            raise bad(f"position_range needs 0 <= lo < hi <= 1 (fractions of the side), got {lo, hi}")
        lo, hi = self.texture_period_range
        if not 0 < lo <= hi:
            raise bad(f"texture_period_range must satisfy 0 < lo <= hi, got {self.texture_period_range}")
        if lo * self.resolution < 2:
            raise bad(f"shortest texture period {lo * self.resolution:.2f} px is below 2 px (aliased)")
        if self.min_gap_px < 0 or self.max_placement_tries < 1 or self.n_textures < 1:
            raise bad("min_gap_px must be >= 0, max_placement_tries and n_textures >= 1")
        if not 0 <= self.eval_size <= self.n_images:
            raise bad(f"eval_size must be in 0..n_images={self.n_images}, got {self.eval_size}")
        if self.seed < 0:
            raise bad(f"seed must be >= 0, got {self.seed}")


@dataclass(frozen=True)
class HeldoutConfig:
    """A generated dataset's held-out set: the same generator from another seed, never trained on."""

    seed: int = knob(1, "must differ from the dataset's own seed")
    n_images: int = knob(200, "images, every one scored")

    def __post_init__(self) -> None:
        check_types(self, "heldout")
        if self.seed < 0 or self.n_images < 1:
            raise DRCError(f"heldout.seed must be >= 0 and heldout.n_images >= 1, got {self.seed}, {self.n_images}")


@dataclass(frozen=True)
class RobustConfig:
    """The second TM-dSprites generator (drc/data/tmdsprites_robust.py): what the paper leaves open, read
    another way than ``TMDSpritesConfig`` reads it (its values in parentheses), for the robustness check."""

    seed: int = knob(5, "its own bank and images")
    n_images: int = knob(200, "images, every one scored")
    resolution: int = knob(128, "the variant's (paper: 128)")
    texture_colour: TextureColour = knob("grey", "the variant's")
    min_sprites: int = knob(2, "stated by the paper: 2-3")
    max_sprites: int = knob(3, "see min_sprites")
    size_range: tuple[float, float] = knob((0.12, 0.4), "side of a sprite, fraction of the image side (1/6-1/3)")
    rotate: bool = knob(True, "squares and triangles at a uniformly random angle (axis-aligned, apex up)")
    min_gap_px: float = knob(2.0, "between the circles around two sprites (between bounding squares)")
    sprite_saturation_range: tuple[float, float] = knob((0.8, 1.0), "HSV saturation of a sprite (1)")
    sprite_value_range: tuple[float, float] = knob((0.75, 1.0), "HSV value of a sprite (1)")
    n_textures: int = knob(20, "stated by the paper: a bank of 20 gratings")
    texture_period_range: tuple[float, float] = knob((1 / 40, 1 / 3), "geometric over the bank, shuffled (1/32-1/4)")
    texture_contrast_range: tuple[float, float] = knob(
        (0.4, 1.0),
        "amplitude around the grating's mid colour (1) orientations uniformly random in [0, 180) degrees "
        "(evenly spaced); centres anywhere a sprite fits (0.18-0.82)",
    )

    def __post_init__(self) -> None:
        check_types(self, "robust")
        lo, hi = self.size_range
        if not 0 < lo <= hi < 0.7 or self.n_images < 1 or self.resolution < 16 or self.seed < 0:
            raise DRCError("robust: need 0 < size_range lo <= hi < 0.7, n_images >= 1, resolution >= 16, seed >= 0")
        if not 1 <= self.min_sprites <= self.max_sprites or self.n_textures < 1:
            raise DRCError("robust: need 1 <= min_sprites <= max_sprites and n_textures >= 1")
        for name in ("sprite_saturation_range", "sprite_value_range", "texture_contrast_range"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi <= 1:
                raise DRCError(f"robust.{name} needs 0 <= lo <= hi <= 1, got {lo, hi}")
        lo, hi = self.texture_period_range
        if not 0 < lo <= hi or lo * self.resolution < 2:
            raise DRCError(f"robust.texture_period_range needs 0 < lo <= hi and lo >= 2 px, got {lo, hi}")


@dataclass(frozen=True)
class FolderConfig:
    """A folder of your own images as a dataset (drc/data/folder.py); ``path`` has no default."""

    path: str = field(metadata={"doc": "the folder, searched recursively (required)"})
    masks: str | None = knob(None, "a folder of masks at the same relative paths and stems (None: not scored)")
    resolution: int = knob(128, "px, the prepared images' side")
    fit: Literal["crop", "pad"] = knob("crop", "centred square crop, or pad to a square with edge colours")

    def __post_init__(self) -> None:
        check_types(self, "folder")
        check_resolution(self.resolution, "folder.resolution")


@dataclass(frozen=True)
class GrabCutConfig:
    """The GrabCut baseline (paper Table 1): OpenCV's GrabCut from a centred rectangle."""

    margin: float = knob(0.125, "rectangle = image minus this fraction of the side on each edge (paper: 1/8)")
    iterations: int = knob(5, "GrabCut EM iterations")
    workers: int = knob(2, "processes (the masks do not depend on it)")
    margin_sweep: tuple[float, ...] = knob(
        (0.03125, 0.0625, 0.09375, 0.125, 0.1875, 0.25), "margins of the sweep figure"
    )
    margin_sweep_images: int = knob(200, "first N evaluation images for the sweep")

    def __post_init__(self) -> None:
        check_types(self, "grabcut")
        if not all(0 <= m < 0.5 for m in (self.margin, *self.margin_sweep)):
            raise DRCError("grabcut.margin and grabcut.margin_sweep must lie in [0, 0.5) (fractions of the side)")
        if self.iterations < 1 or self.workers < 1 or self.margin_sweep_images < 1:
            raise DRCError("grabcut.iterations, grabcut.workers and grabcut.margin_sweep_images must be >= 1")


# Every settable key, by where it is set: the four sections of a run (params.yaml's sections, --set), the data
# settings (params.yaml's data.<dataset>) and the GrabCut baseline's (params.yaml's grabcut).
DOCUMENTED: dict[str, type] = {
    **SECTIONS,
    "data.<TM-dSprites variant>": TMDSpritesConfig,
    "data.<TM-dSprites variant>.heldout": HeldoutConfig,
    "data.<TM-dSprites variant>.robust": RobustConfig,
    "data.<folder dataset>": FolderConfig,
    "grabcut": GrabCutConfig,
}
