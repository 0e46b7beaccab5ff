"""Test-time inference: posterior energies per sample, restarts, settling, the read-outs, and side effects."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from drc.config import ReadoutConfig, SamplerConfig, TrainConfig
from drc.errors import DRCError
from drc.inference import ImageNoise, content_key, extract, image_seed
from drc.langevin import langevin
from drc.model.drc import DRC
from drc.model.networks import UpBlock
from drc.readout import Readout
from tests.helpers import tiny_model_config

SIGMA, TV = 0.5, 0.01
PAPER = ReadoutConfig()  # pi_f > 0.5 of the kept chain


@pytest.fixture(scope="module")
def model_and_images():
    torch.manual_seed(0)
    model = DRC(tiny_model_config())
    images = torch.rand(5, 3, 32, 32) * 2 - 1
    return model, images


def sampler(**fields) -> SamplerConfig:
    """A sampler in the reference execution path, so that hand computations match it exactly."""
    return SamplerConfig(**{"perf": "eager", **fields})


def run(model, x, sampler_config, readout=PAPER, **kwargs):
    """``extract`` for a model trained at likelihood scale SIGMA and TV weight TV."""
    how = Readout.resolve(readout, sampler_config, TrainConfig(sigma=SIGMA))
    return extract(model, x, sampler_config, how, TV, progress=False, **kwargs)


def test_posterior_energies_are_the_per_sample_terms_of_the_batch_energy(model_and_images):
    model, x = model_and_images
    z = torch.randn(len(x), model.config.z_dim)
    with torch.no_grad():
        each = model.posterior_energies(z, x, SIGMA, TV)
        alone = torch.stack([model.posterior_energy(z[i : i + 1], x[i : i + 1], SIGMA, TV) for i in range(len(x))])
        total = model.posterior_energy(z, x, SIGMA, TV)
    assert each.shape == (len(x),)
    assert torch.allclose(each, alone, rtol=1e-5)
    assert torch.allclose(each.sum(), total, rtol=1e-5)


def test_restarts_keep_the_lowest_energy_chain_per_image(model_and_images):
    model, x = model_and_images
    draws = start_draws(model, x)  # steps=0: each restart's chain is its N(0, I) draw
    with torch.no_grad():
        energies = torch.stack([model.posterior_energies(d, x, SIGMA, TV) for d in draws])
    expected = torch.stack(draws)[energies.argmin(0), torch.arange(len(x))]
    assert len(set(energies.argmin(0).tolist())) > 1  # the choice differs between images
    out = run(model, x, sampler(steps=0, restarts=3, seed=4))
    assert torch.equal(out.z, expected)


def start_draws(model: DRC, x: torch.Tensor, restarts: int = 3, seed: int = 4) -> list[torch.Tensor]:
    """The N(0, I) starts of ``restarts`` chains per image: image i's come from a generator seeded with
    sha256(seed, i), one draw of z_dim per restart."""
    generators = [torch.Generator().manual_seed(image_seed(seed, i)) for i in range(len(x))]
    return [torch.stack([torch.randn(model.config.z_dim, generator=g) for g in generators]) for _ in range(restarts)]


def settled_by_hand(model: DRC, x: torch.Tensor) -> list[torch.Tensor]:
    """The restarts of ``sampler(steps=0, restarts=3, seed=4, settle_steps=2, settle_step_size=0.1)``
    with every restart settled: each chain is its N(0, I) draw, then 2 noise-free steps of 0.1."""
    draws = start_draws(model, x)
    return [langevin(d, lambda v: model.posterior_energy(v, x, SIGMA, TV), 2, 0.1, noise=False) for d in draws]


SETTLED = {"steps": 0, "restarts": 3, "seed": 4, "settle_steps": 2, "settle_step_size": 0.1}


def test_settle_every_restart_compares_the_settled_chains(model_and_images):
    model, x = model_and_images
    settled = settled_by_hand(model, x)
    with torch.no_grad():
        energies = torch.stack([model.posterior_energies(z, x, SIGMA, TV) for z in settled])
    expected = torch.stack(settled)[energies.argmin(0), torch.arange(len(x))]
    out = run(model, x, sampler(**SETTLED, settle="every"))
    assert torch.allclose(out.z, expected, atol=1e-6)
    kept_then_settled = run(model, x, sampler(**SETTLED, settle="kept"))
    assert not torch.allclose(out.z, kept_then_settled.z)


@pytest.mark.parametrize("source", ["responsibility", "pi_f"])
def test_mean_mask_averages_the_settled_restarts_masks(model_and_images, source):
    model, x = model_and_images
    settled = settled_by_hand(model, x)
    with torch.no_grad():
        read = Readout(ReadoutConfig(source=source, threshold=0.8), sigma=SIGMA)
        masks = torch.stack([read.soft(model.render(z), x) for z in settled])
    mean = ReadoutConfig(source=source, threshold=0.8, combine="mean_mask")
    every = sampler(**SETTLED, settle="every")
    out = run(model, x, every, mean)
    assert torch.allclose(out.soft_mask, masks.mean(0), atol=1e-6)
    assert torch.equal(out.mask, out.soft_mask > 0.5)
    lowest = run(model, x, every, replace(mean, combine="lowest_energy"))
    assert torch.equal(out.z, lowest.z)  # z and the renderings: the lowest-energy restart's
    assert torch.equal(out.composite, lowest.composite)
    assert not torch.allclose(out.soft_mask, lowest.soft_mask)
    one = run(model, x, replace(every, restarts=1), mean)
    assert torch.allclose(one.soft_mask, masks[0], atol=1e-6)  # the mean of one restart is its mask


def test_one_restart_is_the_plain_chain(model_and_images):
    model, x = model_and_images
    assert torch.equal(run(model, x, sampler(steps=2)).z, run(model, x, sampler(steps=2, restarts=1)).z)


def test_an_images_chains_depend_on_its_key_alone_not_on_its_batch(model_and_images):
    model, x = model_and_images
    starts = sampler(steps=0, restarts=3, seed=4)  # the draws themselves, exactly
    assert torch.equal(run(model, x[3:4], starts, keys=[3]).z[0], run(model, x, starts).z[3])
    assert torch.equal(run(model, x, replace(starts, batch_size=2)).z, run(model, x, starts).z)
    # With steps, the same draws meet float rounding that differs with the batch shape (oneDNN blocks
    # a batch of 1 and one of 5 differently), which the chains carry forward: equal to rounding.
    chains = sampler(steps=3, restarts=2, settle_steps=1, settle="every")
    together, alone = run(model, x, chains), run(model, x[3:4], chains, keys=[3])
    moved = run(model, x.flip(0), chains, keys=list(range(len(x)))[::-1])
    other_seed = run(model, x, replace(chains, seed=5))
    assert (alone.z[0] - together.z[3]).abs().median() < 0.02
    assert (moved.z.flip(0) - together.z).abs().median() < 0.02
    assert (other_seed.z - together.z).abs().median() > 0.3  # while another seed draws other chains
    assert image_seed(0, 1) != image_seed(1, 0) and ImageNoise(0, [1, 2], torch.device("cpu")).normal(4).shape == (2, 4)


def test_chains_depend_on_the_seed_alone_and_leave_the_callers_rng_alone(model_and_images):
    model, x = model_and_images
    state = torch.get_rng_state()
    first = run(model, x, sampler(steps=2, seed=7))
    assert torch.equal(torch.get_rng_state(), state)
    torch.randn(100)  # another RNG state: the same seed still gives the same chains
    again = run(model, x, sampler(steps=2, seed=7))
    other = run(model, x, sampler(steps=2, seed=8))
    assert torch.equal(first.z, again.z)
    assert not torch.equal(first.z, other.z)
    with pytest.raises(DRCError, match="sampler.seed"):
        SamplerConfig(seed="one")


def test_extract_leaves_the_model_as_it_found_it(model_and_images):
    model, x = model_and_images
    blocks = [m for m in model.modules() if isinstance(m, UpBlock)]
    model.train()
    assert all("fast" not in b.__dict__ for b in blocks)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    run(model, x, SamplerConfig(steps=1, perf="optimised"))  # switches the fast kernels on inside
    assert model.training and all("fast" not in b.__dict__ for b in blocks)
    assert all(p.requires_grad for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    model.eval()


def test_restarts_need_chains_from_noise(model_and_images):
    model, x = model_and_images
    with pytest.raises(ValueError, match="restarts > 1"):
        run(model, x, sampler(steps=1, restarts=2), z_init=torch.zeros(len(x), model.config.z_dim))
    with pytest.raises(DRCError, match="restarts and sampler.batch_size must be >= 1"):
        SamplerConfig(restarts=0)


def test_settle_steps_descend_the_posterior_energy_without_noise_from_the_kept_chain(model_and_images):
    model, x = model_and_images
    z0 = torch.randn(len(x), model.config.z_dim)
    out = run(model, x, sampler(steps=0, settle_steps=4, settle_step_size=0.05), z_init=z0)
    z = z0.clone()
    for _ in range(4):  # z <- z - s^2/2 grad J(z), by hand
        v = z.requires_grad_(True)
        (grad,) = torch.autograd.grad(model.posterior_energy(v, x, SIGMA, TV), v)
        z = (v - 0.5 * 0.05**2 * grad).detach()
    assert torch.allclose(out.z, z, atol=1e-5)
    with torch.no_grad():
        assert (model.posterior_energies(out.z, x, SIGMA, TV) < model.posterior_energies(z0, x, SIGMA, TV)).all()
    with pytest.raises(DRCError, match="settle_steps"):
        SamplerConfig(settle_steps=-1)


def test_the_mask_is_read_from_pi_f_or_from_each_pixels_responsibility(model_and_images):
    model, x = model_and_images
    paper = run(model, x, sampler(steps=2))
    assert torch.equal(paper.soft_mask, paper.pi_f) and torch.equal(paper.mask, paper.pi_f > 0.5)
    posterior = run(model, x, sampler(steps=2), ReadoutConfig(source="responsibility"))
    assert torch.equal(posterior.z, paper.z)  # the read-out does not change the chains
    with torch.no_grad():  # eq. 7 by hand: pi_f prod_c p_f / (pi_f prod_c p_f + pi_b prod_c p_b)
        r = model.render(posterior.z)
        log_pf = -(r.fg - x).abs().sum(1) / (2 * SIGMA**2)
        log_pb = -(r.bg - x).abs().sum(1) / (2 * SIGMA**2)
        pi_f = r.pi_f[:, 0].double()
        pf, pb = pi_f * log_pf.double().exp(), (1 - pi_f) * log_pb.double().exp()
    assert torch.allclose(posterior.soft_mask.double(), pf / (pf + pb), atol=1e-5)
    assert torch.equal(posterior.mask, posterior.soft_mask > 0.5)
    assert not torch.equal(posterior.mask, paper.mask)
    with pytest.raises(DRCError, match="readout.source"):
        ReadoutConfig(source="gamma")


@pytest.mark.parametrize("source", ["pi_f", "responsibility"])
def test_a_mask_threshold_moves_the_decision_and_keeps_the_chains(model_and_images, source):
    model, x = model_and_images
    half = run(model, x, sampler(steps=2), ReadoutConfig(source=source))
    for t in (0.2, 0.7):
        moved = run(model, x, sampler(steps=2), ReadoutConfig(source=source, threshold=t))
        assert torch.equal(moved.z, half.z)
        decided = half.soft_mask > t  # the read-out above t, away from float ties at t
        clear = (half.soft_mask - t).abs() > 1e-5
        assert torch.equal(moved.mask[clear], decided[clear]) and torch.equal(moved.mask, moved.soft_mask > 0.5)
        raised = moved.soft_mask >= half.soft_mask if t < 0.5 else moved.soft_mask <= half.soft_mask
        assert raised.all()  # a monotone recentring of the same read-out
    assert torch.equal(half.mask, half.soft_mask > 0.5)
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(DRCError, match="readout.threshold"):
            ReadoutConfig(threshold=bad)


def test_the_samplers_sigma_replaces_the_models_in_the_chains_and_the_read_out(model_and_images):
    model, x = model_and_images
    readout = ReadoutConfig(source="responsibility")
    sharper = run(model, x, sampler(steps=2, settle_steps=1, sigma=0.25), readout)
    by_argument = extract(model, x, sampler(steps=2, settle_steps=1), Readout(readout, 0.25), TV, progress=False)
    assert torch.equal(sharper.z, by_argument.z) and torch.equal(sharper.soft_mask, by_argument.soft_mask)
    assert not torch.equal(sharper.z, run(model, x, sampler(steps=2, settle_steps=1), readout).z)
    assert torch.equal(run(model, x, sampler(steps=2, sigma=None)).z, run(model, x, sampler(steps=2)).z)
    for bad in (0.0, -0.5):
        with pytest.raises(DRCError, match="sampler.sigma"):
            SamplerConfig(sigma=bad)


@pytest.mark.parametrize(
    ("fields", "readout", "steps"),
    [
        ({"steps": 4, "restarts": 3, "settle_steps": 2}, PAPER, 3 * 4 + 2),  # only the kept restart settles
        ({"steps": 4, "restarts": 3, "settle_steps": 2, "settle": "every"}, PAPER, 3 * (4 + 2)),
        ({"steps": 0}, PAPER, 0),
    ],
)
def test_progress_is_reported_after_every_langevin_step_in_images(model_and_images, fields, readout, steps):
    model, x = model_and_images
    calls = []
    run(model, x[:3], sampler(batch_size=2, **fields), readout, step_progress=calls.append)
    # batches of 2 and 1 images: each step of a batch is worth its images over the steps each image takes
    assert calls == ([2 / steps] * steps + [1 / steps] * steps if steps else [])


def test_an_image_from_a_file_is_keyed_by_its_pixels_and_shape():
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    key = content_key(image)
    assert key == content_key(image.copy()) and 0 <= key < 2**63
    changed = image.copy()
    changed[1, 2, 0] += 1
    assert content_key(changed) != key and content_key(image.reshape(3, 2, 3)) != key
