"""Warm starts (cafw.warm): a command forked by the server computes what a fresh process
computes, keeps its streams and exit code, gets its signals, and runs cold whenever the server
could not stand in for a fresh process."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import psutil
import pytest
import torch
import yaml

from cafw import warm
from cafw.spec import load_run

THREADS = dict.fromkeys(warm.THREAD_VARIABLES, "1")  # what Snakemake gives a 1-thread job


class Server(NamedTuple):
    environment: dict  # of a command that uses the server
    process: subprocess.Popen


@pytest.fixture
def server(tmp_path):
    """A warm server, imported as for a 1-thread job."""
    path = str(tmp_path / "socket")
    environment = {**os.environ, **THREADS}
    environment.pop(warm.SOCKET_VARIABLE, None)
    process = subprocess.Popen([sys.executable, "-m", "cafw.warm", path], env=environment,
                               start_new_session=True)
    deadline = time.time() + 60
    while not Path(path).exists() and time.time() < deadline:
        time.sleep(0.05)
    yield Server({**environment, warm.SOCKET_VARIABLE: path}, process)
    process.terminate()
    process.wait(timeout=30)
    assert not Path(path).exists()  # the server removes its socket


def _run_config(tmp_path: Path, epochs: int) -> Path:
    config = load_run({"dataset": "digits", "model": "cnn_small", "epochs": epochs,
                       "batch_size": 64, "seed": 3, "threads": 1,
                       "optimizer": {"name": "sfw", "lr": 1.0, "rescale": "gradient",
                                     "constraint": {"family": "group_k_support", "k": 0.3,
                                                    "value": 10, "init_samples": 5}}})
    path = tmp_path / f"run-{epochs}.yaml"
    path.write_text(yaml.safe_dump(config.to_dict()))
    return path


def _cafw(*args: str, environment: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cafw.cli", *args], env=environment,
                          capture_output=True, text=True, timeout=300, **kwargs)


def test_a_forked_run_equals_a_run_in_its_own_process(tmp_path, server):
    config = _run_config(tmp_path, epochs=2)
    warm_run = _cafw("train", "--config", str(config), "--out", str(tmp_path / "warm"),
                     environment=server.environment)
    cold_run = _cafw("train", "--config", str(config), "--out", str(tmp_path / "cold"),
                     environment={**server.environment, warm.SOCKET_VARIABLE: "off"})
    assert warm_run.returncode == 0 and cold_run.returncode == 0, warm_run.stderr
    # the child's output reached the client's streams
    assert "training" in warm_run.stderr and "test accuracy" in warm_run.stdout
    a, b = (torch.load(tmp_path / run / "model.pt", weights_only=True) for run in ("warm", "cold"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_exit_code_and_the_message_of_a_failure_come_back(tmp_path, server):
    done = _cafw("train", "--config", str(tmp_path / "missing.yaml"), "--out",
                 str(tmp_path / "run"), environment=server.environment)
    assert done.returncode == 2
    assert "missing.yaml" in done.stderr


def test_a_relayed_sigterm_checkpoints_the_forked_run(tmp_path, server):
    command = [sys.executable, "-m", "cafw.cli", "train", "--config",
               str(_run_config(tmp_path, epochs=200)), "--out", str(tmp_path / "run")]
    process = subprocess.Popen(command, env=server.environment, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.time() + 120
    while not (tmp_path / "run" / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "checkpoint saved" in err


def test_a_forked_run_stops_when_its_client_is_killed(tmp_path, server):
    command = [sys.executable, "-m", "cafw.cli", "train", "--config",
               str(_run_config(tmp_path, epochs=200)), "--out", str(tmp_path / "run")]
    process = subprocess.Popen(command, env=server.environment, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (tmp_path / "run" / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.05)
    children = psutil.Process(server.process.pid).children()
    assert len(children) == 1  # the forked run
    process.kill()
    process.wait()
    gone, alive = psutil.wait_procs(children, timeout=60)
    assert gone and not alive


@pytest.mark.parametrize("change", [
    {"OMP_NUM_THREADS": "2"},  # imported with other threads
    {"ATEN_CPU_CAPABILITY": "default"},  # other CPU kernels
    {"LOCAL_RANK": "0"},  # one of torchrun's processes
], ids=["threads", "kernels", "torchrun"])
def test_a_command_runs_cold_where_the_server_cannot_stand_in(server, monkeypatch, change):
    for key, value in {**server.environment, **change}.items():
        monkeypatch.setenv(key, value)
    assert warm.run_warm(["figure", "--help"]) is None


def test_without_a_server_or_for_other_commands_a_command_runs_cold(tmp_path, server,
                                                                      monkeypatch):
    for key, value in server.environment.items():
        monkeypatch.setenv(key, value)
    assert warm.run_warm(["stability", "--help"]) is None  # not worth a fork
    monkeypatch.setenv(warm.SOCKET_VARIABLE, str(tmp_path / "nothing-listens-here"))
    assert warm.run_warm(["train", "--help"]) is None
    monkeypatch.setenv(warm.SOCKET_VARIABLE, "off")
    assert warm.run_warm(["train", "--help"]) is None


def test_the_fingerprint_covers_what_is_read_while_importing():
    base = warm.fingerprint({"HOME": "/a", "OMP_NUM_THREADS": "1"})
    assert base == warm.fingerprint({"HOME": "/b", "OMP_NUM_THREADS": "1"})
    assert base != warm.fingerprint({"HOME": "/a", "OMP_NUM_THREADS": "2"})
    assert base != warm.fingerprint({"HOME": "/a", "OMP_NUM_THREADS": "1",
                                     "PYTHONPATH": "/elsewhere"})
