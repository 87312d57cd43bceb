"""Training in several processes (torchrun; gloo on the CPU): every process's slice of the
batches, `cafw train` under torchrun, bit-identical resumption after SIGTERM, SIGKILL or a stop
mid-epoch, the sharded optimizer, the replica checksum, and steps equal to one process's."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
import torch
import torch.multiprocessing as mp
import yaml
from torch import nn

import cafw.runtime
import cafw.train.loop
from cafw.data import load_dataset
from cafw.data.imagenet import FolderLoader
from cafw.data.loader import Augment, TensorLoader
from cafw.runtime import World, _shard
from cafw.spec import ConfigError, load_run
from cafw.train import Interrupted, TrainingDiverged, train

SMALL = {"shape": [3, 8, 8], "train_size": 200, "test_size": 64}
SFW = {"name": "sfw", "lr": 0.5,
       "constraint": {"family": "spectral_k_support", "k": 0.5, "init_samples": 5}}


def config(**overrides):
    base = {"dataset": "synthetic", "dataset_options": SMALL, "model": "cnn_small", "epochs": 3,
            "batch_size": 32, "seed": 3, "device": "cpu", "optimizer": SFW}
    return load_run({**base, **overrides})


def _weights(run: Path) -> dict:
    return torch.load(run / "model.pt", weights_only=True)


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _history(run: Path) -> pd.DataFrame:
    return pd.read_csv(run / "history.csv").drop(columns=["train_seconds", "eval_seconds"])


# -- processes as torchrun starts them ---------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _entry(rank: int, size: int, port: int, fn, args) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(size),
                      LOCAL_WORLD_SIZE=str(size), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    # one process group for all of fn's runs (set_up then leaves it alone): groups created
    # and destroyed run after run could meet each other's stores on the same port
    torch.distributed.init_process_group("gloo")
    try:
        fn(*args)
    finally:
        torch.distributed.destroy_process_group()


def in_processes(fn, *args, processes: int = 2) -> None:
    """``fn(*args)`` in every one of ``processes`` processes, with torchrun's environment."""
    mp.spawn(_entry, args=(processes, _free_port(), fn, args), nprocs=processes)


# -- the data each process sees ----------------------------------------------------------------

def test_the_processes_slices_make_up_the_single_process_batches():
    images = torch.randint(0, 256, (150, 3, 8, 8), dtype=torch.uint8)
    labels = torch.arange(150)

    def loader(rank, processes):
        loader = TensorLoader(images, labels, mean=[0.5] * 3, std=[0.2] * 3, max_value=255,
                              batch_size=64, seed=7, shuffle=True,
                              augment=Augment(crop_padding=2, flip=True, rotate_degrees=15))
        loader.rank, loader.processes = rank, processes
        return loader

    one = list(loader(0, 1).epoch(2, start=1))  # batches 1 and 2: 64 and 22 samples
    parts = [list(loader(r, 3).epoch(2, start=1)) for r in range(3)]
    assert [len(y) for y in (parts[r][1][1] for r in range(3))] == [7, 7, 8]
    for b, (x, y) in enumerate(one):
        assert torch.equal(torch.cat([parts[r][b][0] for r in range(3)]), x)
        assert torch.equal(torch.cat([parts[r][b][1] for r in range(3)]), y)


def test_imagenet_loader_gives_each_process_its_slice_of_the_same_order():
    class Indices(torch.utils.data.Dataset):
        def __len__(self):
            return 70

        def __getitem__(self, i):
            return torch.zeros(1), i

    def batches(rank, processes):
        loader = FolderLoader(Indices(), batch_size=32, seed=1, shuffle=True,
                              device=torch.device("cpu"), workers=0)
        loader.rank, loader.processes = rank, processes
        return [y for _, y in loader.epoch(4)]

    one = batches(0, 1)
    parts = [batches(r, 2) for r in range(2)]
    assert [len(b) for b in parts[1]] == [16, 16, 3]  # the last batch of 6 splits 3/3
    for b, y in enumerate(one):
        assert torch.equal(torch.cat([parts[0][b], parts[1][b]]), y)


@pytest.mark.parametrize("batch_size, train_size, processes, message", [
    (30, 200, 4, "'batch_size': 30 samples do not split evenly over 4 processes"),
    (64, 193, 2, "the last batch of an epoch would have 1 samples, fewer than the 2 processes"),
])
def test_batches_that_cannot_be_split_are_rejected(batch_size, train_size, processes, message):
    data = load_dataset("synthetic", batch_size=batch_size,
                        options={**SMALL, "train_size": train_size})
    with pytest.raises(ConfigError, match=message):
        _shard(data, World(0, processes))


# -- training ----------------------------------------------------------------------------------

def _resume_runs(root: Path) -> None:
    """Uninterrupted runs with and without the sharded optimizer, and a sharded one stopped
    mid-epoch and resumed."""
    train(config(), root / "plain")
    train(config(shard_optimizer=True), root / "sharded")
    cut = config(shard_optimizer=True, schedule={"name": "cosine", "warmup_epochs": 1})
    train(cut.model_copy(update={"shard_optimizer": False}), root / "cosine")
    with pytest.raises(Interrupted):
        train(cut, root / "cut", stop_at=(1, 3))
    train(cut, root / "cut", resume=True)


def test_sharded_optimizer_equals_plain_ddp_and_resumes_bit_identically(tmp_path):
    in_processes(_resume_runs, tmp_path)
    assert _equal(_weights(tmp_path / "plain"), _weights(tmp_path / "sharded"))
    pd.testing.assert_frame_equal(_history(tmp_path / "plain"), _history(tmp_path / "sharded"))
    assert _equal(_weights(tmp_path / "cosine"), _weights(tmp_path / "cut"))
    pd.testing.assert_frame_equal(_history(tmp_path / "cosine"), _history(tmp_path / "cut"))
    history = _history(tmp_path / "plain")
    assert (history["step_size"] > 0).all() and (history["images"] == 200).all()
    metrics = yaml.safe_load((tmp_path / "plain" / "metrics.json").read_text())
    assert metrics["processes"] == 2
    assert not (tmp_path / "cut" / "checkpoint.pt").exists()


def _train_diverging(out: Path) -> None:
    """Process 1 nudges a weight after its first step, as a faulty kernel might."""
    accumulate, nudged = cafw.train.loop._accumulate, []

    def nudging(sums, loss, logits, y, optimizer):
        accumulate(sums, loss, logits, y, optimizer)
        if int(os.environ["RANK"]) == 1 and not nudged:
            with torch.no_grad():
                optimizer.param_groups[0]["params"][0].view(-1)[0] += 1e-3
            nudged.append(True)

    cafw.train.loop._accumulate = nudging
    with pytest.raises(TrainingDiverged, match="2 processes' copies of the model differ after "
                                               "epoch 1"):
        train(config(), out)


def test_replicas_that_differ_stop_the_run(tmp_path):
    in_processes(_train_diverging, tmp_path / "run")
    assert not (tmp_path / "run" / "metrics.json").exists()


def _linear(name, num_classes, input_shape, width=1.0):
    """No BatchNorm: then a step depends on the batch alone, not on how it is split."""
    return nn.Sequential(nn.Flatten(), nn.Linear(input_shape[0] * 8 * 8, num_classes))


UNEVEN = {**SMALL, "train_size": 195}  # the last batch of 3 splits 1/2 over two processes
STEPS = [{"name": "sgd", "lr": 0.1, "momentum": 0.9},
         {"name": "sfw", "lr": 0.5, "constraint": {"family": "l2", "init_samples": 5}}]


def _train_linear(out: Path) -> None:
    cafw.runtime.build_model = _linear
    for i, optimizer in enumerate(STEPS):
        train(config(dataset_options=UNEVEN, optimizer=optimizer, epochs=2), out / str(i))


def test_two_processes_take_the_steps_of_one(tmp_path, monkeypatch):
    in_processes(_train_linear, tmp_path / "two")
    monkeypatch.setattr(cafw.runtime, "build_model", _linear)
    for i, optimizer in enumerate(STEPS):
        train(config(dataset_options=UNEVEN, optimizer=optimizer, epochs=2), tmp_path / str(i))
        one, two = _weights(tmp_path / str(i)), _weights(tmp_path / "two" / str(i))
        for k in one:  # the same steps, up to the order of floating-point sums
            torch.testing.assert_close(two[k], one[k], rtol=1e-5, atol=1e-6)
        pd.testing.assert_frame_equal(_history(tmp_path / "two" / str(i)),
                                      _history(tmp_path / str(i)), rtol=1e-5)


# -- the command line under torchrun -----------------------------------------------------------

DIGITS = {"dataset": "digits", "model": "cnn_small", "epochs": 5, "batch_size": 32, "seed": 0,
          "device": "cpu", "optimizer": {"name": "sfw", "lr": 1.0, "constraint": {
              "family": "group_k_support", "k": 0.3, "init_samples": 5}}}


def _torchrun(config_path: Path, out: Path, *extra: str, entry=("-m", "cafw"),
              **popen) -> subprocess.Popen:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", "2", *entry, "train", "--config", str(config_path),
               "--out", str(out), *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, **popen)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """The digits config and an uninterrupted two-process run of it (`torchrun -m cafw`)."""
    root = tmp_path_factory.mktemp("digits")
    (root / "run.yaml").write_text(yaml.safe_dump(DIGITS))
    proc = _torchrun(root / "run.yaml", root / "whole")
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output
    return root, output


@pytest.mark.slow
def test_cafw_train_runs_under_torchrun(digits_run, tmp_path):
    root, output = digits_run
    run = root / "whole"
    assert output.count("test accuracy") == 1, output  # one process reports
    assert sorted(p.name for p in run.iterdir()) == ["history.csv", "metrics.json", "model.pt",
                                                     "run.yaml"]
    assert yaml.safe_load((run / "metrics.json").read_text())["processes"] == 2
    assert list(pd.read_csv(run / "history.csv")["epoch"]) == list(range(1, 6))
    # torchrun ... $(which cafw) train: the console script, not the module
    (tmp_path / "run.yaml").write_text(yaml.safe_dump({**DIGITS, "epochs": 1}))
    script = str(Path(sys.executable).parent / "cafw")
    proc = _torchrun(tmp_path / "run.yaml", tmp_path / "run", entry=(script,))
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output
    assert yaml.safe_load((tmp_path / "run" / "metrics.json").read_text())["processes"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("kill", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_two_process_run_resumes_bit_identically(digits_run, tmp_path, kill):
    root, _ = digits_run
    out = tmp_path / "run"
    proc = _torchrun(root / "run.yaml", out, "--resume")
    deadline = time.time() + 300
    while not (out / "history.csv").exists() and time.time() < deadline:  # (after the checkpoint)
        time.sleep(0.05)
    if kill == signal.SIGTERM:  # as Slurm or a user would: torchrun passes it on
        proc.send_signal(signal.SIGTERM)
    else:  # a crash: every process dies at once
        for p in [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]:
            p.kill()
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0, output
    assert (out / "checkpoint.pt").exists() and not (out / "metrics.json").exists()
    if kill == signal.SIGTERM:
        assert "checkpoint saved, rerun with --resume" in output
    finished = len(pd.read_csv(out / "history.csv")) if (out / "history.csv").exists() else 0
    assert 1 <= finished < DIGITS["epochs"]  # a row for every epoch finished so far

    proc = _torchrun(root / "run.yaml", out, "--resume")
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output
    assert "resuming" in output
    assert _equal(_weights(out), _weights(root / "whole"))
    pd.testing.assert_frame_equal(_history(out), _history(root / "whole"))
