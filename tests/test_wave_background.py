"""The waves background (model.background: waves): what it draws is a grating of the frequency z sets."""

import torch

from drc.model.drc import DRC
from drc.model.networks import WaveGenerator
from tests.helpers import tiny_model_config


def one_wave(gen: WaveGenerator, index: int, offset: tuple[float, float] = (0.0, 0.0)) -> None:
    """Silence every wave but bank wave ``index`` (amplitude 1, frequency offset ``offset``), whatever z is."""
    with torch.no_grad():
        gen.to_waves.weight.zero_()
        bias = torch.zeros(gen.waves, 4)
        bias[index] = torch.tensor([*offset, 0.3, 1.0])
        gen.to_waves.bias.copy_(bias.flatten())


def test_bank_spans_every_orientation_from_two_cycles_to_nyquist():
    gen = WaveGenerator(3, 8, 32, orientations=4, hidden=8)
    cycles = gen.bank.norm(dim=1)
    assert gen.waves == 4 * WaveGenerator.PERIODS
    assert torch.isclose(cycles.min(), torch.tensor(2.0)) and torch.isclose(cycles.max(), torch.tensor(16.0))
    angles = torch.atan2(gen.bank[:, 1], gen.bank[:, 0])
    assert sorted({round(float(a), 4) for a in angles}) == [round(k * torch.pi / 4, 4) for k in range(4)]


def test_a_wave_along_x_draws_columns_that_repeat_every_period_and_rows_that_do_not_change():
    torch.manual_seed(0)
    gen = WaveGenerator(3, 8, 32, orientations=4, hidden=8)
    one_wave(gen, index=0, offset=(2.0, 0.0))  # bank wave 0: 2 cycles along x; + 2 = 4 cycles: 8 px
    rgb, mask, _ = gen(torch.randn(2, 3))
    for image in (rgb, mask):
        assert torch.allclose(image, image[:, :, :1].expand_as(image), atol=1e-5)  # every row the same
        assert torch.allclose(image[..., :-8], image[..., 8:], atol=1e-5)  # period 8 px
        assert not torch.allclose(image[..., :-4], image[..., 4:], atol=1e-3)  # and not half of it


def test_a_wave_along_y_draws_rows_that_repeat():
    torch.manual_seed(0)
    gen = WaveGenerator(3, 8, 32, orientations=4, hidden=8)
    along_y = int(torch.nonzero((gen.bank[:, 0].abs() < 1e-6) & (gen.bank.norm(dim=1) < 2.01))[0])
    one_wave(gen, index=along_y)  # 2 cycles along y: 16 px
    rgb, _, _ = gen(torch.randn(1, 3))
    assert torch.allclose(rgb, rgb[..., :1].expand_as(rgb), atol=1e-5)  # every column the same
    assert torch.allclose(rgb[:, :, :-16], rgb[:, :, 16:], atol=1e-5)


def test_the_model_builds_the_background_it_is_configured_with():
    conv = DRC(tiny_model_config())
    waves = DRC(tiny_model_config(background="waves", bg_waves=3))
    assert not isinstance(conv.bg_gen, WaveGenerator) and isinstance(waves.bg_gen, WaveGenerator)
    assert waves.bg_gen.waves == 3 * WaveGenerator.PERIODS
    cfg = waves.config
    r = waves.render(torch.randn(2, cfg.z_dim))
    assert r.bg_raw.shape == r.fg.shape == (2, 3, cfg.resolution, cfg.resolution)
    assert set(waves.background_parameters()) >= set(waves.bg_gen.parameters())
