"""One training run, airbench style: device-resident data, one loop, few host syncs; plus
what a run needs to survive days on a cluster: a checkpoint every epoch (and on SIGTERM),
bit-identical resumption, and a clear stop when the loss diverges.

A run directory holds, when finished:
    run.yaml      the run config, with every default filled in
    model.pt      the trained weights (state_dict; torch.load(weights_only=True))
    history.csv   one row per epoch
    metrics.json  final metrics; written last, so it marks a finished run
and, while running, checkpoint.pt (resume state; deleted at the end).
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..device import device_name
from ..errors import Interrupted, TrainingDiverged
from ..evaluation import score, top_k_hits
from ..extras import optional_dependency
from ..io import write_json, write_records
from ..runtime import set_up
from ..spec import RunSpec
from ..vocabulary import EVALUATION_COLUMNS
from . import checkpoint
from .factory import build_optimizer, build_penalty, method_name
from .schedules import build_scheduler

CHECK_EVERY = 25  # steps between finiteness checks (each one is a host sync)


@dataclass
class _Position:
    """Where training stands; everything a checkpoint restores besides the torch states."""

    epoch: int = 0  # current epoch (0-based)
    batch: int = 0  # next batch of that epoch
    history: list[dict] = field(default_factory=list)
    sums: dict[str, torch.Tensor] = field(default_factory=dict)  # running sums of the epoch
    seconds: float = 0.0  # training time spent in the current epoch


def train(config: RunSpec, out: str | Path, *, resume: bool = False,
          stop_at: tuple[int, int] | None = None, progress: bool | None = None,
          log: Callable[[str], None] | None = None) -> dict:
    """Train ``config`` into directory ``out`` and return the final metrics.

    ``resume`` continues from ``out/checkpoint.pt`` if present (and returns the metrics of a
    finished run unchanged); without it an existing checkpoint or finished run is an error,
    so nothing computed is overwritten.  ``stop_at=(epoch, batch)`` interrupts like SIGTERM.
    """
    out = Path(out)
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    done = out / checkpoint.METRICS
    if done.exists():
        if not resume:
            raise checkpoint.CheckpointError(f"{out} already holds a finished run; choose another "
                                             "--out, delete it, or pass --resume to keep it")
        finished = checkpoint.load_metrics(done)
        if finished.get("config_digest") != config.digest():
            raise checkpoint.CheckpointError(
                f"{out} holds a finished run of a different configuration; "
                "delete the directory to train this one there")
        return finished
    if (out / checkpoint.CHECKPOINT).exists() and not resume:
        raise checkpoint.CheckpointError(f"{out / checkpoint.CHECKPOINT} exists; pass --resume "
                                         "to continue it, or delete it to start over")

    rt = set_up(config)
    device, model = rt.device, rt.model
    optimizer = build_optimizer(config.optimizer, model)
    per_epoch = len(rt.data.train)
    scheduler = build_scheduler(optimizer, config.schedule, config.epochs, per_epoch)
    penalty = build_penalty(config)

    checkpoint.write_run_config(out, config)
    position = _restore(out, config, model, optimizer, scheduler) if resume else None
    if position is None:
        position = _Position()
        if getattr(config.optimizer, "make_feasible", False):
            optimizer.make_feasible()
    else:
        log(f"resuming {out} at epoch {position.epoch + 1}, batch {position.batch}")

    def save_checkpoint() -> None:
        checkpoint.save(out / checkpoint.CHECKPOINT, {
            "config_digest": config.digest(), "epoch": position.epoch, "batch": position.batch,
            "history": position.history, "sums": position.sums, "seconds": position.seconds,
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "rng": _rng_state(device)})

    show_bar = sys.stderr.isatty() if progress is None else progress
    with _stop_signals() as stop:
        while position.epoch < config.epochs:
            epoch = position.epoch
            if not position.sums:
                position.sums = _zero_sums(device)
            sums, started = position.sums, time.perf_counter()
            model.train()
            batches = rt.data.train.epoch(epoch, start=position.batch)
            for x, y in _maybe_bar(batches, show_bar, per_epoch, position.batch, epoch, config):
                with rt.autocast():
                    logits = rt.forward(x)
                    loss = nn.functional.cross_entropy(logits.float(), y)
                objective = loss + penalty(model) if penalty is not None else loss
                optimizer.zero_grad(set_to_none=True)
                objective.backward()
                optimizer.step()
                sums["lr"] += optimizer.param_groups[0]["lr"]
                scheduler.step()
                _accumulate(sums, loss, logits, y, optimizer)
                position.batch += 1
                if position.batch % CHECK_EVERY == 0:
                    _check_finite(sums, epoch, position.batch)
                if stop.signal is not None or (epoch, position.batch) == stop_at:
                    position.seconds += time.perf_counter() - started
                    save_checkpoint()
                    code = 128 + stop.signal if stop.signal is not None else 0
                    raise Interrupted(f"stopped at epoch {epoch + 1}, batch {position.batch}; "
                                      f"checkpoint saved, rerun with --resume", code)
            _check_finite(sums, epoch, position.batch)
            train_seconds = position.seconds + time.perf_counter() - started
            row = _epoch_row(epoch, sums, train_seconds, optimizer)
            tick = time.perf_counter()
            # validation every epoch (live progress, and what any selection reads); the
            # test set once, at the end: it is only ever reported
            row.update(score(model, {"val": rt.data.val}, bf16=rt.bf16),
                       eval_seconds=time.perf_counter() - tick)
            position.history.append(row)
            position.epoch, position.batch, position.sums, position.seconds = epoch + 1, 0, {}, 0.0
            save_checkpoint()
            log(_epoch_line(row, config))

    test = score(model, {"test": rt.data.test}, bf16=rt.bf16)
    return _finish(out, config, model, position.history, test, device, per_epoch)


def _zero_sums(device: torch.device) -> dict[str, torch.Tensor]:
    names = ("loss", "correct", "count", "step_size", "fw_gap", "steps", "lr")
    return {n: torch.zeros((), dtype=torch.float64, device=device) for n in names}


def _accumulate(sums: dict, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor,
                optimizer: torch.optim.Optimizer) -> None:
    """Running sums on the device: no host sync per step."""
    sums["loss"] += loss.detach() * len(y)
    sums["correct"] += top_k_hits(logits.detach(), y, (1,))[0]
    sums["count"] += len(y)
    sums["steps"] += 1
    if hasattr(optimizer, "step_statistics"):  # Frank-Wolfe optimizers
        stats = optimizer.step_statistics()
        sums["step_size"] += stats.step_size.nanmean()
        sums["fw_gap"] += stats.fw_gap.nansum()


def _check_finite(sums: dict, epoch: int, batch: int) -> None:
    if not math.isfinite(sums["loss"].item()):
        raise TrainingDiverged(f"the training loss became NaN or infinite in epoch {epoch + 1} "
                               f"(by batch {batch}); lower the learning rate or check the data. "
                               "The last checkpoint (end of the previous epoch) is kept")


def _epoch_row(epoch: int, sums: dict, seconds: float, optimizer) -> dict:
    values = {k: v.item() for k, v in sums.items()}
    steps = max(values["steps"], 1.0)
    sfw = hasattr(optimizer, "step_statistics")
    return {"epoch": epoch + 1, "train_loss": values["loss"] / values["count"],
            "train_accuracy": values["correct"] / values["count"], "lr": values["lr"] / steps,
            "step_size": values["step_size"] / steps if sfw else float("nan"),
            "fw_gap": values["fw_gap"] / steps if sfw else float("nan"),
            "train_seconds": seconds, "images": values["count"]}


def _epoch_line(row: dict, config: RunSpec) -> str:
    line = (f"epoch {row['epoch']}/{config.epochs}  train loss {row['train_loss']:.4f} "
            f"acc {row['train_accuracy']:.4f}  val loss {row['val_loss']:.4f} "
            f"acc {row['val_accuracy']:.4f}  lr {row['lr']:.3g}  {row['train_seconds']:.1f}s")
    if not math.isnan(row["step_size"]):
        line += f"  step {row['step_size']:.3g}  gap {row['fw_gap']:.3g}"
    return line


def _finish(out: Path, config: RunSpec, model: nn.Module, history: list[dict], test: dict,
            device: torch.device, per_epoch: int) -> dict:
    last = {**history[-1], **test}
    train_seconds = sum(row["train_seconds"] for row in history)
    metrics = {
        "dataset": config.dataset, "model": config.model, "method": method_name(config),
        "optimizer": config.optimizer.name, "seed": config.seed, "epochs": config.epochs,
        **{k: last[k] for k in EVALUATION_COLUMNS}, "train_loss": last["train_loss"],
        "train_accuracy": last["train_accuracy"],
        "wall_time_s": train_seconds + sum(row["eval_seconds"] for row in history),
        "seconds_per_epoch": train_seconds / len(history),
        "images_per_second": sum(row["images"] for row in history) / train_seconds,
        "steps_per_epoch": per_epoch,
        "parameters": sum(p.numel() for p in model.parameters()),
        "device": device_name(device),
        "torch": torch.__version__, "config_digest": config.digest(), **config.tags,
    }
    checkpoint.save(out / checkpoint.WEIGHTS,
                    {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()})
    write_records(history, out / checkpoint.HISTORY)
    write_json(out / checkpoint.METRICS, metrics)  # last: its presence marks a finished run
    (out / checkpoint.CHECKPOINT).unlink(missing_ok=True)
    return metrics


def _restore(out: Path, config: RunSpec, model, optimizer, scheduler) -> _Position | None:
    path = out / checkpoint.CHECKPOINT
    if not path.exists():
        return None
    state = checkpoint.load(path, "checkpoint", "delete it to start the run over")
    if state.get("config_digest") != config.digest():
        raise checkpoint.CheckpointError(
            f"{path} belongs to a different configuration; delete it to start this run afresh "
            "(or point --out at the directory of the run it belongs to)")
    device = next(model.parameters()).device
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"]["cpu"])
    if device.type == "cuda" and state["rng"].get("cuda") is not None:
        torch.cuda.set_rng_state(state["rng"]["cuda"], device)
    sums = {k: v.to(device) for k, v in state["sums"].items()}
    return _Position(state["epoch"], state["batch"], state["history"], sums, state["seconds"])


def _rng_state(device: torch.device) -> dict:
    return {"cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None}


class _StopFlag:
    signal: int | None = None


@contextmanager
def _stop_signals() -> Iterator[_StopFlag]:
    """Turn SIGTERM (Slurm preemption / time limit) and SIGINT into a flag the loop checks
    after each step, so it can checkpoint before exiting."""
    flag = _StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        flag.signal = signum

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _maybe_bar(batches, show: bool, total: int, start: int, epoch: int, config: RunSpec):
    if not show:
        return batches
    with optional_dependency():
        from tqdm import tqdm

    return tqdm(batches, total=total, initial=start, leave=False,
                desc=f"epoch {epoch + 1}/{config.epochs}")
