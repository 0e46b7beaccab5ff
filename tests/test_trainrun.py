"""Training runs on a prepared dataset: curves, resume rules, the image count, and stopping on a signal."""

import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest
import torch

from drc import training
from drc.checkpoint import read_checkpoint, snapshots
from drc.errors import DRCError
from drc.trainrun import train_model
from tests.helpers import tiny_model_config, tiny_train_config, write_squares

MODEL = tiny_model_config()


@pytest.fixture()
def dataset(tmp_path):
    return write_squares(tmp_path)


def train_config(**fields):
    return tiny_train_config(**{"monitor_every": 2, "image_every": 2, "log_every": 1, **fields})


def test_train_logs_curves_and_resumes_when_iterations_grow(dataset, tmp_path, capsys):
    ckpt, live = tmp_path / "m.pt", tmp_path / "live"
    train_model(dataset, "all", MODEL, train_config(iterations=4), ckpt, live_dir=live, progress=False)
    assert (live / "plots/metrics/monitor/iou.tsv").is_file() and (live / "plots/images/samples.png").is_file()
    trainer = train_model(dataset, "all", MODEL, train_config(iterations=6), ckpt, live_dir=live, progress=False)
    assert trainer.iteration == 6  # continued from 4, not restarted
    assert len((live / "plots/metrics/loss/recon.tsv").read_text().splitlines()) == 1 + 6
    trainer = train_model(dataset, "all", MODEL, train_config(iterations=7, perf="eager"), ckpt, progress=False)
    assert trainer.iteration == 7  # another execution path of the same math continues the run
    other = train_config(iterations=3, lr_generator=5e-4)
    trainer = train_model(dataset, "all", MODEL, other, ckpt, progress=False, other_run="retrain")  # the stage's
    out = capsys.readouterr().out
    assert (
        trainer.iteration == 3
        and "another run's checkpoint (train.lr_generator 0.0001 -> 0.0005); training afresh" in out
    )


def test_a_run_that_resumes_an_earlier_checkpoint_logs_each_iteration_once(dataset, tmp_path):
    # A run killed after its last checkpoint has logged iterations past it; the run that resumes the
    # checkpoint logs them again, in place of the first run's rows, not beside them.
    ckpt, live = tmp_path / "m.pt", tmp_path / "live"
    train_model(dataset, "all", MODEL, train_config(iterations=2), ckpt, live_dir=live, progress=False)
    at_two = ckpt.read_bytes()
    train_model(dataset, "all", MODEL, train_config(iterations=4), ckpt, live_dir=live, progress=False)
    ckpt.write_bytes(at_two)  # as if killed at iteration 4 with the checkpoint of iteration 2 on disk
    train_model(dataset, "all", MODEL, train_config(iterations=4), ckpt, live_dir=live, progress=False)
    for curve in ("loss/recon.tsv", "monitor/iou.tsv"):
        steps = [line.split("\t")[0] for line in (live / "plots/metrics" / curve).read_text().splitlines()]
        assert steps == (["step", "1", "2", "3", "4"] if curve.startswith("loss") else ["step", "2", "4"]), curve


def test_another_runs_checkpoint_is_refused_in_one_line_unless_fresh(dataset, tmp_path, capsys):
    ckpt = tmp_path / "m.pt"
    train_model(dataset, "all", MODEL, train_config(iterations=2), ckpt, profile="tiny", progress=False)
    before = ckpt.read_bytes()
    other = train_config(iterations=2, batch_size=2, lr_lebm=1e-3)
    with pytest.raises(DRCError) as refused:
        train_model(dataset, "all", MODEL, other, ckpt, profile="photos", progress=False)
    assert str(refused.value) == (
        f"{ckpt} is another run's checkpoint (profile tiny -> photos, train.batch_size 4 -> 2, train.lr_lebm "
        "2e-05 -> 0.001); the same settings resume it: pass --fresh to train afresh over it, or choose another --out"
    )
    assert ckpt.read_bytes() == before  # byte for byte
    fewer = write_squares(tmp_path / "fewer", n=6, splits={})
    with pytest.raises(DRCError, match=r"\(10 -> 6 training images\)"):
        train_model(fewer, "all", MODEL, train_config(iterations=2), ckpt, profile="tiny", progress=False)
    assert ckpt.read_bytes() == before
    trainer = train_model(dataset, "all", MODEL, other, ckpt, profile="photos", progress=False, resume=False)
    assert trainer.iteration == 2 and f"--fresh: training afresh over {ckpt}" in capsys.readouterr().out
    assert read_checkpoint(ckpt)["train_config"]["batch_size"] == 2


def test_a_file_at_the_checkpoint_path_is_written_over_only_with_force(dataset, tmp_path):
    for name, content in (("notes.pt", b"my notes"), ("cut.pt", None)):
        path = tmp_path / name
        if content is None:  # a checkpoint cut short
            train_model(dataset, "all", MODEL, train_config(iterations=1), path, progress=False)
            content = path.read_bytes()[:100]
        path.write_bytes(content)
        with pytest.raises(DRCError, match=f"--out {path} exists and is not a readable DRC checkpoint.*--force"):
            train_model(dataset, "all", MODEL, train_config(iterations=1), path, progress=False)
        assert path.read_bytes() == content
        train_model(dataset, "all", MODEL, train_config(iterations=1), path, progress=False, force=True)
        assert read_checkpoint(path)["iteration"] == 1
    (tmp_path / "models").mkdir()
    (tmp_path / "models/kept.pt").write_bytes(b"a checkpoint")
    with pytest.raises(DRCError, match="is a folder; name a checkpoint file"):
        train_model(dataset, "all", MODEL, train_config(iterations=1), tmp_path / "models", progress=False, force=True)
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["kept.pt"]


def test_snapshots_are_kept_along_the_way_and_a_fresh_start_clears_them(dataset, tmp_path):
    ckpt, kept = tmp_path / "m.pt", tmp_path / "snapshots"
    train_model(dataset, "all", MODEL, train_config(iterations=4, snapshot_every=2), ckpt, snapshot_dir=kept)
    assert [i for i, _ in snapshots(kept)] == [0, 2, 4]  # 0: the untrained model, the curve's first point
    assert read_checkpoint(snapshots(kept)[0][1])["iteration"] == 0
    last, final = read_checkpoint(snapshots(kept)[-1][1]), read_checkpoint(ckpt)
    assert last["iteration"] == 4 and all(torch.equal(last["model"][k], v) for k, v in final["model"].items())
    train_model(dataset, "all", MODEL, train_config(iterations=6, snapshot_every=2), ckpt, snapshot_dir=kept)
    assert [i for i, _ in snapshots(kept)] == [0, 2, 4, 6]  # the resumed run keeps the earlier ones
    other = train_config(iterations=2, snapshot_every=2, lr_generator=5e-4)
    train_model(dataset, "all", MODEL, other, ckpt, snapshot_dir=kept, progress=False, other_run="retrain")
    assert [i for i, _ in snapshots(kept)] == [0, 2]  # another run's snapshots are gone
    none_due = tmp_path / "none"
    train_model(
        dataset, "all", MODEL, train_config(iterations=1, snapshot_every=0), tmp_path / "n.pt", snapshot_dir=none_due
    )
    assert none_due.is_dir() and snapshots(none_due) == []  # the folder exists: it is a pipeline output
    assert read_checkpoint(snapshots(kept)[0][1])["train_config"]["lr_generator"] == 5e-4


def test_keeping_snapshots_leaves_the_run_unchanged(dataset, tmp_path):
    plain = train_model(dataset, "all", MODEL, train_config(iterations=3), tmp_path / "a.pt", progress=False)
    kept = train_model(
        dataset, "all", MODEL, train_config(iterations=3, snapshot_every=1), tmp_path / "b.pt",
        snapshot_dir=tmp_path / "s", progress=False,
    )  # fmt: skip
    assert len(snapshots(tmp_path / "s")) == 4  # iterations 0 (untrained) to 3
    for key, value in plain.model.state_dict().items():
        assert torch.equal(value, kept.model.state_dict()[key]), key


def test_a_finished_run_is_left_untouched(dataset, tmp_path):
    ckpt = tmp_path / "m.pt"
    train_model(dataset, "all", MODEL, train_config(iterations=3), ckpt, profile="tiny", progress=False)
    before = ckpt.read_bytes()
    trainer = train_model(dataset, "all", MODEL, train_config(iterations=3), ckpt, profile="tiny", progress=False)
    assert trainer.iteration == 3 and ckpt.read_bytes() == before
    assert read_checkpoint(ckpt)["profile"] == "tiny"


def test_the_number_of_training_images_is_printed_with_the_cap(dataset, tmp_path, capsys):
    trainer = train_model(dataset, "all", MODEL, train_config(iterations=1, max_images=4), tmp_path / "m.pt")
    assert trainer.n_images == 4
    out = capsys.readouterr().out
    assert "training on 4 images of squares, split all (the first 4 of 10: train.max_images)" in out
    assert "warning: 4 images are few for DRC" in out and "expect poor masks under about 100" in out
    train_model(dataset, "train", MODEL, train_config(iterations=1), tmp_path / "n.pt", progress=False)
    assert "training on 8 images of squares, split train\n" in capsys.readouterr().out


SIGNALLED = textwrap.dedent(
    """
    import sys
    from drc.errors import exit_cleanly
    from drc.trainrun import train_model
    from tests.helpers import tiny_model_config, tiny_train_config

    def log_every_iteration(iteration, logs, trainer):
        print(f"it {iteration}", flush=True)

    @exit_cleanly
    def main():
        from drc import trainrun
        config = tiny_train_config(iterations=400, checkpoint_every=1000, log_every=1)
        trainer, *_ = trainrun.build_trainer(sys.argv[1], "all", tiny_model_config(), config, sys.argv[2], True)
        trainer.run(checkpoint_path=sys.argv[2], log=log_every_iteration, progress=False)

    main()
    """
)

# Trains to argv[3] iterations, resuming from the checkpoint at argv[2] where there is one.
TRAIN_TO = textwrap.dedent(
    """
    import sys
    from drc.trainrun import train_model
    from tests.helpers import tiny_model_config, tiny_train_config

    config = tiny_train_config(iterations=int(sys.argv[3]), checkpoint_every=1000)
    train_model(sys.argv[1], "all", tiny_model_config(), config, sys.argv[2], monitor_split=None, progress=False)
    """
)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_checkpoints_the_last_iteration_and_the_run_resumes_exactly(dataset, tmp_path, signum):
    # Every run is a child process with the same environment: kernels, threads and library state then
    # match, whatever other tests left in this process.
    ckpt = tmp_path / "m.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen(
        [sys.executable, "-c", SIGNALLED, str(dataset), str(ckpt)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    for line in proc.stdout:  # wait until it is a few iterations in
        if line.strip() == "it 3":
            break
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    stopped = read_checkpoint(ckpt)["iteration"]
    assert 3 <= stopped < 400  # the iteration it stopped at, not a periodic checkpoint (every 1000)
    assert f"stopped at iteration {stopped} of 400; checkpoint written to {ckpt}" in err
    assert "Traceback" not in err
    said = "Ctrl-C: stopping after this step; Ctrl-C again to abort without a checkpoint"
    assert (said if signum == signal.SIGINT else "SIGTERM: stopping after this step") in err

    fresh_ckpt = tmp_path / "fresh.pt"
    for path in (ckpt, fresh_ckpt):
        run = [sys.executable, "-c", TRAIN_TO, str(dataset), str(path), str(stopped + 2)]
        out = subprocess.run(run, env=env, capture_output=True, text=True, check=True, timeout=120).stdout
        assert "training afresh" not in out  # the signalled run's checkpoint was resumed, not dropped
    resumed, fresh = read_checkpoint(ckpt), read_checkpoint(fresh_ckpt)
    assert resumed["iteration"] == fresh["iteration"] == stopped + 2
    for (name, a), b in zip(fresh["model"].items(), resumed["model"].values(), strict=True):
        assert torch.equal(a, b), name
    assert torch.equal(resumed["z_post"], fresh["z_post"])


def test_iterations_zero_writes_the_initial_checkpoint(dataset, tmp_path):
    trainer = train_model(dataset, "all", MODEL, replace(train_config(), iterations=0), tmp_path / "m.pt")
    assert trainer.iteration == 0 and read_checkpoint(tmp_path / "m.pt")["iteration"] == 0


def test_after_a_few_iterations_it_says_how_long_the_rest_will_take(dataset, tmp_path, capsys, monkeypatch):
    clock = iter([100.0, 160.0])  # at the start, and after the first 3 iterations: 60 s later
    monkeypatch.setattr(training, "perf_counter", lambda: next(clock))
    train_model(dataset, "all", MODEL, train_config(iterations=9), tmp_path / "m.pt", progress=False)
    lines = [line for line in capsys.readouterr().out.splitlines() if "per iteration" in line]
    assert lines == ["20.0 s per iteration: about 2 min for the 6 to go"]


def test_durations_read_in_words():
    assert [training.duration(s) for s in (40, 119, 720, 11_100)] == ["40 s", "2 min", "12 min", "3 h 05 min"]
