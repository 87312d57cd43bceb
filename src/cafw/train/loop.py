"""One training run, airbench style: device-resident data, one loop, few host syncs; plus
what a run needs to survive days on a cluster: a checkpoint every epoch (and on SIGTERM),
bit-identical resumption, and a clear stop when the loss diverges.

Under torchrun the same loop runs in every process (set up by ``cafw.runtime``): each trains
on its slice of every batch, an epoch's metrics are summed over the processes, and only the
main process writes the run directory.  The processes agree at the check points (every
CHECK_EVERY steps and at the end of an epoch) whether to stop, so that all of them checkpoint
at the same step and none waits forever for the others; once per epoch they compare a
checksum of their weights.

A run directory holds, when finished:
    run.yaml      the run config, with every default filled in
    model.pt      the trained weights (state_dict; torch.load(weights_only=True))
    history.csv   one row per epoch, rewritten after each
    metrics.json  final metrics; written last, so it marks a finished run
and, while running, checkpoint.pt (resume state; deleted at the end, or by the caller);
TensorBoard event files if the config asks for them.
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
from functools import partial
from pathlib import Path

import torch
from torch import nn

from ..errors import Interrupted, LossDiverged, TrainingDiverged
from ..evaluation import chance_scores, score, top_k_hits
from ..extras import optional_dependency
from ..io import write_json, write_records
from ..runtime import Runtime, World, set_up
from ..spec import RunSpec
from ..vocabulary import EVALUATION_COLUMNS
from . import checkpoint
from .factory import (
    build_optimizer,
    build_penalty,
    full_state_dict,
    has_step_statistics,
    method_name,
    step_statistics,
)
from .progress import Heartbeat, Progress
from .schedules import build_scheduler
from .step import train_step

CHECK_EVERY = 25  # steps between check points (each one is a host sync)


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
          log: Callable[[str], None] | None = None, keep_checkpoint: bool = False,
          record_divergence: bool = False) -> dict:
    """Train ``config`` into directory ``out`` and return the final metrics.

    ``resume`` continues from ``out/checkpoint.pt`` if present (and returns the metrics of a
    finished run unchanged); without it an existing checkpoint or finished run is an error,
    so nothing computed is overwritten.  ``stop_at=(epoch, batch)`` interrupts like SIGTERM.
    Under torchrun every process calls this and gets the metrics; only the main one logs.
    ``keep_checkpoint`` leaves the final checkpoint for the caller to delete
    (``checkpoint.discard``) once what it does with the trained model has succeeded: a
    pipeline job whose later step fails loses its outputs, and the rerun then resumes the
    finished training instead of repeating it.

    A training loss that becomes NaN or infinite is an error, unless ``record_divergence``:
    then the run ends there, as a finished run whose scores are those of a model that learned
    nothing (``evaluation.chance_scores``) and whose metrics say where it ``diverged``.  The
    pipeline's tuning grids reach learning rates at which training diverges, and such a run is
    an outcome of its protocol, not a failure of the pipeline.
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
    try:
        return _run(rt, out, resume, stop_at, progress, log if rt.world.main else _silent,
                    keep_checkpoint, record_divergence)
    finally:
        rt.world.close()


def _run(rt: Runtime, out: Path, resume: bool, stop_at: tuple[int, int] | None,
         progress: bool | None, log: Callable[[str], None], keep_checkpoint: bool,
         record_divergence: bool) -> dict:
    config, world = rt.spec, rt.world
    run = _start(rt, out, resume, log)
    position, optimizer = run.position, run.optimizer
    step = partial(train_step, rt.model, optimizer, autocast=rt.autocast, forward=rt.forward,
                   penalty=build_penalty(config))
    per_epoch = len(rt.data.train)
    show_bar = world.main and (sys.stderr.isatty() if progress is None else progress)
    heartbeat = Heartbeat(config.progress_seconds, log, config.epochs, per_epoch)
    with _stop_signals() as stop, Progress(out, tensorboard=config.tensorboard,
                                           first_epoch=position.epoch, write=world.main,
                                           wandb=config.wandb, config=config.to_dict()) as live:
        try:
            _epochs(run, step, per_epoch, show_bar, heartbeat, stop, stop_at, live, log)
        except LossDiverged as diverged:
            if not record_divergence:
                raise
            log(f"recorded: {diverged}")
            return _finish_diverged(run, per_epoch, str(diverged).split(";")[0])
    return _finish(run, per_epoch, keep_checkpoint)


def _epochs(run: _Training, step: Callable, per_epoch: int, show_bar: bool,
            heartbeat: Heartbeat, stop: _StopFlag, stop_at: tuple[int, int] | None,
            live: Progress, log: Callable[[str], None]) -> None:
    """Train epoch after epoch until the last, from where ``run`` stands."""
    rt, position, optimizer = run.rt, run.position, run.optimizer
    config, world = rt.spec, rt.world
    while position.epoch < config.epochs:
        epoch = position.epoch
        if not position.sums:
            position.sums = _zero_sums(rt.device)
        sums, started = position.sums, time.perf_counter()
        rt.model.train()
        batches = rt.data.train.epoch(epoch, start=position.batch)
        for x, y in _maybe_bar(batches, show_bar, per_epoch, position.batch, epoch, config):
            # this process's share of the batch: 1, unless the last batch splits unevenly
            share = len(y) * world.size / rt.data.train.batch_length(position.batch)
            loss, logits = step(x, y, share=share)
            sums["lr"] += optimizer.param_groups[0]["lr"]
            run.scheduler.step()
            _accumulate(sums, loss, logits, y, optimizer)
            position.batch += 1
            if world.main and not show_bar:
                heartbeat.step(epoch, position.batch, len(y) * world.size, sums,
                               optimizer.param_groups[0]["lr"])
            if _stopping(sums, stop, world, epoch, position.batch, stop_at):
                position.seconds += time.perf_counter() - started
                run.save_checkpoint()
                raise _interrupted(stop, f"epoch {epoch + 1}, batch {position.batch}")
        stopping = _check(sums, stop, world, epoch, position.batch)
        _end_epoch(run, position.seconds + time.perf_counter() - started, live, log)
        if stopping and position.epoch < config.epochs:
            raise _interrupted(stop, f"the end of epoch {epoch + 1}")


@dataclass
class _Training:
    """What the loop's helpers share: the run, its optimizer and schedule, and its position."""

    rt: Runtime
    out: Path
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    position: _Position

    def save_checkpoint(self) -> None:
        """Every process takes part in the collectives; then the main process writes."""
        rt, position = self.rt, self.position
        ranks = rt.world.gather({"rng": _rng_state(rt.device),
                                 "sums": {k: v.cpu() for k, v in position.sums.items()}})
        optimizer_state = full_state_dict(self.optimizer, rt.world.main)
        if rt.world.main:
            checkpoint.save(self.out / checkpoint.CHECKPOINT, {
                "config_digest": rt.spec.digest(), "epoch": position.epoch,
                "batch": position.batch, "history": position.history,
                "seconds": position.seconds, "model": rt.model.state_dict(),
                "optimizer": optimizer_state, "scheduler": self.scheduler.state_dict(),
                "ranks": ranks})
        rt.world.barrier()  # no process exits (or is killed) before the checkpoint is written


def _start(rt: Runtime, out: Path, resume: bool, log: Callable[[str], None]) -> _Training:
    """The optimizer and schedule of the run, at the checkpoint's position if it resumes."""
    config, world = rt.spec, rt.world
    optimizer = build_optimizer(config.optimizer, rt.model,
                                shard=config.shard_optimizer and world.size > 1)
    scheduler = build_scheduler(optimizer, config.schedule, config.epochs, len(rt.data.train))
    if world.main:
        checkpoint.write_run_config(out, config)
    log(f"training {out} {rt.start_line()}")
    position = _restore(out, rt, optimizer, scheduler) if resume else None
    if position is None:
        position = _Position()
    else:
        log(f"resuming {out} at epoch {position.epoch + 1}, batch {position.batch}")
    return _Training(rt, out, optimizer, scheduler, position)


def _stopping(sums: dict, stop: _StopFlag, world: World, epoch: int, batch: int,
              stop_at: tuple[int, int] | None) -> bool:
    """Whether to checkpoint and stop after this step: at a check point, if any process was
    asked to; in between, if this process alone was (it needs no agreement)."""
    if batch % CHECK_EVERY == 0:
        stopping = _check(sums, stop, world, epoch, batch)
    else:
        stopping = world.size == 1 and stop.signal is not None
    return stopping or (epoch, batch) == stop_at


def _end_epoch(run: _Training, train_seconds: float, live: Progress,
               log: Callable[[str], None]) -> None:
    """The epoch's row (its training sums over the processes, validation), then a checkpoint
    at the start of the next epoch."""
    rt, position = run.rt, run.position
    epoch, sums, world = position.epoch, position.sums, rt.world
    world.sum_(sums["loss"], sums["correct"], sums["count"])  # the whole epoch's
    row = _epoch_row(epoch, sums, train_seconds, run.optimizer)
    _check_replicas(rt.model, world, epoch)
    # evaluate the main process's model: BatchNorm's running statistics are the one thing
    # DDP does not keep equal (it broadcasts them before each forward instead)
    world.broadcast_(rt.model.buffers())
    tick = time.perf_counter()
    # validation every epoch (live progress, and what any selection reads); the test set
    # once, at the end: it is only ever reported
    row.update(score(rt.model, {"val": rt.data.val}, bf16=rt.bf16, sum_=world.sum_),
               eval_seconds=time.perf_counter() - tick)
    position.history.append(row)
    position.epoch, position.batch, position.sums, position.seconds = epoch + 1, 0, {}, 0.0
    run.save_checkpoint()
    live.epoch_done(position.history)
    log(_epoch_line(row, rt.spec))


def _silent(line: str) -> None:
    """The log of every process but the main one."""


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
    stats = step_statistics(optimizer)
    if stats is not None:  # Frank-Wolfe optimizers
        sums["step_size"] += stats.step_size.nanmean()
        sums["fw_gap"] += stats.fw_gap.nansum()


def _check(sums: dict, stop: _StopFlag, world: World, epoch: int, batch: int) -> bool:
    """A check point (one host sync): raise if the loss is no longer finite in any process,
    and return whether any process was asked to stop, so that all stop together."""
    state = torch.stack([sums["loss"], sums["loss"].new_tensor(float(stop.signal is not None))])
    world.sum_(state)
    loss, stops = state.tolist()
    if not math.isfinite(loss):
        raise LossDiverged(f"the training loss became NaN or infinite in epoch {epoch + 1} "
                           f"(by batch {batch}); lower the learning rate or check the data. "
                           "The last checkpoint (end of the previous epoch) is kept")
    return stops > 0


def _check_replicas(model: nn.Module, world: World, epoch: int) -> None:
    """The processes' copies of the weights must be bitwise equal: every one applies the same
    update to the same weights.  A difference (a nondeterministic kernel, a faulty GPU) would
    silently train several different models, so it stops the run."""
    if world.size == 1:
        return
    checksum = torch.stack([p.detach().double().sum() for p in model.parameters()])
    if not world.same_everywhere(checksum):
        raise TrainingDiverged(f"the {world.size} processes' copies of the model differ after "
                               f"epoch {epoch + 1}, so their updates were not identical (a "
                               "nondeterministic kernel or a faulty device). The last checkpoint "
                               "(end of the previous epoch) is kept")


def _interrupted(stop: _StopFlag, where: str) -> Interrupted:
    code = 128 + stop.signal if stop.signal is not None else 0
    return Interrupted(f"stopped at {where}; checkpoint saved, rerun with --resume", code)


def _epoch_row(epoch: int, sums: dict, seconds: float, optimizer) -> dict:
    values = {k: v.item() for k, v in sums.items()}
    steps = max(values["steps"], 1.0)
    sfw = has_step_statistics(optimizer)
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


def _finish(run: _Training, per_epoch: int, keep_checkpoint: bool) -> dict:
    """The test set's score and the final metrics; the main process writes the trained
    weights, the history and, last, metrics.json."""
    rt, history, world = run.rt, run.position.history, run.rt.world
    test = score(rt.model, {"test": rt.data.test}, bf16=rt.bf16, sum_=world.sum_)
    metrics = _metrics(rt.spec, rt.model, history, test, rt.provenance(), per_epoch)
    if world.main:
        checkpoint.save(run.out / checkpoint.WEIGHTS, {
            k: v.detach().cpu().contiguous() for k, v in rt.model.state_dict().items()})
        write_records(history, run.out / checkpoint.HISTORY)
        write_json(run.out / checkpoint.METRICS, metrics)  # last: it marks a finished run
        if not keep_checkpoint:
            checkpoint.discard(run.out)
    return metrics


def _finish_diverged(run: _Training, per_epoch: int, where: str) -> dict:
    """A run whose training loss diverged, recorded as finished: the epochs it finished, then
    a row for the one it diverged in, with the scores of a model that learned nothing (the
    training loss and accuracy too); its weights as they stand."""
    rt, position, world = run.rt, run.position, run.rt.world
    chance = chance_scores(rt.data.info.num_classes, ("train", "val", "test"))
    history = [*position.history, {
        "epoch": position.epoch + 1, "train_loss": chance["train_loss"],
        "train_accuracy": chance["train_accuracy"], "lr": math.nan, "step_size": math.nan,
        "fw_gap": math.nan, "train_seconds": position.seconds, "images": 0,
        **{k: v for k, v in chance.items() if k.startswith("val_")}, "eval_seconds": 0.0}]
    test = {k: v for k, v in chance.items() if k.startswith("test_")}
    metrics = {**_metrics(rt.spec, rt.model, history, test, rt.provenance(), per_epoch),
               "diverged": where}
    if world.main:
        checkpoint.save(run.out / checkpoint.WEIGHTS, {
            k: v.detach().cpu().contiguous() for k, v in rt.model.state_dict().items()})
        write_records(history, run.out / checkpoint.HISTORY)
        write_json(run.out / checkpoint.METRICS, metrics)  # last: it marks a finished run
        checkpoint.discard(run.out)
    return metrics


def _metrics(config: RunSpec, model: nn.Module, history: list[dict], test: dict,
             provenance: dict, per_epoch: int) -> dict:
    last = {**history[-1], **test}
    train_seconds = sum(row["train_seconds"] for row in history)
    return {
        "dataset": config.dataset, "model": config.model, "method": method_name(config),
        "optimizer": config.optimizer.name, "seed": config.seed, "epochs": config.epochs,
        **{k: last[k] for k in EVALUATION_COLUMNS}, "train_loss": last["train_loss"],
        "train_accuracy": last["train_accuracy"],
        "wall_time_s": train_seconds + sum(row["eval_seconds"] for row in history),
        "seconds_per_epoch": train_seconds / len(history),
        "images_per_second": (sum(row["images"] for row in history) / train_seconds
                              if train_seconds else math.nan),
        "steps_per_epoch": per_epoch,
        "parameters": sum(p.numel() for p in model.parameters()),
        **provenance, "config_digest": config.digest(), **config.tags,
    }


def _restore(out: Path, rt: Runtime, optimizer, scheduler) -> _Position | None:
    """Every process loads the one checkpoint: the shared weights, optimizer and schedule,
    and its own RNG state and running sums."""
    path = out / checkpoint.CHECKPOINT
    if not path.exists():
        return None
    state = checkpoint.load(path, "checkpoint", "delete it to start the run over")
    if state.get("config_digest") != rt.spec.digest():
        raise checkpoint.CheckpointError(
            f"{path} belongs to a different configuration; delete it to start this run afresh "
            "(or point --out at the directory of the run it belongs to)")
    # (a checkpoint of the single-process format that preceded multi-process training)
    ranks = state.get("ranks") or [{"rng": state["rng"], "sums": state["sums"]}]
    if len(ranks) != rt.world.size:
        raise checkpoint.CheckpointError(
            f"{path} was written by {len(ranks)} processes; resume it with as many (one per "
            f"GPU), not {rt.world.size}, or delete it to start the run over")
    own = ranks[rt.world.rank]
    rt.model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(own["rng"]["cpu"])
    if rt.device.type == "cuda" and own["rng"].get("cuda") is not None:
        torch.cuda.set_rng_state(own["rng"]["cuda"], rt.device)
    sums = {k: v.to(rt.device) for k, v in own["sums"].items()}
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
