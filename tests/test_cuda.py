"""Every device path on a CUDA GPU: SFW's batched step (no host syncs, the CPU's result), bf16
with channels_last, compile, the device-resident loader, bit-identical resumption in
deterministic mode, the GPU SVD of the compression sweeps, GPU slots and NCCL.  Skipped without
CUDA; scripts/gpu-check.sh runs them (`pytest -m cuda`)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from cafw.compress.sweep import sweep
from cafw.constraints import SETS, param_groups
from cafw.data import load_dataset
from cafw.models import build_model
from cafw.optim import SFW
from cafw.spec import load_run
from cafw.train import Interrupted, train

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

K = {"k_sparse": 0.1, "k_support": 0.1, "group_k_support": 0.3, "spectral_k_support": 0.3,
     "spectral_k_sparse": 0.3}
SMALL = {"shape": [3, 16, 16], "train_size": 512, "test_size": 128, "augment": "crop_flip"}


def config(**overrides):
    base = {"dataset": "synthetic", "dataset_options": SMALL, "model": "cnn_small", "epochs": 3,
            "batch_size": 64, "seed": 1, "device": "cuda",
            "optimizer": {"name": "sfw", "lr": 0.5, "constraint": {
                "family": "group_k_support", "k": 0.5, "init_samples": 5}}}
    return load_run({**base, **overrides})


def _weights(run: Path) -> dict:
    return torch.load(run / "model.pt", weights_only=True)


def _sfw_with_gradients(family: str, device: str, dtype=torch.float32) -> SFW:
    torch.manual_seed(0)
    model = build_model("cnn_small", 10, (3, 8, 8)).to(device, dtype)
    for p in model.parameters():
        p.grad = torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()),
                             dtype=dtype).to(device)
    optimizer = SFW(param_groups(model, family, k=K.get(family), init_samples=5), lr=0.5)
    optimizer.make_feasible()
    return optimizer


@pytest.mark.parametrize("family", SETS)
def test_sfw_steps_without_a_host_sync(family):
    optimizer = _sfw_with_gradients(family, "cuda")
    optimizer.step()  # plans the batches; a spectral set's exact SVD seeds its basis
    optimizer.step_statistics()
    torch.cuda.set_sync_debug_mode("error")  # any host sync raises from here on
    try:
        optimizer.step()
        optimizer.step_statistics()
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("family", SETS)
def test_sfw_step_on_cuda_equals_the_cpu_step(family):
    """In float64 from the same point with the same gradients: the GPU's batched path and the
    CPU's path take the same step."""
    gpu = _sfw_with_gradients(family, "cuda", torch.float64)
    cpu = _sfw_with_gradients(family, "cpu", torch.float64)
    for optimizer in (gpu, cpu):
        optimizer.step()
    for g, c in zip(gpu.param_groups, cpu.param_groups):
        for p, q in zip(g["params"], c["params"]):
            torch.testing.assert_close(p.cpu(), q, rtol=1e-7, atol=1e-9)


def _learns(run: Path) -> bool:
    loss = pd.read_csv(run / "history.csv")["train_loss"]
    return bool(loss.notna().all() and loss.iloc[-1] < loss.iloc[0])


def test_training_in_bf16_with_channels_last(tmp_path):
    metrics = train(config(), tmp_path)  # precision and memory format "auto": bf16, NHWC
    assert metrics["device"] == torch.cuda.get_device_name(0)
    assert _learns(tmp_path)


def test_compiled_training(tmp_path):
    train(config(compile=True), tmp_path)
    assert _learns(tmp_path)


def test_deterministic_mode_resumes_bit_identically(tmp_path):
    cfg = config(deterministic=True)
    train(cfg, tmp_path / "whole")
    with pytest.raises(Interrupted):
        train(cfg, tmp_path / "cut", stop_at=(1, 3))
    train(cfg, tmp_path / "cut", resume=True)
    whole, cut = _weights(tmp_path / "whole"), _weights(tmp_path / "cut")
    assert all(torch.equal(whole[k], cut[k]) for k in whole)


def test_the_loader_on_cuda_gives_the_cpus_batches():
    def batches(device):
        data = load_dataset("synthetic", device=device, seed=3, batch_size=64, options=SMALL)
        return list(data.train.epoch(2))
    for (x, y), (u, v) in zip(batches("cuda"), batches("cpu")):
        assert torch.equal(y.cpu(), v)
        torch.testing.assert_close(x.cpu(), u)


@pytest.mark.parametrize("kind", ["filter", "lowrank", "unstructured"])
def test_compression_sweeps_on_cuda_match_the_cpu(tmp_path, kind):
    train(config(device="cpu", epochs=2, optimizer={"name": "sgd", "lr": 0.05}), tmp_path / "run")
    ratios = [0.0, 0.3, 0.6]
    gpu = sweep(tmp_path / "run", kind, ratios, tmp_path / "gpu.csv", device="cuda",
                physical=kind == "filter")
    cpu = sweep(tmp_path / "run", kind, ratios, tmp_path / "cpu.csv", device="cpu")
    # the run's own precision on each device (bf16 on the GPU): a few test images may flip
    assert (gpu["test_accuracy"] - cpu["test_accuracy"]).abs().max() <= 4 / SMALL["test_size"]
    assert list(gpu["params"]) == list(cpu["params"])


def test_gpu_slots_give_a_job_one_real_gpu(tmp_path):
    env = {**os.environ, "CAFW_GPU_LOCKS": str(tmp_path)}
    env.pop("SLURM_JOB_ID", None)
    show = "import torch; print(torch.cuda.device_count())"
    done = subprocess.run([sys.executable, "-m", "cafw", "on-gpus", "1", sys.executable, "-c",
                           show], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
@pytest.mark.parametrize("shard", [False, True], ids=["ddp", "zero"])
def test_two_gpus_train_with_nccl(tmp_path, shard):
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config(shard_optimizer=shard).to_dict()))
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc-per-node", "2", "-m", "cafw", "train", "--config",
                           str(tmp_path / "run.yaml"), "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["processes"] == 2 and _learns(tmp_path / "run")
