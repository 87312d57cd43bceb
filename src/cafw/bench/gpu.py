"""GPU readiness in one table, for the first run on a new machine (``scripts/gpu-check.sh``):

* the tests marked ``cuda`` (every device path: SFW, bf16, channels_last, compile, the data
  loaders, resumption in deterministic mode, the compression sweeps, GPU slots, NCCL);
* every SFW family's step under ``torch.cuda.set_sync_debug_mode("error")``, where a host sync
  raises, and its time relative to an SGD step (a CIFAR ResNet-18's parameters, batch 128);
* one epoch of a CIFAR-shaped ResNet-18 (50,000 random 32x32 images, batch 128, SGD) in bf16
  with channels_last, eager and compiled, against the H200's compute floor;
* the pipeline's compute comparison at CIFAR scale: training steps of the paper config's
  compute methods (SGD + nuclear norm, ProxSGD, SFW spectral-k-support) relative to its
  baseline (SGD), in fewer steps and rounds than the pipeline's (the SVD-based methods
  dominate the check's time);
* a two-process DDP run (NCCL) against one process, if there are two GPUs.

Without CUDA every part is reported as skipped.  A row that fails says why; the command then
exits with 1.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pandas as pd
import torch
import yaml

from ..device import synchronize
from ..io import write_csv, write_yaml
from ..pipeline.grid import compute_runs
from ..runtime import set_up
from ..spec import load_run
from ..train.step import train_step
from . import compute
from .optimizer import optimizers
from .timing import interleaved_medians

# An H200 cannot train a CIFAR-10 ResNet-18 epoch faster than this: 50,000 images x 3.33 GFLOP
# (forward and backward) = 166 TFLOP at its 790 TFLOP/s of dense bf16.
H200_FLOOR_S = 0.21
CIFAR = {"shape": [3, 32, 32], "train_size": 50_000, "test_size": 1_000, "augment": "crop_flip"}
NO_CUDA = "no CUDA device"

Row = dict[str, str]


def _row(check: str, status: str, measured: str = "", reference: str = "") -> Row:
    return {"check": check, "status": status, "measured": measured, "reference": reference}


def cuda_tests(junit: Path | None) -> list[Row]:
    """One row for the pytest run of the tests marked ``cuda`` (its JUnit XML report)."""
    if junit is None or not junit.is_file():
        return [_row("tests marked cuda", "FAILED", "no test report (did pytest run?)")]
    suite = ElementTree.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    cases = suite.findall("testcase")
    failed = [c.get("name") for c in cases if c.find("failure") is not None
              or c.find("error") is not None]
    skipped = sum(c.find("skipped") is not None for c in cases)
    passed = len(cases) - len(failed) - skipped
    measured = f"{passed} passed, {skipped} skipped, {len(failed)} failed"
    if failed:
        return [_row("tests marked cuda", "FAILED", measured, ", ".join(failed))]
    status = "skipped" if passed == 0 else "ok"
    return [_row("tests marked cuda", status, measured, NO_CUDA if passed == 0 else "")]


def sfw_steps(device: torch.device, model: str = "resnet18", batch_size: int = 128,
              rounds: int = 7) -> list[Row]:
    """Every SFW family's step: no host sync (on CUDA), time relative to SGD."""
    steppers, _ = optimizers(model, batch_size, device)
    families = [name for name in steppers if name.startswith("sfw_")]
    syncs = {}
    for name in families:
        syncs[name] = "no host sync" if device.type == "cuda" else "(syncs not checked on CPU)"
        if device.type == "cuda":
            steppers[name].step_statistics()  # its index is built on first use
            try:
                torch.cuda.set_sync_debug_mode("error")
                steppers[name].step()
                steppers[name].step_statistics()
            except RuntimeError as err:
                syncs[name] = f"host sync: {str(err).splitlines()[0][:80]}"
            finally:
                torch.cuda.set_sync_debug_mode("default")
    timings = interleaved_medians({n: steppers[n].step for n in ["sgd", *families]}, rounds,
                                  device)
    sgd = timings["sgd"]["median_s"]
    return [_row(f"SFW step, {name.removeprefix('sfw_')}",
                 "ok" if syncs[name].startswith(("no", "(")) else "FAILED",
                 f"{timings[name]['median_s'] / sgd:.2f}x SGD "
                 f"({1e3 * timings[name]['median_s']:.2f} ms)", syncs[name])
            for name in families]


def epoch_times(device: torch.device, model: str = "resnet18", data: dict | None = None,
                epochs: int = 2, compiled: tuple[bool, ...] = (False, True)) -> list[Row]:
    """Seconds per epoch of a CIFAR-shaped ResNet-18 with SGD in bf16 and channels_last (the
    fastest of ``epochs`` epochs, after a few warm-up steps, which compile)."""
    rows = []
    for compile_ in compiled:
        spec = load_run({"dataset": "synthetic", "dataset_options": data or CIFAR,
                         "model": model, "batch_size": 128, "device": device.type,
                         "precision": "bf16", "channels_last": True, "compile": compile_,
                         "optimizer": {"name": "sgd"}})
        rt = set_up(spec)
        optimizer = torch.optim.SGD(rt.model.parameters(), lr=0.01, momentum=0.9, foreach=True)
        step = partial(train_step, rt.model, optimizer, autocast=rt.autocast, forward=rt.forward)

        def steps(batches, step=step):
            for x, y in batches:
                step(x, y)

        steps(itertools.islice(rt.data.train.epoch(0), 3))
        times = []
        for epoch in range(1, epochs + 1):
            synchronize(device)
            start = time.perf_counter()
            steps(rt.data.train.epoch(epoch))
            synchronize(device)
            times.append(time.perf_counter() - start)
        best = min(times)
        rows.append(_row(f"{model} CIFAR epoch, bf16 + channels_last"
                         f"{' + compile' if compile_ else ''}", "ok", f"{best:.2f} s",
                         f"{best / H200_FLOOR_S:.1f}x the H200 floor of {H200_FLOOR_S} s"))
    return rows


def compute_comparison(paper_config: Path, model: str = "resnet18", batch_size: int = 128,
                       data: dict | None = None, steps: int | None = None,
                       rounds: int | None = None, setup: str = "gpu-check"
                       ) -> list[Row]:
    """The pipeline's compute comparison of the paper config's methods (``cafw bench
    compute``), relative to its baseline, on a CIFAR-shaped ``model`` at ``batch_size``: the
    config's benchmark setups replaced by this one, named ``setup``."""
    config = yaml.safe_load(paper_config.read_text())
    config["benchmark_setups"] = {setup: {
        "dataset": "synthetic", "dataset_options": data or CIFAR, "model": model,
        "batch_size": batch_size}}
    baseline = config["baseline"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "compute.yaml"
        write_yaml(path, compute_runs(config, setup))
        table = compute.run(path, baseline=baseline, steps=steps or config["compute"]["steps"],
                            rounds=rounds or config["compute"]["rounds"])
    label = config["methods"][baseline]["label"]
    return [_row(f"compute: {r.label} step", "ok", f"{r.step_ms:.1f} ms",
                 f"{r.ratio_to_sgd:.2f}x {label}") for r in table.itertuples()]


def ddp(gpus: int = 2, **overrides) -> list[Row]:
    """A ResNet-18 trained on ``gpus`` processes (NCCL) and on one, from the same config."""
    run = {"dataset": "synthetic", "dataset_options": {**CIFAR, "train_size": 10_240},
           "model": "resnet18", "epochs": 2, "batch_size": 256, "device": "cuda",
           "optimizer": {"name": "sfw", "lr": 0.5, "constraint": {
               "family": "group_k_support", "k": 0.3, "init_samples": 10}}, **overrides}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_yaml(tmp / "run.yaml", run)
        results = {}
        for n in (gpus, 1):
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                       "--nproc-per-node", str(n), "-m", "cafw", "train", "--config",
                       str(tmp / "run.yaml"), "--out", str(tmp / str(n))]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                return [_row(f"DDP, {gpus} processes", "FAILED", f"{n} process(es) exited with "
                             f"{done.returncode}", done.stderr.strip().splitlines()[-1])]
            results[n] = json.loads((tmp / str(n) / "metrics.json").read_text())
    many, one = results[gpus], results[1]
    return [_row(f"DDP, {gpus} processes on {many['device']}", "ok",
                 f"{many['seconds_per_epoch']:.2f} s/epoch, test accuracy "
                 f"{many['test_accuracy']:.3f}",
                 f"1 process: {one['seconds_per_epoch']:.2f} s/epoch, test accuracy "
                 f"{one['test_accuracy']:.3f}")]


def run(tests: Path | None, paper_config: Path, out: Path | None = None) -> pd.DataFrame:
    cuda = torch.cuda.is_available()
    device = torch.device("cuda")
    parts: list[tuple[str, Callable[[], list[Row]], bool]] = [
        ("SFW steps", lambda: sfw_steps(device), cuda),
        ("ResNet-18 epochs", lambda: epoch_times(device), cuda),
        ("compute comparison", lambda: compute_comparison(paper_config, steps=10, rounds=3),
         cuda),
        ("DDP", ddp, cuda and torch.cuda.device_count() >= 2),
    ]
    rows = cuda_tests(tests)
    for name, part, runnable in parts:
        if not runnable:
            why = NO_CUDA if not cuda else "fewer than two GPUs"
            rows.append(_row(name, "skipped", "", why))
            continue
        try:
            rows += part()
        except Exception as err:  # one failing part must not hide the others' results
            traceback.print_exc()
            rows.append(_row(name, "FAILED", f"{type(err).__name__}: {str(err)[:100]}"))
    table = pd.DataFrame(rows)
    device_name = torch.cuda.get_device_name(0) if cuda else "no CUDA device"
    table["device"], table["torch"] = device_name, torch.__version__
    if out is not None:
        write_csv(table, out)
    return table
