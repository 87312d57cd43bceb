"""Compute cost per training method, measured on the machine that runs the pipeline: the
paper's claim that SFW with a spectral-k-support constraint needs far less compute than
nuclear-norm regularization (a full SVD of every conv layer per step, through autograd for the
penalty, or in the proximal step of ProxSGD).

Every method trains the same model from the same initialization on the same batches; full
training steps (forward, backward, penalty, optimizer step) are timed in interleaved rounds,
each round every method once in a shuffled order.  The rounds are kept (``rounds`` table), so
that a ratio of two methods' step times has an interval over the rounds, paired by round; the
summary gives each method's median, and its ratio to a baseline method's (the pipeline's
config names it).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pandas as pd
import yaml

from ..device import describe
from ..errors import ConfigError
from ..io import write_csv
from ..runtime import set_up
from ..spec import RunSpec, load_run
from ..train.factory import build_optimizer, build_penalty
from ..train.step import train_step
from .timing import interleaved_times


def run(config_path: Path, baseline: str | None = None, steps: int = 10, rounds: int = 5,
        out: Path | None = None, rounds_out: Path | None = None) -> pd.DataFrame:
    """The summary (``summarize``) of ``rounds`` interleaved rounds of ``steps`` training
    steps per method, written to ``out``; every round's step times to ``rounds_out``.

    ``config_path``: YAML ``{setup: name, methods: {name: {label: ..., run: run config}},
    baseline: name}`` with the run configs of one setup (same dataset, model and batch size);
    ``baseline``, the method the others' steps are relative to, overrides the file's."""
    comparison = yaml.safe_load(Path(config_path).read_text())
    baseline = _baseline(comparison, baseline, config_path)
    configs = {name: load_run(m["run"]) for name, m in comparison["methods"].items()}
    rt = set_up(next(iter(configs.values())))  # the setup is shared: its data and model
    batches = list(itertools.islice(rt.data.train.epoch(0), steps))

    def trainer(config: RunSpec) -> Callable[[], None]:
        model = copy.deepcopy(rt.model)
        step = partial(train_step, model, build_optimizer(config.optimizer, model),
                       autocast=rt.autocast, penalty=build_penalty(config))

        def train_steps() -> None:
            for x, y in batches:
                step(x, y)
        train_steps()  # warm-up: momentum buffers, spectral bases, allocator, cudnn
        return train_steps

    times = interleaved_times({name: trainer(c) for name, c in configs.items()}, rounds,
                              rt.device)
    per_round = pd.DataFrame([
        {"setup": comparison["setup"], "dataset": config.dataset, "model": config.model,
         "method": name, "label": comparison["methods"][name]["label"],
         "batch_size": config.batch_size, "round": i, "step_ms": 1e3 * seconds / len(batches),
         "device": describe(rt.device)}
        for name, config in configs.items() for i, seconds in enumerate(times[name])])
    table = summarize(per_round, steps_per_epoch=len(rt.data.train), baseline=baseline)
    if out is not None:
        write_csv(table, out)
    if rounds_out is not None:
        write_csv(per_round, rounds_out)
    return table


def _baseline(comparison: dict, baseline: str | None, path: Path) -> str:
    baseline = baseline or comparison.get("baseline")
    if baseline is None:
        raise ConfigError(f"{path}: name the method the step times are relative to: "
                          "'baseline' in the file or --baseline METHOD")
    if baseline not in comparison["methods"]:
        raise ConfigError(f"{path}: the baseline {baseline!r} is not among its methods "
                          f"({', '.join(comparison['methods'])})")
    return baseline


def summarize(per_round: pd.DataFrame, steps_per_epoch: int, baseline: str) -> pd.DataFrame:
    """One row per method: its median and fastest step over the rounds, an epoch's time at
    the median, and the median relative to the ``baseline`` method's (the column keeps the
    name ``ratio_to_sgd`` that the tables read)."""
    keys = ["setup", "dataset", "model", "method", "label", "batch_size", "device"]
    steps = per_round.groupby(keys, sort=False)["step_ms"]
    table = pd.concat([steps.median(), steps.min().rename("step_ms_min")], axis=1).reset_index()
    table["steps_per_epoch"] = steps_per_epoch
    table["epoch_s"] = table["step_ms"] * steps_per_epoch / 1e3
    reference = table.loc[table["method"] == baseline, "step_ms"]
    table["ratio_to_sgd"] = table["step_ms"] / reference.iloc[0]
    return table[[c for c in keys if c != "device"] + [
        "step_ms", "step_ms_min", "steps_per_epoch", "epoch_s", "ratio_to_sgd", "device"]]
