"""Compute cost per training method, measured on the machine that runs the pipeline: the
paper's claim that SFW with a spectral-k-support constraint needs far less compute than
nuclear-norm regularization (a full SVD of every conv layer per step, through autograd for the
penalty, or in the proximal step of ProxSGD).

Every method trains the same model from the same initialization on the same batches; full
training steps (forward, backward, penalty, optimizer step) are timed in interleaved rounds.
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import pandas as pd
import yaml
from torch import nn

from ..device import describe
from ..io import write_csv
from ..runtime import set_up
from ..spec import load_run
from ..train.factory import build_optimizer, build_penalty
from .timing import interleaved_medians


def run(config_path: Path, steps: int = 10, rounds: int = 5, out: Path | None = None) -> pd.DataFrame:
    """``config_path``: YAML ``{setup: name, methods: {name: {label: ..., run: run config}}}``
    with the run configs of one setup (same dataset, model and batch size)."""
    spec = yaml.safe_load(Path(config_path).read_text())
    configs = {name: load_run(m["run"]) for name, m in spec["methods"].items()}
    rt = set_up(next(iter(configs.values())))  # the setup is shared: its data and model
    device, data, base = rt.device, rt.data, rt.model
    batches = list(itertools.islice(data.train.epoch(0), steps))

    def trainer(config):
        model = copy.deepcopy(base)
        optimizer, penalty = build_optimizer(config.optimizer, model), build_penalty(config)

        def train_steps():
            for x, y in batches:
                with rt.autocast():
                    loss = nn.functional.cross_entropy(model(x).float(), y)
                if penalty is not None:
                    loss = loss + penalty(model)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        train_steps()  # warm-up: momentum buffers, spectral bases, allocator, cudnn
        return train_steps

    timings = interleaved_medians({name: trainer(c) for name, c in configs.items()}, rounds, device)
    rows = []
    for name, t in timings.items():
        config = configs[name]
        step = 1e3 * t["median_s"] / len(batches)
        rows.append({"setup": spec["setup"], "dataset": config.dataset, "model": config.model,
                     "method": name, "label": spec["methods"][name]["label"],
                     "batch_size": config.batch_size, "step_ms": step,
                     "step_ms_min": 1e3 * t["min_s"] / len(batches),
                     "steps_per_epoch": len(data.train),
                     "epoch_s": step * len(data.train) / 1e3})
    table = pd.DataFrame(rows)
    sgd = table.loc[table["method"] == "sgd", "step_ms"]
    table["ratio_to_sgd"] = table["step_ms"] / sgd.iloc[0] if len(sgd) else float("nan")
    table["device"] = describe(device)
    if out is not None:
        write_csv(table, out)
    return table
