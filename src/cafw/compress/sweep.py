"""One-shot compression sweep of a trained run: one tidy row per (kind, ratio).

The expensive part of each kind (filter norms, one SVD per conv, one global sort) is done
once; each ratio then writes its compressed weights into the same model, evaluates the test
set once, counts parameters and MACs arithmetically, and the next ratio starts again from the
trained weights.  The training set is only read when BatchNorm recalibration is asked for
(the authors' per-level train+test evaluation costs 6x more).

That masked or reconstructed model is the paper's protocol, and its accuracy is the
``test_accuracy`` column.  Asked for (``physical``, or the ratios to save), a ratio also builds
the model one would deploy (``Compressor.deployable``): filter pruning physically removes the
channels (``physically_pruned``, the [prune] extra), low rank replaces each conv by its
factorisation.  Everything that differs between kinds is the kind's ``Compressor``.
Its columns: ``physical_params``, ``physical_flops``, ``physical_bytes`` (its model.pt) beside
``dense_bytes``, its own ``physical_test_accuracy``, and forward latencies
``dense_ms_batch{B}`` / ``physical_ms_batch{B}`` on the run's device.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..device import autocast, device_name
from ..errors import CheckpointError, ConfigError
from ..evaluation import evaluate, score
from ..extras import MissingExtra
from ..io import write_records
from ..runtime import Runtime, set_up
from ..spec import RunSpec
from ..train import checkpoint
from ..vocabulary import EVALUATION_COLUMNS, KINDS, PHYSICAL_COLUMNS, PHYSICAL_KINDS
from .artifact import save_compressed, state_bytes
from .compressor import COMPRESSIONS, Compressor
from .flops import Cost, count, model_cost, output_positions
from .latency import LATENCY_BATCHES, inference_ms

IDENTITY = ("dataset", "model", "method", "optimizer", "seed")
TIMING_REPEATS = 5


def sweep(run_dir: str | Path, kind: str, ratios: Sequence[float],
          out_csv: str | Path | None = None, *,
          bn_recalibration: bool = False, physical: bool = False,
          save_dir: str | Path | None = None, save_ratios: Sequence[float] | None = None,
          latency_batches: Sequence[int] = LATENCY_BATCHES,
          device: str | None = None) -> list[dict]:
    """Compress the trained run ``run_dir`` with ``kind`` at every ratio, evaluate on the
    validation and test sets without retraining, write the rows to ``out_csv`` (if given)
    and return them (one dict per ratio).

    ``bn_recalibration`` adds ``test_accuracy_bn_recalibrated`` (BatchNorm statistics
    recomputed on the un-augmented training set).  ``physical`` adds the deployable model's
    columns at every ratio (module docstring); without Torch-Pruning they stay NaN for filter
    pruning, with one warning.  ``save_dir`` writes the compressed model of each of
    ``save_ratios`` (default: every ratio) to ``save_dir/<kind>-<ratio>`` and adds the
    ``saved_to`` column; those rows get the physical columns too.
    """
    run_dir = Path(run_dir)
    ratios = _checked(kind, ratios, physical)
    save_ratios = _checked_saves(kind, ratios, save_dir, save_ratios)
    config, metrics, state = checkpoint.read_finished(run_dir)
    labels = {**{key: metrics.get(key) for key in IDENTITY}, **config.tags, "kind": kind}
    if "diverged" in metrics:
        rows = _diverged_rows(metrics, labels, ratios, run_dir)
        if out_csv is not None:
            write_records(rows, out_csv)
        return rows
    unavailable = physical and _out_of_reach(COMPRESSIONS[kind])
    built = set() if unavailable else set(ratios) if physical else set(save_ratios)
    rt = _trained_model(run_dir, config, state, device)
    dense = _dense_reference(rt, run_dir, metrics)
    compressor = COMPRESSIONS[kind](rt.model)
    deployment = _Deployment(rt, compressor, latency_batches, save_dir, save_ratios,
                             about={"run": str(run_dir), "dataset": config.dataset}
                             ) if built else None

    rows = []
    for ratio in ratios:
        detail = compressor.apply(ratio)
        row = {**labels, "ratio": ratio, **_compressed_columns(rt, dense, compressor, detail)}
        if bn_recalibration:
            row["test_accuracy_bn_recalibrated"] = _recalibrated_accuracy(rt.model, rt.data,
                                                                          rt.bf16)
        if unavailable:
            row.update(dict.fromkeys(physical_columns(latency_batches), math.nan))
        if ratio in built:
            row.update(deployment.columns(ratio, detail, row["test_accuracy"]))
        row["run"] = str(run_dir)
        rows.append(row)
    compressor.restore()

    if out_csv is not None:
        write_records(rows, out_csv)
    return rows


def _diverged_rows(metrics: dict, labels: dict, ratios: list[float], run_dir: Path
                   ) -> list[dict]:
    """The rows of a run whose training diverged (``cafw train --record-divergence``): it has
    no weights worth compressing, so every ratio scores as the run does, as a model that
    learned nothing."""
    scores = {key: metrics[key] for key in EVALUATION_COLUMNS}
    return [{**labels, "ratio": ratio, **scores,
             "dense_val_accuracy": scores["val_accuracy"],
             "dense_test_accuracy": scores["test_accuracy"], "diverged": True,
             "run": str(run_dir)} for ratio in ratios]


def physical_columns(latency_batches: Sequence[int] = LATENCY_BATCHES) -> list[str]:
    """The columns a deployable model adds to its row."""
    return [*PHYSICAL_COLUMNS,
            *(f"{which}_ms_batch{b}" for b in latency_batches for which in ("dense", "physical"))]


def _trained_model(run_dir: Path, config: RunSpec, state: dict, device: str | None
                   ) -> Runtime:
    """The run's runtime holding its trained model in eval mode.

    The runtime has the run's own precision and memory format, so that ratio 0 reproduces its
    test accuracy exactly (on the same device).
    """
    rt = set_up(config, device=device, single_process=True)
    try:
        rt.model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{run_dir / checkpoint.WEIGHTS} does not fit model "
                              f"{config.model!r} of {run_dir / checkpoint.RUN_CONFIG} ({err}); "
                              "train the run again") from None
    rt.model.eval()
    return rt


@dataclass(frozen=True)
class _Dense:
    """The trained model before compression, which every ratio's row is compared with."""

    positions: dict[str, int]  # output positions of each conv and Linear (flops.count)
    cost: Cost
    scores: dict[str, float]


def _dense_reference(rt: Runtime, run_dir: Path, metrics: dict) -> _Dense:
    """Count and score the trained model, warning when its test accuracy differs from the one
    training recorded on this device (the run's files or the environment changed)."""
    example = torch.zeros(1, *rt.data.info.input_shape, device=rt.device)
    positions = output_positions(rt.model, example)
    scores = score(rt.model, rt.data.evaluation, bf16=rt.bf16)
    recorded = metrics.get("test_accuracy")
    if metrics.get("device") == device_name(rt.device) and scores["test_accuracy"] != recorded:
        warnings.warn(f"the trained model of {run_dir} evaluates to test accuracy "
                      f"{scores['test_accuracy']} here but {recorded} in "
                      f"{checkpoint.METRICS}", stacklevel=3)
    return _Dense(positions, count(rt.model, positions), scores)


def _compressed_columns(rt: Runtime, dense: _Dense, compressor: Compressor, detail) -> dict:
    """The scores and cost of the model as ``compressor.apply`` left it (returning
    ``detail``), beside the dense model's."""
    tick = time.perf_counter()
    scores = score(rt.model, rt.data.evaluation, bf16=rt.bf16)
    seconds = time.perf_counter() - tick
    cost = count(rt.model, dense.positions, ranks=compressor.cost_ranks(detail))
    return {**scores,
            "dense_val_accuracy": dense.scores["val_accuracy"],
            "dense_test_accuracy": dense.scores["test_accuracy"],
            "params": cost.params, "params_ratio": cost.params / dense.cost.params,
            "macs": cost.macs, "flops": cost.flops,
            "flops_ratio": cost.flops / dense.cost.flops,
            "dense_params": dense.cost.params, "dense_flops": dense.cost.flops,
            "eval_seconds": seconds}


class _Deployment:
    """The model one would ship at a ratio (physically pruned, factorised, or for unstructured
    pruning the masked model itself): built, measured beside the dense architecture, and
    saved when asked."""

    def __init__(self, rt: Runtime, compressor: Compressor, latency_batches: Sequence[int],
                 save_dir: str | Path | None, save_ratios: list[float], about: dict):
        self.rt, self.compressor, self.kind = rt, compressor, compressor.kind
        self.latency_batches = latency_batches
        self.save_dir, self.save_ratios, self.about = save_dir, save_ratios, about
        self.example = torch.zeros(1, *rt.data.info.input_shape, device=rt.device)
        if compressor.entry.physical:
            self.dense_bytes = state_bytes(rt.model)
            memory_format = torch.channels_last if rt.channels_last else torch.contiguous_format
            # Random inputs of the data's shape: latency does not depend on the pixel values.
            self.batches = {b: torch.randn(b, *rt.data.info.input_shape, device=rt.device)
                            .to(memory_format=memory_format) for b in latency_batches}

    def columns(self, ratio: float, detail, masked_accuracy: float) -> dict:
        try:
            compressed = self._built(ratio, detail)
        except ValueError as err:  # e.g. a conv with every filter pruned: no such model
            if ratio in self.save_ratios:
                raise
            warnings.warn(f"no physical model at ratio {ratio}: {err}", stacklevel=3)
            return dict.fromkeys(physical_columns(self.latency_batches), math.nan)
        row = self._measured(compressed) if self.compressor.entry.physical else {}
        if ratio in self.save_ratios:
            rt, info = self.rt, self.rt.data.info
            accuracy = row.get("physical_test_accuracy", masked_accuracy)
            row["saved_to"] = str(save_compressed(
                compressed, Path(self.save_dir) / f"{self.kind}-{ratio:g}", name=rt.spec.model,
                num_classes=info.num_classes, input_shape=info.input_shape, width=rt.spec.width,
                about={**self.about, "kind": self.kind, "ratio": ratio,
                       "test_accuracy": accuracy}))
        return row

    def _built(self, ratio: float, detail) -> nn.Module:
        model = self.compressor.deployable(ratio, detail, self.example)
        if self.rt.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    def _measured(self, compressed: nn.Module) -> dict:
        rt = self.rt
        cost = model_cost(compressed, self.example, nonzero_only=False)
        row = {"physical_params": cost.params, "physical_flops": cost.flops,
               "physical_bytes": state_bytes(compressed), "dense_bytes": self.dense_bytes,
               "physical_test_accuracy": evaluate(compressed, rt.data.test,
                                                  bf16=rt.bf16)["accuracy"]}
        for b, batch in self.batches.items():
            # The masked model has the dense architecture: zeros do not make a conv faster.
            ms = inference_ms({"dense": rt.model, "physical": compressed}, batch,
                              repeats=TIMING_REPEATS, bf16=rt.bf16)
            row.update({f"dense_ms_batch{b}": ms["dense"], f"physical_ms_batch{b}": ms["physical"]})
        return row


def _checked(kind: str, ratios: Sequence[float], physical: bool) -> list[float]:
    # ConfigError is a ValueError that the CLI reports as a usage error.
    if kind not in KINDS:
        raise ConfigError(f"unknown compression kind {kind!r}; choose one of "
                          f"{', '.join(KINDS)}")
    ratios = [float(r) for r in ratios]
    if not ratios:
        raise ConfigError("no compression ratios given")
    bad = [r for r in ratios if not 0 <= r < 1]
    if bad:
        raise ConfigError(f"compression ratios must lie in [0, 1); got {bad}")
    if physical and not COMPRESSIONS[kind].entry.physical:
        raise ConfigError(f"physical columns apply to kinds {' and '.join(PHYSICAL_KINDS)}, "
                          f"not {kind!r} (a sparse model is smaller or faster only with sparse "
                          "storage and kernels)")
    return ratios


def _checked_saves(kind: str, ratios: list[float], save_dir: str | Path | None,
                   save_ratios: Sequence[float] | None) -> list[float]:
    if save_dir is None:
        if save_ratios:
            raise ConfigError("ratios to save were given, but no directory to save them to")
        return []
    if save_ratios is None:
        return ratios
    save_ratios = [float(r) for r in save_ratios]
    missing = [r for r in save_ratios if r not in ratios]
    if missing:
        raise ConfigError(f"ratios to save {missing} are not among the sweep's ratios {ratios}")
    if save_ratios:
        COMPRESSIONS[kind].check_needs()  # saving is asked for: fail before any costly work
    return save_ratios


def _out_of_reach(compression: type[Compressor]) -> bool:
    """Whether the kind's deployable model needs what is not installed (filter pruning's,
    Torch-Pruning): then its columns stay NaN, with one warning, and the sweep goes on."""
    try:
        compression.check_needs()
    except MissingExtra as err:
        warnings.warn(f"the physical columns stay NaN: {err}", stacklevel=3)
        return True
    return False


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
