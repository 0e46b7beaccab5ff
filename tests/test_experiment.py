from dataclasses import replace

import numpy as np
import pytest
import torch

from drc.checkpoint import read_checkpoint
from drc.data.prepared import write_prepared
from drc.errors import DRCError
from drc.experiment import Settings, evaluate_prepared, infer_config_of, train_model
from drc.train_config import InferConfig
from tests.helpers import squares_on_stripes, tiny_model_config, tiny_train_config


@pytest.fixture()
def dataset(tmp_path):
    images, masks = squares_on_stripes(n=10, res=32)
    return write_prepared(
        tmp_path / "squares",
        name="squares",
        images=images,
        masks=masks,
        ids=[f"i{k}" for k in range(10)],
        splits={"eval": range(6), "train": range(8), "test": range(8, 10)},
        source={"test": True},
    )


def settings(**train) -> Settings:
    return Settings(
        model=tiny_model_config(),
        train=tiny_train_config(**{"monitor_every": 2, "image_every": 2, "log_every": 1, **train}),
        infer=InferConfig(steps=2, noise_steps=5, init="persistent", batch_size=4),
    )


def test_train_logs_curves_and_resumes_when_iterations_grow(dataset, tmp_path, capsys):
    ckpt, live = tmp_path / "m.pt", tmp_path / "live"
    train_model(dataset, "all", settings(iterations=4), ckpt, live_dir=live, progress=False)
    assert (live / "plots/metrics/monitor/iou.tsv").is_file() and (live / "plots/images/samples.png").is_file()
    trainer = train_model(dataset, "all", settings(iterations=6), ckpt, live_dir=live, progress=False)
    assert trainer.iteration == 6  # continued from 4, not restarted
    assert len((live / "plots/metrics/loss/recon.tsv").read_text().splitlines()) == 1 + 6
    trainer = train_model(dataset, "all", settings(iterations=7, perf="eager"), ckpt, progress=False)
    assert trainer.iteration == 7  # another execution path of the same math continues the run
    trainer = train_model(dataset, "all", settings(iterations=3, lr_generator=5e-4), ckpt, progress=False)
    assert trainer.iteration == 3 and "training afresh" in capsys.readouterr().out


def test_finished_run_takes_new_inference_settings_without_training(dataset, tmp_path):
    ckpt = tmp_path / "m.pt"
    first = settings(iterations=3)
    train_model(dataset, "all", first, ckpt, progress=False)
    before = read_checkpoint(ckpt)
    trainer = train_model(dataset, "all", replace(first, infer=replace(first.infer, steps=9)), ckpt, progress=False)
    after = read_checkpoint(ckpt)
    assert trainer.iteration == 3 and after["iteration"] == 3
    assert before["infer_config"]["steps"] == 2 and after["infer_config"]["steps"] == 9
    for key in before["model"]:  # weights untouched: nothing was trained
        assert torch.equal(before["model"][key], after["model"][key])


def test_evaluate_from_persistent_chains_and_from_noise(dataset, tmp_path):
    ckpt = tmp_path / "m.pt"
    train_model(dataset, "train", settings(iterations=2), ckpt, progress=False)
    summary, iou, out = evaluate_prepared(ckpt, dataset, "train", progress=False)
    assert summary["n_images"] == 8 and summary["init"] == "persistent" and summary["steps"] == 2
    assert iou.shape == (8,) and out.mask.shape == (8, 32, 32)
    with pytest.raises(DRCError, match="not trained on"):
        evaluate_prepared(ckpt, dataset, "test", progress=False)
    noise = infer_config_of(read_checkpoint(ckpt), init="noise")
    assert noise.steps == 5  # unseen images: noise_steps
    summary, _, out = evaluate_prepared(ckpt, dataset, "test", noise, progress=False)
    assert summary["n_images"] == 2 and summary["steps"] == 5
    torch.randn(10)  # a scoring run repeats whatever the process did before (infer.seed)
    _, _, again = evaluate_prepared(ckpt, dataset, "test", noise, progress=False)
    assert torch.equal(out.z, again.z)
    assert infer_config_of(read_checkpoint(ckpt), init="noise", steps=7).steps == 7
    assert np.isfinite(summary["iou"])
