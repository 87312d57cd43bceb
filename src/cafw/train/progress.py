"""What a running job shows: ``history.csv`` rewritten (atomically) after every epoch;
optionally TensorBoard scalars in the run directory and Weights & Biases runs, with the same
scalars, so that a grid can be followed with

    tensorboard --logdir results/runs
    wandb sync results/runs/*/wandb/offline-run-*     # W&B is offline unless WANDB_MODE says

and, in a log that is not a terminal (a Slurm job's), a progress line every
``progress_seconds`` (``Heartbeat``).  TensorBoard and W&B are optional extras
(``pip install 'cafw[tensorboard]'``, ``'cafw[wandb]'``), imported only when a run asks.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ..errors import ConfigError
from ..io import write_records
from .checkpoint import HISTORY

# history column -> TensorBoard tag
SCALARS = {"train_loss": "loss/train", "val_loss": "loss/val",
           "train_accuracy": "accuracy/train", "val_accuracy": "accuracy/val",
           "lr": "lr", "step_size": "sfw/step_size", "fw_gap": "sfw/fw_gap"}


class Progress:
    """Writes the rows of finished epochs into ``out`` as training goes (if ``write``: the
    main process); ``tensorboard`` adds an event file there (one per session; a resumed run
    purges the epochs it redoes); ``wandb`` a W&B run in ``out/wandb`` (one per run directory
    and config: a resumed run continues it), with ``config`` as its config."""

    def __init__(self, out: Path, *, tensorboard: bool, first_epoch: int, write: bool = True,
                 wandb: bool = False, config: dict | None = None):
        self.path = out / HISTORY if write else None
        self.writer = self.wandb = None
        if tensorboard and write:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise ConfigError("'tensorboard': true needs the tensorboard package; "
                                  "pip install 'cafw[tensorboard]' or set it to false") from None
            self.writer = SummaryWriter(str(out), purge_step=first_epoch + 1)
        if wandb and write:
            self.wandb = _wandb_run(out, config or {})

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.wandb is not None:
            self.wandb.finish(exit_code=1 if exc[0] is not None else 0)

    def epoch_done(self, history: list[dict]) -> None:
        """Record the last row of ``history`` (every finished epoch, in order)."""
        if self.path is None:
            return
        write_records(history, self.path)
        row = history[-1]
        scalars = {tag: row[column] for column, tag in SCALARS.items()
                   if not math.isnan(row[column])}
        if self.writer is not None:
            for tag, value in scalars.items():
                self.writer.add_scalar(tag, value, row["epoch"])
            self.writer.flush()
        if self.wandb is not None:
            self.wandb.log(scalars, step=row["epoch"])


def _wandb_run(out: Path, config: dict):
    """A W&B run for the run directory ``out``: offline unless WANDB_MODE says otherwise,
    project WANDB_PROJECT (default cafw), its id fixed by the directory's name and the run's
    config so that a resumed job continues it."""
    try:
        import wandb
    except ImportError:
        raise ConfigError("'wandb': true needs the wandb package; pip install 'cafw[wandb]' or "
                          "set it to false") from None
    digest = hashlib.sha256(repr(sorted(config.items())).encode()).hexdigest()[:8]
    run_id = f"{re.sub(r'[^A-Za-z0-9_-]', '_', out.name)[:56]}-{digest}"
    return wandb.init(project=os.environ.get("WANDB_PROJECT", "cafw"), id=run_id,
                      name=out.name, dir=str(out), config=config, resume="allow",
                      mode=os.environ.get("WANDB_MODE", "offline"))


class Heartbeat:
    """A progress line every ``interval`` seconds, for a log that is not a terminal: epoch,
    step of steps, images per second, the epoch's running training loss, learning rate and
    the run's ETA (at the rate of this session's steps, evaluation left out).  The loss is
    read only then: one host sync per line, none per step."""

    def __init__(self, interval: float, log: Callable[[str], None], epochs: int,
                 per_epoch: int):
        self.interval, self.log, self.epochs, self.per_epoch = interval, log, epochs, per_epoch
        self.started = self.last = time.monotonic()
        self.steps = self.images = 0  # this session's steps; images since the last line

    def step(self, epoch: int, batch: int, images: int, sums: dict[str, torch.Tensor],
             lr: float) -> None:
        """After batch ``batch`` (1-based) of ``epoch`` (0-based), of ``images`` images."""
        self.steps += 1
        self.images += images
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        loss = (sums["loss"] / sums["count"]).item()
        remaining = (self.epochs - epoch) * self.per_epoch - batch
        eta = remaining * (now - self.started) / self.steps
        self.log(f"epoch {epoch + 1}/{self.epochs}  step {batch}/{self.per_epoch}  "
                 f"{self.images / (now - self.last):.0f} images/s  loss {loss:.4f}  "
                 f"lr {lr:.3g}  ETA {_duration(eta)}")
        self.last, self.images = now, 0


def _duration(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"
