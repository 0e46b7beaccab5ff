import pytest

from drc.errors import DRCError
from drc.model.config import ModelConfig
from drc.params import load_params, resolve_settings


@pytest.fixture()
def params():
    return load_params("params.yaml")


def test_paper_profile_is_the_paper(params):
    s = resolve_settings(params, "tmdsprites", "paper")
    assert s.model == ModelConfig()  # Table S1/S2 for TM-dSprites
    t = s.train
    assert (t.batch_size, t.posterior_steps, t.posterior_step_size, t.prior_steps, t.prior_step_size) == (
        48,
        40,
        0.1,
        60,
        0.4,
    )
    assert (t.lr_generator, t.lr_lebm, t.beta1, t.beta2, t.sigma, t.iterations) == (
        1e-4,
        2e-5,
        0.5,
        0.999,
        0.25,
        10_000,
    )
    assert (t.tv_weight, t.ortho_weight, t.pseudo_label_weight, t.persistent_chains) == (0.01, 1.0, 0.1, True)
    assert s.infer.steps == 5000 and s.infer.init == "noise"
    assert (s.infer.restarts, s.infer.settle_steps, s.infer.mask_from) == (1, 0, "pi_f")  # one chain, mask = pi_f
    assert (s.infer.mask_threshold, s.infer.settle_every_restart) == (0.5, False)
    assert s.infer.combine_restarts == "lowest_energy"  # with one chain: that chain's mask
    assert s.model.fg_mask_bias == 0.0


def test_paper_profile_per_dataset_facts(params):
    birds = resolve_settings(params, "birds", "paper")
    assert (birds.model.zf_dim, birds.model.zb_dim, birds.model.zs_dim, birds.model.kf) == (256, 256, 512, 200)
    assert birds.train.ortho_weight == 0.1 and birds.infer.steps == 2500
    cars = resolve_settings(params, "cars", "paper")
    assert cars.model.zb_dim == 192 and cars.infer.steps == 300


def test_ablation_knobs_override_every_profile(params):
    params["train"].update(pseudo_label=0, pixel_reassign=False, persistent_chains=False, ortho_reg=0)
    for profile in ("paper", "cpu", "tiny"):
        s = resolve_settings(params, "tmdsprites", profile)
        assert s.train.pseudo_label_weight == 0 and s.train.ortho_weight == 0
        assert not s.model.pixel_reassign and not s.train.persistent_chains


def test_bad_params_fail_clearly(params):
    with pytest.raises(DRCError, match="unknown profile"):
        resolve_settings(params, "tmdsprites", "gpu")
    params["train"]["pseudo_labels"] = 0.1
    with pytest.raises(DRCError, match="not an ablation knob"):
        resolve_settings(params, "tmdsprites")
    del params["train"]["pseudo_labels"]
    params["profiles"]["cpu"]["model"]["zf"] = 3
    with pytest.raises(DRCError, match=r"unknown model parameter\(s\) \['zf'\]"):
        resolve_settings(params, "tmdsprites", "cpu")


def test_yaml_exponent_strings_become_floats(params):
    params["profiles"]["tiny"]["train"]["lr_generator"] = "2e-4"  # YAML 1.1 reads 2e-4 as a string
    assert resolve_settings(params, "tmdsprites", "tiny").train.lr_generator == 2e-4
