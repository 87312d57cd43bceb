"""What a batch log shows: a progress line at a fixed interval when stderr is not a terminal,
read with one host sync per line; and Weights & Biases (offline) with TensorBoard's scalars."""

import os
import re
import subprocess
import sys

import pandas as pd
import pytest
import torch
import yaml

from cafw.bench.timing import count_ops
from cafw.spec import load_run
from cafw.train import train
from cafw.train.progress import SCALARS, Heartbeat

RUN = {"dataset": "digits", "model": "cnn_small", "epochs": 2, "batch_size": 64,
       "device": "cpu", "optimizer": {"name": "sgd", "lr": 0.05}}
LINE = re.compile(r"epoch (\d+)/2  step (\d+)/(\d+)  (\d+) images/s  loss (\S+)  lr (\S+)  "
                  r"ETA (\d+m\d\ds|\d+h\d\dm)$")


def test_a_line_every_interval_with_one_host_sync_each():
    sums = {"loss": torch.tensor(6.0, dtype=torch.float64),
            "count": torch.tensor(3.0, dtype=torch.float64)}
    lines: list[str] = []
    quiet = Heartbeat(3600.0, lines.append, epochs=2, per_epoch=10)
    ops, syncs = count_ops(lambda: [quiet.step(0, b, 64, sums, 0.1) for b in range(1, 6)])
    assert (syncs, lines) == (0, [])  # no line due: the loss is never read
    chatty = Heartbeat(0.0, lines.append, epochs=2, per_epoch=10)
    ops, syncs = count_ops(lambda: [chatty.step(1, b, 64, sums, 0.1) for b in range(1, 4)])
    assert syncs == 3 and len(lines) == 3
    assert re.fullmatch(LINE, lines[-1]) and "epoch 2/2  step 3/10" in lines[-1]
    assert "loss 2.0000  lr 0.1" in lines[-1]


def test_a_batch_log_gets_progress_lines(tmp_path):
    lines: list[str] = []
    train(load_run({**RUN, "progress_seconds": 1e-6}), tmp_path / "run", progress=False,
          log=lines.append)
    assert lines[0].startswith(f"training {tmp_path / 'run'} on cpu (")
    progress = [m for line in lines if (m := LINE.fullmatch(line))]
    steps = int(progress[0].group(3))
    assert len(progress) == 2 * steps  # every step, at this interval
    assert progress[-1].group(1, 2) == ("2", str(steps))


def test_wandb_logs_the_tensorboard_scalars_offline(tmp_path):
    (tmp_path / "run.yaml").write_text(yaml.safe_dump({**RUN, "wandb": True}))
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path),
           "WANDB_SILENT": "false"}
    result = subprocess.run([sys.executable, "-m", "cafw", "train", "--config",
                             str(tmp_path / "run.yaml"), "--out", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))
    summary = result.stderr.split("Run summary:")[1]
    logged = dict(re.findall(r"wandb:\s+(\S+) (-?[\d.]+(?:e-?\d+)?)\n", summary))
    last = pd.read_csv(tmp_path / "run" / "history.csv").iloc[-1]
    expected = {tag: last[column] for column, tag in SCALARS.items()
                if not pd.isna(last[column])}
    assert set(logged) == set(expected)
    for tag, value in expected.items():
        assert float(logged[tag]) == pytest.approx(value, rel=1e-4, abs=1e-5)

