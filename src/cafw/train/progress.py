"""What a running job shows: ``history.csv`` rewritten (atomically) after every epoch, and
optionally TensorBoard scalars in the run directory, so that a grid can be followed with

    tensorboard --logdir results/runs

TensorBoard is an optional extra (``pip install 'cafw[tensorboard]'``): it is imported only
when a run config asks for it.
"""

from __future__ import annotations

import math
from pathlib import Path

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
    purges the epochs it redoes)."""

    def __init__(self, out: Path, *, tensorboard: bool, first_epoch: int, write: bool = True):
        self.path = out / HISTORY if write else None
        self.writer = None
        if tensorboard and write:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise ConfigError("'tensorboard': true needs the tensorboard package; "
                                  "pip install 'cafw[tensorboard]' or set it to false") from None
            self.writer = SummaryWriter(str(out), purge_step=first_epoch + 1)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        if self.writer is not None:
            self.writer.close()

    def epoch_done(self, history: list[dict]) -> None:
        """Record the last row of ``history`` (every finished epoch, in order)."""
        if self.path is None:
            return
        write_records(history, self.path)
        if self.writer is not None:
            row = history[-1]
            for column, tag in SCALARS.items():
                if not math.isnan(row[column]):
                    self.writer.add_scalar(tag, row[column], row["epoch"])
            self.writer.flush()
