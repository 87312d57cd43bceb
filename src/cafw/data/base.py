"""What a loaded dataset is, and the determinism contract every loader keeps.

A loader's batch ``i`` of epoch ``e`` depends only on ``(seed, e, i)``: the epoch's order comes
from a generator seeded with ``(seed, e)`` and a batch's augmentation from one seeded with
``(seed, e, i)``.  No RNG state has to be saved, and ``epoch(e, start=s)`` resumes a preempted
run mid-epoch with the very batches it would have seen.

With several processes (torchrun) the contract is keyed by ``(seed, e, i, rank)``: every
process draws batch ``i``'s order and augmentation for the whole batch, exactly as one process
does, and keeps its own contiguous slice (``rank`` of ``processes``; ``cafw.runtime`` sets
them).  The slices together are the single-process batch, so the data seen per step do not
depend on the number of processes.
"""

from __future__ import annotations

import itertools
import math
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import DatasetError


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    num_classes: int
    input_shape: tuple[int, int, int]  # (C, H, W) of one model input
    train_size: int
    val_size: int
    test_size: int


@dataclass(frozen=True)
class Request:
    """How the caller wants a dataset loaded (the arguments of ``load_dataset``)."""

    root: Path
    download: bool
    device: torch.device
    seed: int
    batch_size: int
    eval_batch_size: int
    workers: int


def generator(*key: int) -> torch.Generator:
    """A CPU generator seeded from ``key``.

    ``SeedSequence`` hashes the parts, so (seed, epoch) and (seed, epoch, batch) streams are
    unrelated, unlike ``seed + epoch``-style arithmetic.  Drawing on the CPU keeps the batches
    the same on every device.
    """
    seed = int(np.random.SeedSequence(key).generate_state(1, np.uint64)[0])
    return torch.Generator().manual_seed(seed)


class Loader(ABC):
    """Batches of one split; ``len`` counts the last partial batch (no drop_last)."""

    def __init__(self, num_samples: int, batch_size: int, *, seed: int, shuffle: bool,
                 device: torch.device | str):
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.device = torch.device(device)
        self.channels_last = False
        self.rank, self.processes = 0, 1  # this process's slice of every batch

    def __len__(self) -> int:
        return math.ceil(self.num_samples / self.batch_size)

    def batch_length(self, i: int) -> int:
        """The number of samples of batch ``i``, all processes together."""
        return min(self.batch_size, self.num_samples - i * self.batch_size)

    def part(self, n: int) -> slice:
        """This process's slice of a batch of ``n`` samples: contiguous, and ``n /
        processes`` samples long when that divides (otherwise the lengths differ by one)."""
        return slice(n * self.rank // self.processes, n * (self.rank + 1) // self.processes)

    def order(self, epoch: int) -> Tensor:
        """The sample order of ``epoch`` (CPU int64)."""
        if not self.shuffle:
            return torch.arange(self.num_samples)
        return torch.randperm(self.num_samples, generator=generator(self.seed, epoch))

    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def endless(self) -> Iterator[tuple[Tensor, Tensor]]:
        """The batches of epochs 0, 1, 2, ... one after another: for whoever needs more steps
        than one epoch may have (benchmarks, checks)."""
        return itertools.chain.from_iterable(self.epoch(e) for e in itertools.count())

    @abstractmethod
    def epoch(self, epoch: int, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        """``(x, y)`` on the device for batches ``start, start + 1, ...`` of ``epoch`` (this
        process's slice of each; an empty slice is skipped)."""


@dataclass(frozen=True)
class Data:
    info: DatasetInfo
    train: Loader  # augmented, shuffled
    val: Loader  # held out from the training data (``split.py``); every selection reads it
    test: Loader  # no augmentation, fixed order; only ever reported
    train_eval: Loader  # the training set like ``test`` (BatchNorm recalibration, train metrics)

    @property
    def evaluation(self) -> dict[str, Loader]:
        """The splits a model is scored on, by the prefix of their table columns."""
        return {"val": self.val, "test": self.test}


#: beside a folder that ``small_folder`` handed out: it holds a small copy, not the dataset
SMALL_MARKER = ".{}.written-by-cafw"


def small_folder(folder: Path, title: str) -> Path:
    """``folder``, emptied, to write a small copy of ``title`` into (a rehearsal's): refused
    where it holds something that no such writer wrote, the real dataset perhaps."""
    marker = folder.parent / SMALL_MARKER.format(folder.name)
    if folder.exists():
        if not marker.exists():
            raise DatasetError(f"{folder} already exists and was not written by cafw's small "
                               f"{title} writer (the real dataset?); write the small copy "
                               "under another data root (a rehearsal's config sets its own)")
        shutil.rmtree(folder)  # an earlier small copy, perhaps of other sizes
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return folder
