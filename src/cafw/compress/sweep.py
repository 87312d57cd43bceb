"""One-shot compression sweep of a trained run: one tidy row per (kind, ratio).

The expensive part of each kind (filter norms, one SVD per conv, one global sort) is done
once; each ratio then writes its compressed weights into the same model, evaluates the test
set once, counts parameters and MACs arithmetically, and the next ratio starts again from the
trained weights.  The training set is only read when BatchNorm recalibration is asked for
(the authors' per-level train+test evaluation costs 6x more).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from ..device import autocast, device_name
from ..evaluation import evaluate, score
from ..io import write_records
from ..runtime import set_up
from ..spec import ConfigError
from ..train import checkpoint
from ..train.checkpoint import CheckpointError
from .filter_prune import FilterPruner
from .flops import count, output_positions
from .lowrank import LowRankReconstruction
from .physical import check_sequential, inference_ms, physically_pruned
from .unstructured import MagnitudePruner

COMPRESSORS = {"filter": FilterPruner, "lowrank": LowRankReconstruction,
         "unstructured": MagnitudePruner}
IDENTITY = ("dataset", "model", "method", "optimizer", "seed")
TIMING_REPEATS = 5


def sweep(run_dir: str | Path, kind: str, ratios: Sequence[float], out_csv: str | Path, *,
          bn_recalibration: bool = False, physical: bool = False,
          device: str = "auto") -> list[dict]:
    """Compress the trained run ``run_dir`` with ``kind`` at every ratio, evaluate on the
    validation and test sets without retraining, write the rows to ``out_csv`` and return
    them (one dict per ratio).

    ``bn_recalibration`` adds ``test_accuracy_bn_recalibrated`` (BatchNorm statistics
    recomputed on the un-augmented training set); ``physical`` (filter pruning of sequential
    nets only) adds the physically pruned model's size and inference time.
    """
    run_dir = Path(run_dir)
    ratios = _checked(kind, ratios, physical)
    config, metrics, state = checkpoint.read_finished(run_dir)
    # The run's own precision and memory format, so ratio 0 reproduces its test accuracy
    # exactly (on the same device).
    rt = set_up(config, device=device)
    device_, bf16, channels_last, data, model = (rt.device, rt.bf16, rt.channels_last,
                                                 rt.data, rt.model)
    if physical:
        check_sequential(model)  # before any costly work
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{run_dir / checkpoint.WEIGHTS} does not fit model "
                              f"{config.model!r} of {run_dir / checkpoint.RUN_CONFIG} ({err}); "
                              "train the run again") from None
    model.eval()

    example = torch.zeros(1, *data.info.input_shape, device=device_)
    positions = output_positions(model, example)
    dense_cost = count(model, positions)
    dense = score(model, data.evaluation, bf16=bf16)
    if metrics.get("device") == device_name(device_) and dense["test_accuracy"] != metrics.get(
            "test_accuracy"):
        warnings.warn(f"the trained model of {run_dir} evaluates to test accuracy "
                      f"{dense['test_accuracy']} here but {metrics.get('test_accuracy')} in "
                      f"{checkpoint.METRICS}", stacklevel=2)
    compressor = COMPRESSORS[kind](model)
    timing_batch = next(iter(data.test.epoch(0)))[0] if physical else None

    identity = {key: metrics.get(key) for key in IDENTITY}
    rows = []
    for ratio in ratios:
        detail = compressor.apply(ratio)
        tick = time.perf_counter()
        scores = score(model, data.evaluation, bf16=bf16)
        seconds = time.perf_counter() - tick
        cost = count(model, positions, ranks=detail if kind == "lowrank" else None)
        row = {**identity, **config.tags, "kind": kind, "ratio": ratio, **scores,
               "dense_val_accuracy": dense["val_accuracy"],
               "dense_test_accuracy": dense["test_accuracy"],
               "params": cost.params, "params_ratio": cost.params / dense_cost.params,
               "macs": cost.macs, "flops": cost.flops,
               "flops_ratio": cost.flops / dense_cost.flops,
               "dense_params": dense_cost.params, "dense_flops": dense_cost.flops,
               "eval_seconds": seconds}
        if bn_recalibration:
            row["test_accuracy_bn_recalibrated"] = _recalibrated_accuracy(model, data, bf16)
        if physical:
            row.update(_physical_columns(model, detail, timing_batch, bf16, channels_last,
                                         example))
        row["run"] = str(run_dir)
        rows.append(row)
    compressor.restore()

    write_records(rows, out_csv)
    return rows


def _checked(kind: str, ratios: Sequence[float], physical: bool) -> list[float]:
    # ConfigError is a ValueError that the CLI reports as a usage error.
    if kind not in COMPRESSORS:
        raise ConfigError(f"unknown compression kind {kind!r}; choose one of "
                          f"{', '.join(COMPRESSORS)}")
    ratios = [float(r) for r in ratios]
    if not ratios:
        raise ConfigError("no compression ratios given")
    bad = [r for r in ratios if not 0 <= r < 1]
    if bad:
        raise ConfigError(f"compression ratios must lie in [0, 1); got {bad}")
    if physical and kind != "filter":
        raise ConfigError(f"physical pruning applies to kind 'filter' only, not {kind!r}")
    return ratios


@torch.no_grad()
def _recalibrated_accuracy(model: nn.Module, data, bf16: bool) -> float:
    """Test accuracy after recomputing every BatchNorm's running statistics as a cumulative
    average over the un-augmented training set; the trained statistics are put back after."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, {k: v.clone() for k, v in m.named_buffers()}) for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch counts equally
        m.train()  # only BatchNorm: any other train-mode behaviour stays off
    device = data.train_eval.device
    for x, _ in data.train_eval.epoch(0):
        with autocast(device, bf16):
            model(x)
    for m in norms:
        m.eval()
    accuracy = evaluate(model, data.test, bf16=bf16)["accuracy"]
    for m, (momentum, buffers) in zip(norms, saved):
        m.momentum = momentum
        for name, value in buffers.items():
            getattr(m, name).copy_(value)
    return accuracy


def _physical_columns(model: nn.Module, pruned: dict, batch: torch.Tensor, bf16: bool,
                      channels_last: bool, example: torch.Tensor) -> dict:
    try:
        small = physically_pruned(model, pruned)
    except ValueError as err:
        warnings.warn(f"no physical model: {err}", stacklevel=3)
        nan = math.nan
        return {"physical_params": nan, "physical_flops": nan, "inference_ms_dense": nan,
                "inference_ms_compressed": nan}
    if channels_last:
        small = small.to(memory_format=torch.channels_last)
    small.eval()
    # The masked model has the dense architecture: zeros do not make a dense conv faster.
    ms = inference_ms({"dense": model, "compressed": small}, batch, repeats=TIMING_REPEATS,
                      bf16=bf16)
    return {"physical_params": sum(p.numel() for p in small.parameters()),
            "physical_flops": count(small, output_positions(small, example)).flops,
            "inference_ms_dense": ms["dense"], "inference_ms_compressed": ms["compressed"]}
