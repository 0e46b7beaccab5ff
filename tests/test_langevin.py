import torch

from drc.langevin import frozen, langevin


def test_langevin_recovers_gaussian_mean_and_variance():
    torch.manual_seed(0)
    mean = torch.tensor([1.5, -2.0])
    std = torch.tensor([0.5, 1.0])

    def energy(z: torch.Tensor) -> torch.Tensor:  # -log N(z; mean, diag(std^2)), summed over chains
        return (((z - mean) / std) ** 2 / 2).sum()

    z = langevin(torch.zeros(4000, 2), energy, n_steps=800, step_size=0.1)
    assert torch.allclose(z.mean(0), mean, atol=0.05), z.mean(0)
    # s = 0.1 is small next to each std, so the discretisation bias of the variance is below ~1.5 %
    assert torch.allclose(z.var(0), std**2, rtol=0.07), z.var(0)


def test_langevin_without_noise_is_gradient_descent():
    z0 = torch.tensor([[3.0]])
    z = langevin(z0, lambda v: (v**2).sum() / 2, n_steps=1, step_size=0.5, noise=False)
    assert torch.allclose(z, z0 - 0.5 * 0.5**2 * z0)


def test_frozen_restores_requires_grad():
    layer = torch.nn.Linear(2, 2)
    layer.bias.requires_grad_(False)
    with frozen(layer):
        assert not any(p.requires_grad for p in layer.parameters())
    assert layer.weight.requires_grad and not layer.bias.requires_grad
