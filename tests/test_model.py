import numpy as np
import torch

from drc.config import ModelConfig
from drc.langevin import frozen, langevin
from drc.model.drc import DRC, Rendering, count_parameters, reassign
from drc.model.networks import LatentEBM, ReassignGenerator
from tests.helpers import Fixed, hand_estep_objective, tiny_model_config, torch_threads


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
    assert identity_grid(5, 7, image.double()).dtype == torch.float64  # the dtype of the tensor it is like
    cfg = tiny_model_config(grid_residual=True)
    r = DRC(cfg).render(torch.randn(2, cfg.z_dim))
    assert torch.allclose(r.bg, r.bg_raw, atol=1e-5)
    assert float(r.grid.detach().abs().max()) <= 1.0


# -- hand computations on one-dimensional latents ---------------------------------------------------------
def lrelu(v: np.ndarray, slope: float) -> np.ndarray:
    return np.where(v > 0, v, slope * v)


def logsumexp(v: np.ndarray) -> np.ndarray:
    return np.log(np.exp(v).sum(-1))


def set_linear(layer: torch.nn.Linear, weight: list[list[float]], bias: list[float]) -> None:
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        layer.bias.copy_(torch.tensor(bias))


def hand_lebm(lebm: LatentEBM) -> None:
    """z_f, z_b, z_s of one dimension each, heads one unit wide: every hidden Linear is 1 x 1 with weight 1 and
    bias 0 (so a head's hidden output is z after one LeakyReLU(0.2) per layer); the last layers are
    fg: [z, -z + 0.5] (K_f = 2), bg: [z, 0, 2z] (K_b = 3), re-assignment: 3z + 1."""
    for head in (lebm.fg_head, lebm.bg_head, lebm.reassign_head):
        for layer in [m for m in head if isinstance(m, torch.nn.Linear)][:-1]:
            set_linear(layer, [[1.0]], [0.0])
    set_linear(lebm.fg_head[-1], [[1.0], [-1.0]], [0.0, 0.5])
    set_linear(lebm.bg_head[-1], [[1.0], [0.0], [2.0]], [0.0, 0.0, 0.0])
    set_linear(lebm.reassign_head[-1], [[3.0]], [1.0])


Z = [[2.0, -1.0, 1.0], [-1.0, 0.5, -2.0]]  # two latents [z_f, z_b, z_s]


def hand_lebm_values() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Energy -f_alpha(z) = -(logsumexp(fg logits) + logsumexp(bg logits) + reassign scalar) (eq. 2) of ``Z``."""
    z = np.array(Z)
    hf, hb = lrelu(lrelu(z[:, 0], 0.2), 0.2), lrelu(lrelu(z[:, 1], 0.2), 0.2)  # two hidden layers
    hs = lrelu(lrelu(lrelu(z[:, 2], 0.2), 0.2), 0.2)  # three
    logits_f = np.stack([hf, -hf + 0.5], 1)  # [2, -1.5] and [-0.04, 0.54]
    logits_b = np.stack([hb, 0 * hb, 2 * hb], 1)  # [-0.04, 0, -0.08] and [0.5, 0, 1]
    f_alpha = logsumexp(logits_f) + logsumexp(logits_b) + 3 * hs + 1  # 3 * 1 + 1 = 4 and 3 * -0.016 + 1
    return -f_alpha, logits_f, logits_b


def one_dim_model(**overrides) -> DRC:
    model = DRC(tiny_model_config(zf_dim=1, zb_dim=1, zs_dim=1, kf=2, kb=3, lebm_hidden=1, lebm_reassign_hidden=1))
    hand_lebm(model.lebm)
    return model


def test_lebm_energy_and_category_logits_by_hand():
    energy, logits_f, logits_b = one_dim_model().lebm(torch.tensor(Z))
    want_energy, want_f, want_b = hand_lebm_values()
    assert np.allclose(logits_f.detach().numpy(), want_f, atol=1e-6)
    assert np.allclose(logits_b.detach().numpy(), want_b, atol=1e-6)
    assert np.allclose(energy.detach().numpy(), want_energy, atol=1e-5)


def test_prior_energy_is_the_lebm_energy_plus_half_the_squared_norm_by_hand():
    # ||z||^2 / 2: (4 + 1 + 1) / 2 = 3 and (1 + 0.25 + 4) / 2 = 2.625
    energy = one_dim_model().prior_energy(torch.tensor(Z))
    assert np.allclose(energy.detach().numpy(), hand_lebm_values()[0] + np.array([3.0, 2.625]), atol=1e-5)


# A one-layer generator with fixed weights on one-channel 2 x 2 images: fg = z_f F, bg = z_b B, fg mask logit
# z_s M (bg mask logit 0, so pi_f = sigmoid(z_s M)); the model's LEBM is ``hand_lebm``'s.
F_, B_, M_ = [[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.5]], [[2.0, -1.0], [0.0, 1.0]]
X = [[0.5, 0.25], [0.0, 1.0]]


def one_layer_render(z: torch.Tensor) -> Rendering:
    fg, bg = z[:, 0, None, None, None] * torch.tensor(F_), z[:, 1, None, None, None] * torch.tensor(B_)
    fm = z[:, 2, None, None, None] * torch.tensor(M_)
    zero = torch.zeros_like(fm)
    return Rendering(
        fg=fg, bg=bg, pi_f=torch.sigmoid(fm), fg_mask_logit=fm, bg_raw=bg, bg_mask_logit_raw=zero, grid=None
    )


def hand_posterior_energy(sigma: float, tv_weight: float) -> np.ndarray:
    """J(z) of ``Z`` (Listing 2): -sum_i E-step objective + tv_weight TV(bg) + LEBM energy + ||z||^2 / 2."""
    z, x = np.array(Z), np.array(X)
    fg, bg = z[:, 0, None, None] * np.array(F_), z[:, 1, None, None] * np.array(B_)
    pi_f = 1 / (1 + np.exp(-z[:, 2, None, None] * np.array(M_)))
    estep = hand_estep_objective(pi_f, fg, bg, x, sigma)
    tv = np.abs(np.diff(bg, axis=2)).sum((1, 2)) + np.abs(np.diff(bg, axis=1)).sum((1, 2))  # eq. 23
    return -estep.sum((1, 2)) + tv_weight * tv + hand_lebm_values()[0] + 0.5 * (z**2).sum(1)


def test_posterior_energy_term_by_term_by_hand():
    model = one_dim_model()
    model.render = one_layer_render
    z, x = torch.tensor(Z), torch.tensor(X)[None, None]
    without_tv = model.posterior_energies(z, x, 0.5, 0.0)
    assert np.allclose(without_tv.detach().numpy(), hand_posterior_energy(0.5, 0.0), rtol=1e-5)
    with_tv = model.posterior_energies(z, x, 0.25, 0.1)
    assert np.allclose(with_tv.detach().numpy(), hand_posterior_energy(0.25, 0.1), rtol=1e-5)
    # the TV-norm of bg = z_b B: |dx| 1, 0.5 and |dy| 1, 0.5 times |z_b| = 1, 0.5: 3 and 1.5, weighted 0.1
    tv = with_tv - model.posterior_energies(z, x, 0.25, 0.0)
    assert np.allclose(tv.detach().numpy(), [0.3, 0.15], atol=1e-5)
    assert torch.allclose(model.posterior_energy(z, x, 0.25, 0.1), with_tv.sum())


def test_posterior_langevin_moves_the_latents_toward_a_better_reconstruction():
    """One noise-free step down J from z = 0 (everything renders 0): the regions' images move toward x."""
    model = one_dim_model()
    model.render = one_layer_render
    x = torch.tensor(X)[None, None]
    z0 = torch.zeros(1, 3)
    z1 = langevin(z0, lambda v: model.posterior_energy(v, x, 0.5, 0.01), n_steps=1, step_size=0.5, noise=False)
    assert float(z1[0, 0]) > 0 and float(z1[0, 1]) > 0  # x is positive where F and B are
    for region in ("fg", "bg"):
        before, after = (float((getattr(one_layer_render(z), region) - x).abs().sum()) for z in (z0, z1))
        assert after < before, region


def test_reassign_samples_bilinearly_between_pixel_centres_with_zeros_outside_by_hand():
    # grid_sample with align_corners=False: pixel centres of a 2 x 2 image at x, y = -0.5, +0.5
    image = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
    points = [
        (0.0, -0.5),  # halfway between the top row's pixels: (1 + 2) / 2
        (-1.0, -0.5),  # the left edge of pixel (0, 0): half of it, half of the zero padding
        (0.5, 0.5),  # the centre of pixel (1, 1)
        (-0.5, 0.0),  # halfway down the left column: (1 + 3) / 2
    ]
    grid = torch.tensor(points).view(1, 2, 2, 2)  # (x, y) per output pixel
    assert reassign(image, grid).flatten().tolist() == [1.5, 0.5, 4.0, 2.0]


def test_render_reassigns_the_background_image_and_its_mask_and_mixes_with_the_foreground_first():
    """Eq. 4-6 and Listing 1 on 2 x 2 images: the grid swaps the columns; pi = softmax([m_f, re-assigned m_b])."""
    model = DRC(tiny_model_config(zf_dim=1, zb_dim=1, zs_dim=1))
    log3 = float(np.log(3.0))
    fg, fm = torch.full((1, 3, 2, 2), 0.5), torch.tensor([[0.0, log3], [0.0, 0.0]]).view(1, 1, 2, 2)
    bg_raw = torch.tensor([[-1.0, 1.0], [0.0, 0.25]]).expand(1, 3, 2, 2)
    bm_raw = torch.tensor([[0.0, 0.0], [log3, 0.0]]).view(1, 1, 2, 2)
    feature = torch.randn(1, 4, 4, 4)
    swap_columns = torch.tensor([[[0.5, -0.5], [-0.5, -0.5]], [[0.5, 0.5], [-0.5, 0.5]]]).view(1, 2, 2, 2)
    model.fg_gen, model.bg_gen = Fixed(fg, fm, torch.zeros(1)), Fixed(bg_raw, bm_raw, feature)
    model.reassign_gen = Fixed(swap_columns)
    z = torch.tensor([[1.0, 2.0, 3.0]])
    r = model.render(z)
    assert model.fg_gen.inputs[0][0].tolist() == [[1.0]] and model.bg_gen.inputs[0][0].tolist() == [[2.0]]
    zs, feat = model.reassign_gen.inputs[0]
    assert zs.tolist() == [[3.0]] and feat is feature  # z_s and the background's stem feature (Listing 1)
    assert r.bg[0, 0].tolist() == [[1.0, -1.0], [0.25, 0.0]]  # columns swapped
    # the mask logit is re-assigned too: [[0, 0], [0, log 3]]; pi_f = e^m_f / (e^m_f + e^m_b)
    assert r.pi_f.shape == (1, 1, 2, 2)
    assert np.allclose(r.pi_f[0, 0].numpy(), [[0.5, 0.75], [0.5, 0.25]], atol=1e-6)
    assert r.fg is fg and r.fg_mask_logit is fm and r.bg_raw is bg_raw and r.bg_mask_logit_raw is bm_raw
    assert r.grid is swap_columns
    composite = np.array([[0.5, 0.75], [0.5, 0.25]]) * 0.5 + np.array([[0.5, 0.25], [0.5, 0.75]]) * np.array(
        [[1.0, -1.0], [0.25, 0.0]]
    )
    assert np.allclose(r.composite[0, 0].numpy(), composite, atol=1e-6)


def test_parameter_counts_follow_table_s2_by_hand():
    """Each network's parameters counted from Table S2's layers for the tiny model (z 16 / 2 / 16, 4 x 4 x 32
    stem, up-blocks 48-32-16, classifiers 8-16-32, LEBM heads 32 wide, K 6 / 3)."""
    cfg = tiny_model_config()
    model = DRC(cfg)

    def up_blocks(c_in: int, channels: tuple[int, ...]) -> int:  # 3 x 3 conv without bias, affine InstanceNorm
        return sum(9 * a * b + 2 * b for a, b in zip((c_in, *channels), channels, strict=False))

    def generator(z: int) -> int:  # Linear to 32 x 4 x 4, up-blocks, 3 x 3 convs to RGB and to the mask logit
        return z * 512 + 512 + up_blocks(32, (48, 32, 16)) + (9 * 16 * 3 + 3) + (9 * 16 + 1)

    def classifier(k: int) -> int:  # 4 x 4 stride-2 convs without bias, affine InstanceNorm, a 4 x 4 conv to K
        return 16 * 3 * 8 + 2 * 8 + 16 * 8 * 16 + 2 * 16 + 16 * 16 * 32 + 2 * 32 + 16 * 32 * k + k

    def head(d: int, width: int, layers: int, k: int) -> int:  # Linear-LReLU x layers, Linear to k
        return d * width + width + (layers - 1) * (width * width + width) + width * k + k

    assert count_parameters(model.fg_gen) == generator(16)
    assert count_parameters(model.bg_gen) == generator(2)
    # the re-assignment net: its own Linear stem beside the background's 32 x 4 x 4 feature, a 2-channel grid
    assert count_parameters(model.reassign_gen) == 16 * 512 + 512 + up_blocks(64, (48, 32, 16)) + 9 * 16 * 2 + 2
    assert count_parameters(model.lebm) == head(16, 32, 2, 6) + head(2, 32, 2, 3) + head(16, 32, 3, 1)
    assert count_parameters(model.fg_classifier) == classifier(6)
    assert count_parameters(model.bg_classifier) == classifier(3)
    assert count_parameters(model) == generator(16) + generator(2) + count_parameters(model.reassign_gen) + (
        count_parameters(model.lebm) + classifier(6) + classifier(3)
    )


def test_initialisation_is_orthogonal_with_gain_one_and_zero_biases():
    """Supplementary B: orthogonal weights (gain 1.0) and zero biases, but the fg mask bias (model.fg_mask_bias)."""
    model = DRC(tiny_model_config(fg_mask_bias=-3.0))
    for name, layer in model.named_modules():
        if not isinstance(layer, torch.nn.Conv2d | torch.nn.Linear):
            continue
        w = layer.weight.detach().flatten(1).double().numpy()
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w  # the smaller Gram matrix is the identity
        assert np.allclose(gram, np.eye(len(gram)), atol=1e-5), name
        if layer.bias is not None:
            expected = -3.0 if name == "fg_gen.to_mask" else 0.0
            assert np.all(layer.bias.detach().numpy() == expected), name


def test_a_posterior_chain_from_noise_reduces_j_on_images_the_generator_can_render():
    torch.manual_seed(0)
    cfg = tiny_model_config()
    model = DRC(cfg)
    with torch.no_grad():
        x = model.render(torch.randn(2, cfg.z_dim)).composite  # images the generators can render exactly
    z0 = torch.randn(2, cfg.z_dim)
    with torch_threads(1), frozen(model):
        z = langevin(z0, lambda v: model.posterior_energy(v, x, 0.25, 0.01), n_steps=30, step_size=0.1)
    with torch.no_grad():
        j0, j = (model.posterior_energies(v, x, 0.25, 0.01) for v in (z0, z))
        error0, error = ((model.render(v).composite - x).abs().mean() for v in (z0, z))
    assert torch.all(j < j0) and error < error0, (j0, j, error0, error)


def test_outputs_are_the_same_in_train_and_eval_mode_and_classifiers_give_k_logits_per_image():
    """Instance norm with each image's own statistics (Table S2), no running averages: inference (eval mode)
    renders what training renders."""
    torch.manual_seed(0)
    cfg = tiny_model_config()
    model = DRC(cfg)
    z, x = torch.randn(2, cfg.z_dim), torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        outputs = []
        for mode in (True, False):
            model.train(mode)
            r = model.render(z)
            outputs.append([r.fg, r.bg, r.pi_f, r.grid, model.fg_classifier(x), model.bg_classifier(x)])
    for trained, evaluated in zip(*outputs, strict=True):
        assert torch.allclose(trained, evaluated, atol=1e-6)
    assert outputs[0][4].shape == (2, cfg.kf) and outputs[0][5].shape == (2, cfg.kb)


def test_the_residual_grid_stops_at_the_images_edge():
    """With model.grid_residual the grid is the identity plus the head's tanh offset, clamped to [-1, 1]: an offset
    of tanh(3) = 0.995 to the right and up moves every pixel that far, but no farther than the edge."""
    net = ReassignGenerator(1, 4, (4, 4, 4), residual=True)  # 32 x 32 grids
    with torch.no_grad():
        net.to_grid.weight.zero_()
        net.to_grid.bias.copy_(torch.tensor([3.0, -3.0]))
    with torch.no_grad():
        grid = net(torch.zeros(1, 1), torch.zeros(1, 4, 4, 4))
    centres = (torch.arange(32) * 2 + 1) / 32 - 1  # align_corners=False pixel centres
    shift = float(np.tanh(3.0))
    assert torch.allclose(grid[0, 0, :, 0], (centres + shift).clamp(max=1.0))  # x along a row
    assert torch.allclose(grid[0, :, 0, 1], (centres - shift).clamp(min=-1.0))  # y down a column
    assert float(grid[..., 0].max()) == 1.0 and float(grid[..., 1].min()) == -1.0
