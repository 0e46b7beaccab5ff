"""Resolving settings: the paper's defaults and facts, profiles, params.yaml and --set, and their checks."""

import subprocess
import sys

import pytest

from drc.config import (
    FolderConfig,
    ModelConfig,
    ReadoutConfig,
    SamplerConfig,
    Settings,
    TrainConfig,
    check_inference,
    choices_help,
    parse_set,
)
from drc.errors import DRCError
from drc.params import (
    data_values,
    load_params,
    profile_names,
    resolve_inference,
    resolve_section,
    resolve_settings,
    tmdsprites_sets,
)


@pytest.fixture()
def params():
    return load_params("params.yaml")


# The paper's numbers, written out (supplementary B, Tables S1 and S2, C.2; Listings 1-3): what the `paper`
# profile must resolve to, whatever the dataclass defaults say.
PAPER_LATENTS = {  # Table S1: z_f, z_b, z_s; Table S2 note: K_f, K_b; C.2: ortho weight; B: test-time steps
    "tmdsprites": ((256, 4, 1024), (30, 10), 1.0, 5000),
    "clevr6": ((256, 2, 256), (30, 10), 1.0, 5000),
    "birds": ((256, 256, 512), (200, 200), 0.1, 2500),
    "dogs": ((256, 256, 512), (200, 200), 1.0, 300),
    "cars": ((256, 192, 512), (200, 200), 1.0, 300),
}


@pytest.mark.parametrize("dataset", sorted(PAPER_LATENTS))
def test_paper_profile_is_the_papers_numbers(params, dataset):
    (zf, zb, zs), (kf, kb), ortho, test_steps = PAPER_LATENTS[dataset]
    s = resolve_settings(dataset, "paper", params)
    m, t, sampler, readout = s.model, s.train, s.sampler, s.readout
    # Table S2: a Linear to 128 x 4 x 4, five up-blocks 1024-64 (128 px), classifiers 64-1024, LEBM heads 200 wide
    assert (m.zf_dim, m.zb_dim, m.zs_dim, m.kf, m.kb) == (zf, zb, zs, kf, kb)
    assert (m.base_channels, m.up_channels, m.resolution) == (128, (1024, 512, 256, 128, 64), 128)
    assert m.classifier_channels == (64, 128, 256, 512, 1024)
    assert (m.lebm_hidden, m.lebm_reassign_hidden, m.lebm_reassign_layers) == (200, 200, 3)
    assert (m.pixel_reassign, m.fg_mask_bias, m.grid_residual) == (True, 0.0, False)
    # Supplementary B: batch 48, K1 = 40 steps of s1 = 0.1, K0 = 60 of s0 = 0.4, Adam 1e-4 / 2e-5, betas 0.5 / 0.999,
    # constant rates, at most 10K iterations; Listings 2-3: sigma 0.25; C.2: TV 0.01, pseudo label 0.1 each
    assert (t.batch_size, t.posterior_steps, t.posterior_step_size, t.prior_steps, t.prior_step_size) == (
        48, 40, 0.1, 60, 0.4,
    )  # fmt: skip
    assert (t.sigma, t.lr_generator, t.lr_lebm, t.lr_background, t.beta1, t.beta2) == (
        0.25, 1e-4, 2e-5, None, 0.5, 0.999,
    )  # fmt: skip
    assert (t.lr_schedule, t.iterations, t.max_images) == ("constant", 10_000, None)
    assert (t.tv_norm, t.pseudo_label, t.ortho_reg) == (0.01, 0.1, ortho)
    assert (t.persistent_chains, t.hflip, t.generator_loglik_scaled) == (True, True, True)
    # Test time (§4.1, supplementary B): one chain per image from N(0, I), noisy to the end, read as pi_f > 0.5
    assert (sampler.init, sampler.restarts, sampler.steps, sampler.step_size, sampler.noise) == (
        "noise", 1, test_steps, 0.1, True,
    )  # fmt: skip
    assert (sampler.settle_steps, sampler.sigma) == (0, None)  # sigma None: train.sigma, 0.25
    assert (readout.source, readout.threshold, readout.combine) == ("pi_f", 0.5, "lowest_energy")
    assert (readout.full_resolution, readout.refine, readout.seed_threshold) == (False, "none", None)


def test_the_cpu_profile_deviates_only_where_it_says(params):
    s = resolve_settings("tmdsprites", "cpu", params)
    assert s.model.resolution == 32 and s.model.zb_dim == 3 and s.model.fg_mask_bias == -3.0
    assert (s.train.max_images, s.train.iterations, s.train.sigma, s.train.lr_schedule) == (1000, 800, 0.5, "cosine")
    assert s.train.ortho_reg == 1.0  # the paper's fact for TM-dSprites (params.yaml: null)
    sampler = s.sampler
    assert (sampler.init, sampler.steps, sampler.restarts, sampler.settle_steps, sampler.settle) == (
        "noise",
        60,
        3,
        10,
        "every",
    )
    assert s.readout == ReadoutConfig(
        source="pi_f",
        threshold=0.8,
        combine="mean_mask",
        full_resolution=True,
        refine="grabcut",
        seed_threshold=0.65,
        grabcut_band=6,
    )
    paper = resolve_settings("tmdsprites", "paper", params)
    assert paper.sampler.init == "noise" and paper.readout == ReadoutConfig()
    clevr = resolve_settings("clevr6_rendered", "cpu", params)  # by_kind: the settings CLEVR6 was measured with
    assert (clevr.model.fg_mask_bias, clevr.model.zb_dim, clevr.model.zf_dim) == (0.0, 2, 32)
    assert (clevr.train.sigma, clevr.train.max_images, clevr.readout.threshold) == (0.25, 128, 0.5)
    assert clevr.readout.source == "responsibility"


def test_a_profiles_by_kind_entry_applies_to_that_kind_only(tmp_path, monkeypatch):
    import drc.params

    (tmp_path / "p").mkdir()
    profile = "fg_mask_bias: -3.0\nzb_dim: 3\nby_kind:\n  clevr6: {fg_mask_bias: 0.5}\n"
    (tmp_path / "p" / "model.yaml").write_text(profile)
    monkeypatch.setattr(drc.params, "PROFILES", tmp_path)
    bias = {d: resolve_section("model", d, "p", {}).fg_mask_bias for d in ("tmdsprites", "clevr6", "clevr6_rendered")}
    assert bias == {"tmdsprites": -3.0, "clevr6": 0.5, "clevr6_rendered": 0.5}
    assert resolve_section("model", "clevr6_rendered", "p", {}).zb_dim == 3  # the profile's other lines still apply
    assert resolve_section("model", "clevr6", "p", {"model": {"fg_mask_bias": 1.0}}).fg_mask_bias == 1.0  # params win
    (tmp_path / "p" / "model.yaml").write_text("by_kind:\n  clever: {fg_mask_bias: 0.5}\n")
    with pytest.raises(DRCError, match="unknown kind.*clever"):
        resolve_section("model", "tmdsprites", "p", {})


def test_layers_apply_in_order_and_null_keeps_the_layer_below(params):
    params["train"]["pseudo_label"] = 0
    params["train"]["iterations"] = None
    overrides = parse_set(["train.iterations=5", "sampler.steps=7"])
    for profile in profile_names():
        s = resolve_settings("tmdsprites", profile, params, overrides)
        assert s.train.pseudo_label == 0 and s.train.iterations == 5 and s.sampler.steps == 7
    assert resolve_section("train", "tmdsprites", "cpu", params).iterations == 800  # null: the profile's


def test_none_sets_a_nullable_setting_to_null_over_the_layers_below(params):
    assert resolve_section("sampler", "tmdsprites", "cpu", params).sigma == 0.25  # the cpu profile's
    assert resolve_section("sampler", "tmdsprites", "cpu", params, parse_set(["sampler.sigma=none"])).sigma is None
    params["readout"] = {"grabcut_band": "none", "seed_threshold": None}
    readout = resolve_section("readout", "tmdsprites", "cpu", params)
    assert readout.grabcut_band is None and readout.seed_threshold == 0.65  # none: null; null: the profile's
    assert ReadoutConfig(threshold=0.8, seed_threshold="none").seed_threshold is None
    with pytest.raises(DRCError, match="readout.grabcut_band must be integer or none, got 'off'"):
        ReadoutConfig(grabcut_band="off")
    with pytest.raises(DRCError, match="readout.threshold must be number, got 'none'"):
        ReadoutConfig(threshold="none")  # not nullable: "none" is no value
    assert FolderConfig(path="p", masks="none").masks == "none"  # a nullable text setting keeps it as text


def test_a_section_reads_only_its_own_layers(params):
    params["sampler"] = {"steps": "not a number"}  # broken, but the train section never reads it
    assert resolve_section("train", "tmdsprites", "cpu", params).iterations == 800
    with pytest.raises(DRCError, match="sampler.steps must be integer"):
        resolve_section("sampler", "tmdsprites", "cpu", params)


def test_bad_settings_fail_with_one_clear_line(params):
    with pytest.raises(DRCError, match="unknown profile 'gpu'"):
        resolve_settings("tmdsprites", "gpu", params)
    params["train"]["pseudo_labels"] = 0.1
    with pytest.raises(DRCError, match=r"unknown train setting\(s\) \['pseudo_labels'\]"):
        resolve_section("train", "tmdsprites", "cpu", params)
    with pytest.raises(DRCError, match="readout.source must be pi_f | responsibility"):
        ReadoutConfig(source="gamma")
    with pytest.raises(DRCError, match="train.hflip must be true | false"):
        TrainConfig(hflip="yes")
    with pytest.raises(DRCError, match="--set takes SECTION.KEY=VALUE"):
        parse_set(["steps=3"])
    with pytest.raises(DRCError, match="--set takes SECTION.KEY=VALUE"):
        parse_set(["infer.steps=3"])


def test_yaml_exponent_strings_become_floats_and_lists_tuples():
    assert TrainConfig(lr_generator="2e-4").lr_generator == 2e-4  # YAML 1.1 reads 2e-4 as a string
    assert parse_set(["model.up_channels=[8, 8]"]) == {"model": {"up_channels": [8, 8]}}
    assert ModelConfig(up_channels=[8, 8], classifier_channels=[4, 4]).up_channels == (8, 8)


def test_a_setting_that_would_be_ignored_is_rejected(params):
    with pytest.raises(DRCError, match="sampler.settle=kept would be ignored"):
        check_inference(SamplerConfig(restarts=3, settle_steps=5), ReadoutConfig(combine="mean_mask"))
    with pytest.raises(DRCError, match="sampler.settle=kept would be ignored"):
        Settings(sampler=SamplerConfig(restarts=3, settle_steps=5), readout=ReadoutConfig(combine="mean_mask"))
    check_inference(SamplerConfig(restarts=1, settle_steps=5), ReadoutConfig(combine="mean_mask"))  # one chain
    sampler, readout = resolve_inference("tmdsprites", "cpu", params)
    assert (sampler, readout) == (
        resolve_section("sampler", "tmdsprites", "cpu", params),
        resolve_section("readout", "tmdsprites", "cpu", params),
    )
    with pytest.raises(DRCError, match="sampler.settle=kept would be ignored"):  # the pair, as the stages resolve it
        resolve_inference("tmdsprites", "cpu", params, {"sampler": {"settle": "kept"}})
    with pytest.raises(DRCError, match="sampler.restarts > 1 needs chains from N"):
        SamplerConfig(init="persistent", restarts=2)


def test_choices_are_listed_for_help():
    text = choices_help()
    for listed in ("readout.source: pi_f | responsibility", "sampler.settle: kept | every", "train.perf: eager"):
        assert listed in text


def test_tmdsprites_data_resolves_profile_sizes_under_params(params):
    sets = tmdsprites_sets(data_values("tmdsprites", "cpu", params), "tmdsprites")
    cpu, heldout, robust = sets[""], sets["-heldout"], sets["-robust"]
    assert (cpu.n_images, cpu.eval_size, cpu.seed, cpu.texture_colour) == (20_000, 1000, 0, "grey")
    assert (heldout.seed, heldout.n_images, heldout.eval_size) == (1, 200, 200)
    assert (robust.n_images, robust.texture_colour, robust.resolution) == (200, "grey", 128)
    sets = tmdsprites_sets(data_values("tmdsprites", "tiny", params), "tmdsprites")
    assert (sets[""].n_images, sets[""].eval_size, sets["-heldout"].n_images, sets["-robust"].n_images) == (
        160,
        64,
        32,
        32,
    )
    colour = tmdsprites_sets(data_values("tmdsprites_colour", "cpu", params), "tmdsprites_colour")
    assert colour[""].texture_colour == colour["-robust"].texture_colour == "colour"
    assert len({colour[""].seed, colour["-heldout"].seed, colour["-robust"].seed, cpu.seed}) == 4
    with pytest.raises(DRCError, match="heldout.seed must differ"):
        tmdsprites_sets({"seed": 4, "heldout": {"seed": 4}}, "tmdsprites")


def test_reading_settings_imports_no_torch():
    code = "import sys, drc.config, drc.params; assert 'torch' not in sys.modules and 'numpy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
