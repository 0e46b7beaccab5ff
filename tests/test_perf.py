"""Perf modes (drc/perf.py) change how the math runs, never the math."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from bench import conv_floor, memory, speed
from drc import perf
from drc.errors import DRCError
from drc.langevin import frozen, langevin
from drc.model.drc import DRC
from drc.model.networks import UpBlock
from drc.training import Trainer
from tests.helpers import images_to_tensor, squares_on_stripes, tiny_model_config, tiny_train_config, torch_threads


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):
        yield


def model_and_batch(**overrides):
    torch.manual_seed(0)
    cfg = tiny_model_config(**overrides)
    model = DRC(cfg)
    x = images_to_tensor(squares_on_stripes(n=4)[0])
    return model, x, torch.randn(4, cfg.z_dim)


def posterior_grad(model: DRC, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    with frozen(model):
        v = z.clone().requires_grad_(True)
        return torch.autograd.grad(model.posterior_energy(v, x, 0.25, 0.01), v)[0]


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


def test_modes_switch_the_up_blocks_and_reject_unknown_names(monkeypatch):
    model, _, _ = model_and_batch()
    blocks = [m for m in model.modules() if isinstance(m, UpBlock)]
    assert perf.configure(model, "optimised").fast_kernels and all(b.fast for b in blocks)
    assert not perf.configure(model, "eager").fast_kernels and not any(b.fast for b in blocks)
    with pytest.raises(DRCError, match="perf must be one of"):
        perf.configure(model, "fast")
    monkeypatch.setenv(perf.ENV, "eager")
    assert perf.mode_of(tiny_train_config()) == "eager"
    assert perf.mode_of(tiny_train_config(perf="optimised")) == "optimised"  # the config's field wins
    monkeypatch.delenv(perf.ENV)
    assert perf.mode_of(tiny_train_config()) == "optimised"
    with pytest.raises(DRCError, match="train.perf must be eager"):
        tiny_train_config(perf="fast")


def test_optimised_rendering_equals_eager_to_float_rounding():
    model, _, z = model_and_batch()
    with torch.no_grad():
        for block in (m for m in model.modules() if isinstance(m, UpBlock)):  # off the norms' start, 1 and 0
            block[2].weight.uniform_(0.5, 1.5)
            block[2].bias.uniform_(-0.5, 0.5)
        perf.configure(model, "eager")
        ref = model.render(z * 2)
        perf.configure(model, "optimised")
        fast = model.render(z * 2)
    for name in ("fg", "bg", "pi_f", "fg_mask_logit", "bg_raw", "bg_mask_logit_raw", "grid"):
        a, b = getattr(fast, name), getattr(ref, name)
        assert torch.allclose(a, b, atol=2e-5, rtol=1e-5), (name, float((a - b).abs().max()))


def test_optimised_langevin_gradient_equals_eager():
    # Without pixel re-assignment: grid_sample's gradient jumps where a sampling point crosses a
    # pixel centre, so with it a 1e-7 change can move single gradient elements by O(1) (float64
    # disagrees with float32 eager just as much); the smooth part is compared tightly here.
    model, x, z = model_and_batch(pixel_reassign=False)
    perf.configure(model, "eager")
    ref = posterior_grad(model, z, x)
    perf.configure(model, "optimised")
    assert rel(posterior_grad(model, z, x), ref) < 1e-5


def test_optimised_training_gradients_equal_eager():
    images = images_to_tensor(squares_on_stripes(n=4)[0])
    grads = {}
    for mode in ("eager", "optimised"):
        trainer = Trainer(tiny_model_config(pixel_reassign=False), tiny_train_config(batch_size=4), images)
        perf.configure(trainer.model, mode)
        z = torch.randn(4, trainer.model.config.z_dim, generator=torch.Generator().manual_seed(1))
        trainer.generator_loss(trainer.model.render(z), images, trainer.model.lebm(z)[1:])["total"].backward()
        grads[mode] = torch.cat([p.grad.flatten() for p in trainer.model.parameters() if p.grad is not None])
    assert rel(grads["optimised"], grads["eager"]) < 1e-5


@pytest.mark.parametrize("mode", ["eager", "optimised"])
def test_langevin_differentiates_only_z(mode):
    """Conv backward FLOPs equal forward FLOPs: only input gradients, no weight gradients."""
    model, x, z = model_and_batch()
    perf.configure(model, mode)
    for freeze in (True, False):  # autograd.grad(..., z) prunes weight gradients even unfrozen
        with FlopCounterMode(display=False) as counter:
            v = z.clone().requires_grad_(True) * 1.0
            if freeze:
                with frozen(model):
                    torch.autograd.grad(model.posterior_energy(v, x, 0.25, 0.01), v)
            else:
                torch.autograd.grad(model.posterior_energy(v, x, 0.25, 0.01), v)
        counts = {str(k): n for k, n in counter.get_flop_counts()["Global"].items()}
        assert counts["aten.convolution_backward"] == counts["aten.convolution"], (freeze, counts)
        assert all(p.grad is None for p in model.parameters())


def test_render_used_by_langevin_skips_unused_outputs():
    """The sampling objective never runs the classifiers (only the generator update does)."""
    model, x, z = model_and_batch()
    calls = []
    for clf in (model.fg_classifier, model.bg_classifier):
        clf.register_forward_hook(lambda *_: calls.append(1))
    with frozen(model):
        langevin(z, lambda v: model.posterior_energy(v, x, 0.25, 0.01), 2, 0.1)
    assert not calls


@pytest.mark.parametrize("mode", ["eager", "optimised"])
def test_resume_is_bit_exact_in_each_mode(mode, monkeypatch, tmp_path):
    monkeypatch.setenv(perf.ENV, mode)
    images = images_to_tensor(squares_on_stripes(n=8)[0])

    def make() -> Trainer:
        return Trainer(tiny_model_config(), tiny_train_config(iterations=4, checkpoint_every=2), images)

    full = make()
    full.run(progress=False)
    first = make()
    first.run(until=2, checkpoint_path=tmp_path / "c.pt", progress=False)
    assert torch.load(tmp_path / "c.pt", weights_only=False)["perf"] == mode
    torch.manual_seed(999)
    resumed = make()
    resumed.load(tmp_path / "c.pt")
    resumed.run(progress=False)
    assert torch.equal(resumed.z_post, full.z_post)
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_saved_bytes_counts_distinct_saved_storages():
    w = torch.randn(8, 8, requires_grad=True)
    x = torch.randn(4, 8)
    total, largest = memory.saved_bytes(lambda: (x @ w).tanh().sum())
    # mm saves x (its w-gradient needs it); tanh saves its output (4 x 8 floats)
    assert total == x.nbytes + 4 * 8 * 4 and largest == x.nbytes


def test_bench_table_prints_speedups():
    row = {
        "iteration_s": 2.0, "posterior_step_s": 0.1, "prior_step_s": 0.001, "infer_step_s": 0.5,
        "infer_steps_per_s_per_image": 200.0, "gflop_per_step": 2.5, "peak_fraction": 0.4,
        "resolution": 32, "batch": 16, "k1": 10, "k0": 10, "infer_batch": 100, "iteration_how": "measured",
    }  # fmt: skip
    eager = {**row, "iteration_s": 3.0, "infer_steps_per_s_per_image": 100}
    results = {
        "machine": {"cpu": "x", "cores": 2, "torch": "t", "threads": 1, "load_average": (1, 1, 1)},
        "device": "cpu",
        "peak_gflops": 50.0,
        "profiles": {"cpu": {"optimised": row, "eager": eager}},
    }
    results["machine"]["load_average_after"] = (1, 1, 1)
    text = speed.table(results)
    assert "speedup: 1.50x  (cpu, s/iteration)" in text
    assert "speedup: 2.00x  (cpu, test-time steps/s/image)" in text


def test_conv_floor_records_and_replays_every_convolution_of_a_step():
    model, x, z = model_and_batch()
    perf.configure(model, "optimised")
    recorder = conv_floor.ConvRecorder()
    with recorder, frozen(model):
        v = z.clone().requires_grad_(True)
        torch.autograd.grad(model.posterior_energy(v, x, 0.25, 0.01), v)
    # three generators: 3 up-blocks and their output heads (rgb + mask, rgb + mask, grid)
    assert len(recorder.calls) == 3 * 3 + 5
    shapes = {(call[0][1:], call[2]) for call in recorder.calls}
    cfg = model.config
    last = (cfg.up_channels[-1], cfg.resolution, cfg.resolution)
    assert {(last, (3, cfg.up_channels[-1], 3, 3)), (last, (1, cfg.up_channels[-1], 3, 3))} <= shapes
    channels_last = [c[1] is torch.channels_last for c in recorder.calls]
    assert sum(channels_last) == 9  # the optimised up-blocks' convs; the heads read NCHW
    with FlopCounterMode(display=False) as counter:
        conv_floor.replay_convs(recorder.calls, torch.device("cpu"))()
    counts = {str(k): n for k, n in counter.get_flop_counts()["Global"].items()}
    assert counts["aten.convolution_backward"] == counts["aten.convolution"] > 0  # input gradients only


def test_conv_floor_table_states_the_ceiling():
    r = {
        "optimised": {"step_s": 0.06, "convs_s": 0.04, "n_convs": 14},
        "eager": {"step_s": 0.09, "convs_s": 0.05, "n_convs": 14},
    }
    text = conv_floor.conv_floor_table("cpu", r)
    assert "+ everything else   20.0 ms" in text
    assert "would be 2.25x faster than eager (now 1.50x)" in text
