import math

import numpy as np
import pytest
import torch

from drc.model.objective import (
    estep_objective,
    laplace_loglik,
    orthogonal_reg,
    pixel_log_odds,
    pseudo_label_loss,
    responsibility,
    threshold_log_odds,
    tv_norm,
)

SIGMA = 0.25


def pixel_responsibility(pi_f: torch.Tensor, log_pf: torch.Tensor, log_pb: torch.Tensor) -> torch.Tensor:
    """gamma_f of eq. 7 per pixel, as the mask read-out computes it: the sigmoid of the log posterior odds."""
    return torch.sigmoid(pixel_log_odds(pi_f, log_pf, log_pb))


def test_a_threshold_on_the_log_odds_scale_decides_as_the_threshold_on_the_responsibility():
    assert threshold_log_odds(0.5) == 0.0 and math.isclose(threshold_log_odds(0.8), math.log(4.0))
    pi_f = torch.linspace(0.01, 0.99, 50).view(1, 1, 5, 10)
    log_pf, log_pb = torch.zeros(1, 3, 5, 10), torch.full((1, 3, 5, 10), -0.1)
    log_odds, gamma = pixel_log_odds(pi_f, log_pf, log_pb), pixel_responsibility(pi_f, log_pf, log_pb)
    for t in (0.3, 0.65, 0.8):
        above = log_odds > threshold_log_odds(t)
        assert torch.equal(above, gamma > t) and 0 < above.sum() < above.numel()


def test_laplace_loglik_matches_formula():
    pred, target = torch.tensor([0.5, -0.25]), torch.tensor([0.0, 0.25])
    assert torch.allclose(laplace_loglik(pred, target, SIGMA), torch.tensor([-0.5 / 0.125, -0.5 / 0.125]))
    assert torch.allclose(laplace_loglik(pred, target, 0.5), torch.tensor([-0.5 / 0.5, -0.5 / 0.5]))  # 2 sigma^2
    assert torch.allclose(laplace_loglik(pred, target, None), torch.tensor([-0.5, -0.5]))


def test_responsibility_and_estep_on_a_2x2_image_by_hand():
    # One channel, 2x2 pixels: x, fg, bg and pi_f chosen so every quantity is easy by hand.
    x = torch.tensor([[[[0.0, 0.5], [1.0, -1.0]]]])
    fg = torch.tensor([[[[0.0, 0.0], [1.0, 0.0]]]])
    bg = torch.tensor([[[[0.25, 0.5], [0.0, -1.0]]]])
    pi_f = torch.tensor([[[[0.5, 0.2], [0.9, 0.5]]]])
    log_pf = laplace_loglik(fg, x, SIGMA)  # -|d| * 8
    log_pb = laplace_loglik(bg, x, SIGMA)
    expected_gamma, expected_obj = [], []
    for d_f, d_b, p in [(0.0, 0.25, 0.5), (0.5, 0.0, 0.2), (0.0, 1.0, 0.9), (1.0, 0.0, 0.5)]:
        lf, lb = -8 * d_f, -8 * d_b
        g = p * math.exp(lf) / (p * math.exp(lf) + (1 - p) * math.exp(lb) + 1e-8)
        expected_gamma.append(g)
        expected_obj.append(g * (math.log(p + 1e-8) + lf) + (1 - g) * (math.log(1 - p + 1e-8) + lb))
    gamma = responsibility(pi_f, log_pf, log_pb)
    assert torch.allclose(gamma.flatten(), torch.tensor(expected_gamma), atol=1e-6)
    assert not gamma.requires_grad
    obj = estep_objective(pi_f, log_pf, log_pb)
    assert torch.allclose(obj.flatten(), torch.tensor(expected_obj), atol=1e-5)


def test_where_neither_region_explains_a_pixel_the_1e8_hands_it_to_the_background():
    # p_f = p_b = e^-30, far below eq. 7's 1e-8: gamma = 0.5 e^-30 / (e^-30 + 1e-8) ~ 4.7e-6, not pi_f = 0.5
    pi_f, log_p = torch.full((1, 1, 1, 1), 0.5), torch.full((1, 1, 1, 1), -30.0)
    expected = 0.5 * math.exp(-30) / (math.exp(-30) + 1e-8)
    assert math.isclose(float(responsibility(pi_f, log_p, log_p)), expected, rel_tol=1e-4)


def test_estep_objective_stays_finite_where_a_mixing_weight_is_zero():
    # pi_f = 0: gamma = 0, J = 0 * (log 1e-8 + log p_f) + 1 * (log(1 + 1e-8) + log p_b) = log p_b = -2
    # pi_f = 1: gamma = 1 (to float32),  J = log(1 + 1e-8) + log p_f = -1 (the 1e-8 keeps log pi_b finite)
    pi_f = torch.tensor([0.0, 1.0]).view(1, 1, 1, 2)
    log_pf, log_pb = torch.full((1, 1, 1, 2), -1.0), torch.full((1, 1, 1, 2), -2.0)
    assert estep_objective(pi_f, log_pf, log_pb).flatten().tolist() == pytest.approx([-2.0, -1.0], abs=1e-6)


def test_pixel_log_odds_by_hand_per_image_and_at_mixing_weights_0_and_1():
    # Two images, two pixels, three channels: log odds = log(pi_f + 1e-8) - log(1 - pi_f + 1e-8)
    # + sum_c log p_f - sum_c log p_b; at pi_f = 0 the prior term is log(1e-8) = -18.42, at 1 it is +18.42.
    pi_f = torch.tensor([[0.0, 1.0], [0.5, 0.2]]).view(2, 1, 1, 2)
    log_pf = torch.tensor([[[-1.0, 0.0]] * 3, [[-0.5, -2.0]] * 3]).view(2, 3, 1, 2)
    log_pb = torch.tensor([[[0.0, -1.0]] * 3, [[-1.5, 0.0]] * 3]).view(2, 3, 1, 2)
    p = np.array([[0.0, 1.0], [0.5, 0.2]])
    expected = (
        np.log(p + 1e-8) - np.log(1 - p + 1e-8) + 3 * np.array([[-1.0 - 0.0, 0.0 + 1.0], [-0.5 + 1.5, -2.0 - 0.0]])
    )
    odds = pixel_log_odds(pi_f, log_pf, log_pb)
    assert odds.shape == (2, 1, 1, 2)
    assert np.allclose(odds[:, 0, 0].numpy(), expected, atol=1e-4)


def test_pixel_responsibility_multiplies_the_channels_likelihoods_by_hand():
    # One pixel, two channels: p(x | region) is the product of the channels' Laplace likelihoods (eq. 7).
    x = torch.tensor([0.0, 0.5]).view(1, 2, 1, 1)
    fg = torch.tensor([0.25, 0.5]).view(1, 2, 1, 1)  # |d| = 0.25, 0
    bg = torch.tensor([0.0, 0.25]).view(1, 2, 1, 1)  # |d| = 0, 0.25
    for p in (0.3, 0.5, 0.8):
        pi_f = torch.full((1, 1, 1, 1), p)
        gamma = pixel_responsibility(pi_f, laplace_loglik(fg, x, SIGMA), laplace_loglik(bg, x, SIGMA))
        pf, pb = math.exp(-8 * 0.25) * math.exp(0.0), math.exp(0.0) * math.exp(-8 * 0.25)
        assert gamma.shape == (1, 1, 1, 1) and not gamma.requires_grad
        assert math.isclose(float(gamma), p * pf / (p * pf + (1 - p) * pb), rel_tol=1e-5)


def test_pixel_responsibility_is_the_e_steps_gamma_for_one_channel_and_survives_underflow():
    pi_f = torch.tensor([0.5, 0.2, 0.9, 0.5]).view(1, 1, 2, 2)
    log_pf = torch.tensor([0.0, -4.0, -1.0, -8.0]).view(1, 1, 2, 2)
    log_pb = torch.tensor([-2.0, 0.0, -3.0, 0.0]).view(1, 1, 2, 2)
    gamma = pixel_responsibility(pi_f, log_pf, log_pb)
    assert torch.allclose(gamma, responsibility(pi_f, log_pf, log_pb), atol=1e-6)
    # Both likelihoods far below float32's range: exp() gives 0 / 0, the log-odds still pick the closer region.
    far = pixel_responsibility(
        torch.full((1, 1, 1, 1), 0.5), torch.full((1, 3, 1, 1), -400.0), torch.full((1, 3, 1, 1), -401.0)
    )
    assert math.isclose(float(far), 1 / (1 + math.exp(-3.0)), rel_tol=1e-5)


def test_estep_gradient_treats_gamma_as_constant():
    pi_f = torch.tensor([0.3], requires_grad=True)
    log_pf, log_pb = torch.tensor([-1.0]), torch.tensor([-2.0])
    estep_objective(pi_f, log_pf, log_pb).sum().backward()
    g = float(responsibility(pi_f, log_pf, log_pb))
    # d/dpi [g log pi + (1-g) log(1-pi)] with g fixed
    assert math.isclose(float(pi_f.grad), g / 0.3 - (1 - g) / 0.7, rel_tol=1e-4)


def test_tv_norm_by_hand():
    img = torch.tensor([[[[0.0, 1.0], [3.0, 3.0]]]])
    # |dx|: |1-0|, |3-3| ; |dy|: |3-0|, |3-1|
    assert float(tv_norm(img, "sum")) == 1 + 0 + 3 + 2
    assert float(tv_norm(img, "mean")) == 0.5 + 2.5
    two = torch.cat([img, 2 * img])
    assert tv_norm(two, "per_sample").tolist() == [6.0, 12.0]


def test_tv_norm_of_a_2x3_image_by_hand():
    # [[0, 1, 3], [2, 2, 2]]: |dx| = 1, 2, 0, 0 (4 differences); |dy| = 2, 1, 1 (3 differences)
    img = torch.tensor([[[[0.0, 1.0, 3.0], [2.0, 2.0, 2.0]]]])
    assert float(tv_norm(img)) == 3 + 4  # eq. 23 is a sum over pixels
    assert float(tv_norm(img, "mean")) == pytest.approx(3 / 4 + 4 / 3)
    both = torch.cat([img, -img], dim=1)  # a second channel, its mirror: twice the variation
    assert tv_norm(torch.cat([both, 2 * both]), "per_sample").tolist() == [14.0, 28.0]
    with pytest.raises(ValueError, match=r"^reduction must be 'sum', 'mean' or 'per_sample', got 'max'$"):
        tv_norm(img, "max")


def test_tv_norm_of_a_3x2_image_by_hand():
    # [[0, 2], [1, 2], [3, 2]]: |dy| = 1, 0, 2, 0 (each row from the one above it); |dx| = 2, 1, 1
    img = torch.tensor([[[[0.0, 2.0], [1.0, 2.0], [3.0, 2.0]]]])
    assert float(tv_norm(img)) == 3 + 4
    assert float(tv_norm(img, "mean")) == pytest.approx(3 / 4 + 4 / 3)


def test_orthogonal_reg_zero_for_orthogonal_rows_and_hand_value_otherwise():
    conv = torch.nn.Conv2d(1, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 0.0]).view(2, 1, 1, 1))
    assert float(orthogonal_reg(conv).detach()) == 0.0
    conv2 = torch.nn.Conv2d(2, 2, 1, bias=False)
    with torch.no_grad():
        conv2.weight.copy_(torch.tensor([[1.0, 1.0], [1.0, 0.0]]).view(2, 2, 1, 1))
    # W W^T = [[2, 1], [1, 1]]; off-diagonal squares: 1 + 1; eq. 24's Frobenius norm sqrt(2), its square 2
    assert float(orthogonal_reg(conv2).detach()) == pytest.approx(2**0.5)
    assert float(orthogonal_reg(conv2, squared=True).detach()) == 2.0
    assert float(orthogonal_reg(torch.nn.Linear(3, 3))) == 0.0  # only 4-D conv weights count


def test_orthogonal_reg_sums_every_conv_of_a_module_by_hand():
    # Rows of each flattened kernel W (C_out x C_in*kh*kw); the sum of squared off-diagonal entries of W W^T
    # (squared=True; eq. 24's norm is its square root):
    #   [[1], [1]]                  -> W W^T = [[1, 1], [1, 1]]              -> 1 + 1 = 2
    #   [[1, 0], [0, 1], [1, 1]]    -> off-diagonal pairs (0,2), (1,2) are 1 -> 2 * (1 + 1) = 4
    #   [[1, 2], [3, -1]] (1 x 2)   -> <row 0, row 1> = 3 - 2 = 1            -> 2
    # the conv's bias and the Linear layer do not count
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 1, bias=False),
        torch.nn.Conv2d(2, 3, 1),
        torch.nn.Conv2d(1, 2, (1, 2), bias=False),
        torch.nn.Linear(2, 2),
    )
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([1.0, 1.0]).view(2, 1, 1, 1))
        net[1].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]).view(3, 2, 1, 1))
        net[2].weight.copy_(torch.tensor([[1.0, 2.0], [3.0, -1.0]]).view(2, 1, 1, 2))
    assert float(orthogonal_reg(net, squared=True).detach()) == 2 + 4 + 2
    assert float(orthogonal_reg(net).detach()) == pytest.approx(2**0.5 + 4**0.5 + 2**0.5)  # eq. 24: each norm


def test_orthogonal_reg_has_a_finite_gradient_at_orthogonal_weights():
    conv = torch.nn.Conv2d(1, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 0.0]).view(2, 1, 1, 1))
    orthogonal_reg(conv).backward()
    assert conv.weight.grad.abs().sum().item() == 0.0  # the norm's subgradient at 0, not NaN


@pytest.mark.filterwarnings("error")  # a softmax over an implicit dimension warns
def test_pseudo_label_is_cross_entropy_with_detached_target():
    lebm = torch.tensor([[0.0, math.log(3.0)]], requires_grad=True)  # softmax = [0.25, 0.75]
    clf = torch.tensor([[math.log(1.0), math.log(4.0)]], requires_grad=True)  # log_softmax = log([0.2, 0.8])
    loss = pseudo_label_loss(lebm, clf)
    assert math.isclose(float(loss.detach()), -(0.25 * math.log(0.2) + 0.75 * math.log(0.8)), rel_tol=1e-6)
    loss.backward()
    assert lebm.grad is None and clf.grad is not None
    # A batch of two is the mean of the two cross-entropies; the second is H([0.5, 0.5], [0.5, 0.5]) = log 2.
    batch = pseudo_label_loss(
        torch.tensor([[0.0, math.log(3.0)], [1.0, 1.0]]), torch.tensor([[0.0, math.log(4.0)], [2.0, 2.0]])
    )
    first = -(0.25 * math.log(0.2) + 0.75 * math.log(0.8))
    assert math.isclose(float(batch), (first + math.log(2.0)) / 2, rel_tol=1e-6)
