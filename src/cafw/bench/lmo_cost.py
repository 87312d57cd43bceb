"""What the spectral LMO's rounds cost: the step that the goal ProxSGD step >= 10x SFW
spectral-k-support step is about, for each number of warm subspace rounds.  Optimizer steps
on the same real gradients and full training steps (``cafw.bench.compute``), both timed in
interleaved rounds on the CIFAR-shaped ResNet-18.  How exact those rounds are is
``cafw.bench.lmo_quality``.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import yaml
from torch import nn

from ..device import describe
from ..io import write_csv, write_yaml
from ..runtime import Runtime, set_up
from ..spec import RunSpec, load_run
from ..train.factory import build_optimizer
from . import compute
from .lmo_quality import ITERATIONS, pipeline_runs
from .timing import interleaved_medians


def run(pipeline_config: Path, setup: str, *, baseline: str, reference: str, sfw: str,
        iterations: Sequence[int] = ITERATIONS, batch_size: int = 32, steps: int = 2,
        rounds: int = 5, device: str | None = None, out: Path | None = None) -> pd.DataFrame:
    """The config's methods ``baseline``, ``reference`` (a proximal one) and ``sfw`` (a
    spectral SFW method) with each number of ``iterations``, as the pipeline configures them
    on ``setup``: the median optimizer step on the same real gradients and the median full
    training step (``cafw.bench.compute``), each as a ratio to the reference's."""
    config = yaml.safe_load(Path(pipeline_config).read_text())
    base = pipeline_runs(config, setup, [baseline, reference, sfw], threads=1,
                         batch_size=batch_size, epochs=1)
    runs = {baseline: base[baseline], reference: base[reference]}
    for i in iterations:
        raw = base[sfw].to_dict()
        raw["optimizer"]["constraint"]["lmo_iterations"] = i
        runs[f"{sfw}-{i}"] = load_run(raw)
    optimizer_steps, rt = _optimizer_steps(runs, baseline, rounds, device)
    training = _training_steps(runs, setup, baseline, steps, rounds)
    rows = []
    for name, spec in runs.items():
        rows.append({"setup": setup, "method": name, "lmo_iterations":
                     spec.optimizer.constraint.lmo_iterations if name.startswith("sfw") else None,
                     "optimizer_step_ms": 1e3 * optimizer_steps[name]["median_s"],
                     "training_step_ms": training.loc[name, "step_ms"]})
    table = pd.DataFrame(rows)
    prox = table.set_index("method").loc[reference]
    # (the columns keep the names that docs/compute.md's table reads)
    table["prox_sgd_optimizer_step_ratio"] = prox["optimizer_step_ms"] / table["optimizer_step_ms"]
    table["prox_sgd_training_step_ratio"] = prox["training_step_ms"] / table["training_step_ms"]
    table["batch_size"], table["rounds"] = batch_size, rounds
    table["device"] = describe(rt.device)
    if out is not None:
        write_csv(table, out)
    return table


def _optimizer_steps(runs: dict[str, RunSpec], baseline: str, rounds: int,
                     device: str | None) -> tuple[dict, Runtime]:
    """Each run's optimizer step alone, on one batch's real gradients (of the baseline's
    set-up, which all runs share), timed in interleaved rounds."""
    rt = set_up(runs[baseline], device=device)
    x, y = next(iter(rt.data.train.epoch(0)))
    nn.functional.cross_entropy(rt.model(x), y).backward()
    steppers = {}
    for name, spec in runs.items():
        model = copy.deepcopy(rt.model)
        for p, q in zip(rt.model.parameters(), model.parameters()):
            q.grad = p.grad.clone()  # deepcopy leaves the gradients behind
        optimizer = build_optimizer(spec.optimizer, model)
        optimizer.step()  # warm-up: momentum buffers, spectral bases
        optimizer.step()
        steppers[name] = optimizer.step
    return interleaved_medians(steppers, rounds, rt.device), rt


def _training_steps(runs: dict[str, RunSpec], setup: str, baseline: str, steps: int,
                    rounds: int) -> pd.DataFrame:
    """Each run's full training step, through the compute comparison (method -> step_ms)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "compute.yaml"
        write_yaml(path, {"setup": setup, "methods": {
            name: {"label": name, "run": spec.to_dict()} for name, spec in runs.items()}})
        return compute.run(path, baseline=baseline, steps=steps, rounds=rounds
                           ).set_index("method")
