import torch

from drc.config import ModelConfig
from drc.model.drc import DRC, count_parameters, reassign
from tests.helpers import tiny_model_config


def test_identity_grid_reassignment_returns_input():
    torch.manual_seed(0)
    image = torch.randn(2, 4, 8, 8)
    theta = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).expand(2, 2, 3)
    grid = torch.nn.functional.affine_grid(theta, (2, 4, 8, 8), align_corners=False)
    assert torch.allclose(reassign(image, grid), image, atol=1e-6)


def test_shifted_grid_moves_pixels():
    image = torch.arange(16.0).view(1, 1, 4, 4)
    theta = torch.tensor([[[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]]])  # half a unit = one pixel at width 4
    grid = torch.nn.functional.affine_grid(theta, (1, 1, 4, 4), align_corners=False)
    out = reassign(image, grid)
    assert torch.allclose(out[..., :3], image[..., 1:])


def test_learned_grid_shape_and_range_and_mixing_weights():
    torch.manual_seed(0)
    cfg = tiny_model_config()
    model = DRC(cfg)
    with torch.no_grad():
        r = model.render(torch.randn(3, cfg.z_dim) * 3)
    res = cfg.resolution
    assert r.grid.shape == (3, res, res, 2)
    assert float(r.grid.abs().max()) <= 1.0
    assert r.pi_f.shape == (3, 1, res, res) and float(r.pi_f.min()) >= 0 and float(r.pi_f.max()) <= 1
    assert torch.allclose(r.composite, r.pi_f * r.fg + (1 - r.pi_f) * r.bg)
    assert torch.allclose(r.bg, reassign(r.bg_raw, r.grid))


def test_without_pixel_reassignment_background_is_not_resampled():
    cfg = tiny_model_config(pixel_reassign=False)
    r = DRC(cfg).render(torch.randn(2, cfg.z_dim))
    assert r.grid is None and torch.equal(r.bg, r.bg_raw)
    pi_b = torch.softmax(torch.cat([r.fg_mask_logit, r.bg_mask_logit_raw], 1), 1)[:, 1:]
    assert torch.allclose(1 - r.pi_f, pi_b, atol=1e-6)


def test_lebm_energy_is_minus_sum_of_logsumexps_and_scalar_head():
    cfg = tiny_model_config()
    lebm = DRC(cfg).lebm
    z = torch.randn(5, cfg.z_dim)
    energy, lf, lb = lebm(z)
    zs = z[:, cfg.zf_dim + cfg.zb_dim :]
    expected = -(torch.logsumexp(lf, 1) + torch.logsumexp(lb, 1) + lebm.reassign_head(zs)[:, 0])
    assert torch.allclose(energy, expected) and lf.shape == (5, cfg.kf) and lb.shape == (5, cfg.kb)


def test_mask_bias_initialisation_sets_initial_foreground_weight():
    cfg = tiny_model_config(fg_mask_bias=-3.0)
    model = DRC(cfg)
    assert float(model.fg_gen.to_mask.bias.detach()) == -3.0
    assert float(model.bg_gen.to_mask.bias.detach()) == 0.0


def test_paper_profile_shapes_follow_table_s2():
    torch.manual_seed(0)
    cfg = ModelConfig()  # paper defaults, TM-dSprites latent sizes
    model = DRC(cfg)
    assert cfg.resolution == 128 and cfg.z_dim == 256 + 4 + 1024
    z = torch.randn(1, cfg.z_dim)
    feat = model.fg_gen.stem(z[:, :256])
    assert feat.shape == (1, 128, 4, 4)
    h, sizes = feat, []
    for block in model.fg_gen.trunk:
        h = block(h)
        sizes.append(tuple(h.shape[1:]))
    assert sizes == [(1024, 8, 8), (512, 16, 16), (256, 32, 32), (128, 64, 64), (64, 128, 128)]
    assert model.reassign_gen.trunk[0][1].in_channels == 256  # z_s stem + detached bg feature
    r = model.render(z)
    assert r.fg.shape == r.bg.shape == (1, 3, 128, 128) and r.grid.shape == (1, 128, 128, 2)
    assert model.fg_classifier(r.fg).shape == (1, 30) and model.bg_classifier(r.bg).shape == (1, 10)
    counts = {
        name: count_parameters(getattr(model, name))
        for name in ("fg_gen", "bg_gen", "reassign_gen", "lebm", "fg_classifier", "bg_classifier")
    }
    print("paper-profile parameter counts:", counts, "total:", count_parameters(model))
    assert sum(counts.values()) == count_parameters(model)


def test_residual_grid_starts_as_identity_and_identity_grid_is_exact():
    from drc.model.networks import identity_grid

    image = torch.randn(2, 3, 5, 7)
    grid = identity_grid(5, 7, image).expand(2, -1, -1, -1)
    assert torch.allclose(reassign(image, grid), image, atol=1e-5)
    cfg = tiny_model_config(grid_residual=True)
    r = DRC(cfg).render(torch.randn(2, cfg.z_dim))
    assert torch.allclose(r.bg, r.bg_raw, atol=1e-5)
    assert float(r.grid.detach().abs().max()) <= 1.0
