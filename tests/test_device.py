"""The device a job was given, or a clear failure: a process given GPUs (device: cuda, the
pipeline's gpu resource through `cafw on-gpus`, or CUDA_VISIBLE_DEVICES) never trains on the
CPU silently.  CUDA failures are simulated (monkeypatched); the command-line checks use this
machine as it is and are skipped where CUDA works."""

import json
import os
import subprocess
import sys

import pytest
import torch
import yaml

from cafw import device
from cafw.errors import DeviceError

CUDA = torch.cuda.is_available()
RUN = {"dataset": "digits", "model": "cnn_small", "epochs": 1, "batch_size": 64,
       "device": "auto", "optimizer": {"name": "sgd", "lr": 0.05}}


@pytest.fixture
def no_gpus_given(monkeypatch):
    monkeypatch.delenv("CAFW_GPUS", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return monkeypatch


@pytest.mark.parametrize("env, given", [
    ({}, None),
    ({"CAFW_GPUS": "0"}, None),
    ({"CUDA_VISIBLE_DEVICES": ""}, None),
    ({"CUDA_VISIBLE_DEVICES": "-1"}, None),
    ({"CUDA_VISIBLE_DEVICES": "NoDevFiles"}, None),
    ({"CAFW_GPUS": "4"}, "the job was given 4 GPUs (CAFW_GPUS=4)"),
    ({"CUDA_VISIBLE_DEVICES": "0,1"}, "CUDA_VISIBLE_DEVICES=0,1 names GPUs"),
    ({"CUDA_VISIBLE_DEVICES": "GPU-8f3c"}, "CUDA_VISIBLE_DEVICES=GPU-8f3c names GPUs"),
])
def test_what_counts_as_given_gpus(no_gpus_given, env, given):
    for name, value in env.items():
        no_gpus_given.setenv(name, value)
    assert device.given_gpus() == given


def _without_cuda(monkeypatch, build="13.0", driver_cuda=None, driver=None):
    """torch that cannot use CUDA: ``build`` None is a CPU-only build; ``driver_cuda`` the
    CUDA version the driver supports (None: no driver)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", build)
    monkeypatch.setattr(device, "driver_cuda_version", lambda: driver_cuda)
    monkeypatch.setattr(device, "driver_version", lambda: driver)


@pytest.mark.parametrize("build, driver_cuda, driver, cause", [
    (None, None, None, "was built without CUDA (a CPU-only build)"),
    ("13.0", None, None, "(CUDA 13.0) finds no NVIDIA driver (libcuda.so.1 cannot be loaded)"),
    ("13.0", (12, 4), "550.54.15", "was built for CUDA 13.0, but the NVIDIA driver 550.54.15 "
                                   "supports CUDA 12.4 at most; it needs driver >= 580"),
    ("12.8", (12, 8), "570.86.10", "no CUDA device is visible"),
])
def test_a_process_given_gpus_fails_naming_the_cause(no_gpus_given, build, driver_cuda, driver,
                                                     cause):
    _without_cuda(no_gpus_given, build, driver_cuda, driver)
    no_gpus_given.setenv("CUDA_VISIBLE_DEVICES", "0")
    with pytest.raises(DeviceError, match="CUDA_VISIBLE_DEVICES=0 names GPUs, but") as err:
        device.resolve_device("auto")
    assert cause in str(err.value) and "\n" not in str(err.value)


def test_every_way_of_being_given_gpus_needs_them(no_gpus_given):
    _without_cuda(no_gpus_given)
    with pytest.raises(DeviceError, match="'device': cuda was requested, but"):
        device.resolve_device("cuda")
    no_gpus_given.setenv("CAFW_GPUS", "2")
    with pytest.raises(DeviceError, match=r"the job was given 2 GPUs \(CAFW_GPUS=2\), but"):
        device.resolve_device("auto")


def test_only_device_cpu_or_nothing_given_computes_on_the_cpu(no_gpus_given):
    _without_cuda(no_gpus_given)
    assert device.resolve_device("auto") == torch.device("cpu")
    no_gpus_given.setenv("CUDA_VISIBLE_DEVICES", "0")
    no_gpus_given.setenv("CAFW_GPUS", "1")
    assert device.resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(CUDA, reason="CUDA works here: a job given GPUs trains on them")
@pytest.mark.parametrize("prefix, variables", [
    ((), {"CUDA_VISIBLE_DEVICES": "0"}),
    ((sys.executable, "-m", "cafw", "on-gpus", "1"), {"SLURM_JOB_ID": "1"}),  # Slurm's job
])
def test_train_given_a_gpu_on_a_machine_without_cuda_exits_at_once(tmp_path, prefix, variables):
    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES", "CAFW_GPUS")}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(RUN))
    result = subprocess.run([*prefix, sys.executable, "-m", "cafw", "train", "--config",
                             str(tmp_path / "run.yaml"), "--out", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=120, env={**env, **variables})
    assert result.returncode == 1
    assert "names GPUs, but" in result.stderr or "was given 1 GPU" in result.stderr
    assert "cafw: " in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run" / "metrics.json").exists()


@pytest.mark.skipif(CUDA, reason="CUDA works here: device auto trains on it")
def test_train_without_gpus_runs_on_the_cpu_and_records_where(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES", "CAFW_GPUS")}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(RUN))
    result = subprocess.run([sys.executable, "-m", "cafw", "train", "--config",
                             str(tmp_path / "run.yaml"), "--out", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"training {tmp_path / 'run'} on cpu (")
    assert "fp32, 1 process, torch " + torch.__version__ in first
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["device"] == metrics["device_type"] == "cpu"
    assert metrics["processes"] == 1
    assert (metrics["torch"], metrics["cuda"]) == (torch.__version__, torch.version.cuda)
