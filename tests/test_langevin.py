import torch

from drc.langevin import frozen, langevin
from tests.helpers import torch_threads


def test_langevin_on_a_quadratic_energy_has_the_known_stationary_mean_and_variance():
    """Listing 2's update z <- z - s^2/2 grad E + s eps on E = (z - mu)^2 / (2 std^2) is the linear recursion
    z <- mu + a (z - mu) + s eps, a = 1 - s^2 / (2 std^2): its stationary law is N(mu, s^2 / (1 - a^2)), exactly
    (the discretisation's bias included). With s = 0.5: std 0.5 gives a = 0.5, variance 1/3 (not 0.25);
    std 1 gives a = 0.875, variance 0.25 / 0.234375. From z = 0, 150 steps leave a^150 < 1e-8 of the start."""
    torch.manual_seed(0)
    mean, std, s = torch.tensor([1.5, -2.0]), torch.tensor([0.5, 1.0]), 0.5

    def energy(z: torch.Tensor) -> torch.Tensor:  # summed over chains: each chain's gradient is its own
        return (((z - mean) / std) ** 2 / 2).sum()

    n = 20_000
    with torch_threads(1):  # small tensors: more threads than idle cores only slow it down
        z = langevin(torch.zeros(n, 2), energy, n_steps=150, step_size=s)
    a = 1 - s**2 / (2 * std**2)
    variance = s**2 / (1 - a**2)
    assert torch.allclose(variance, torch.tensor([1 / 3, 0.25 / 0.234375]))
    # five standard errors of n independent chains: sqrt(v / n) for the mean, v sqrt(2 / (n - 1)) for the variance
    assert torch.all((z.mean(0) - mean).abs() < 5 * (variance / n).sqrt()), z.mean(0)
    assert torch.all((z.var(0) - variance).abs() < 5 * variance * (2 / (n - 1)) ** 0.5), z.var(0)


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


def test_langevin_adds_step_size_times_the_noise_it_is_given():
    z0 = torch.tensor([[3.0, -1.0]])
    z = langevin(z0, lambda v: (v**2).sum() / 2, n_steps=1, step_size=0.5, noise_like=torch.ones_like)
    assert torch.allclose(z, z0 - 0.5 * 0.5**2 * z0 + 0.5)  # z - s^2/2 z + s * 1
    assert z0.tolist() == [[3.0, -1.0]] and not z0.requires_grad and not z.requires_grad
