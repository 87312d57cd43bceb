"""Datasets as device-side batch loaders with a deterministic (seed, epoch, batch) contract.

    data = load_dataset("cifar10", root="data", device=device, seed=0, batch_size=128)
    for x, y in data.train.epoch(epoch, start=batch):  # resumes mid-epoch bit-identically
        ...

CIFAR, digits, MNIST-5k and synthetic data live on the device as uint8 tensors with batched
augmentation (``loader.py``); ImageNet uses DataLoader workers (``imagenet.py``).  Each
dataset's module registers how it is read in ``SOURCES``; importing them below fills it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..errors import DatasetError
from ..spec import dataset_options
from ..vocabulary import DATASETS
from . import cifar, digits, imagenet, mnist5k, synthetic  # noqa: F401 (they register)
from .base import Data, DatasetInfo, Loader, Request
from .loader import Augment, TensorLoader
from .sources import SOURCES, Source


def _source(name: str) -> Source:
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return SOURCES[name]


def load_dataset(name: str, *, root: str | Path = "data", download: bool = False,
                 device: torch.device | str = "cpu", seed: int = 0,
                 batch_size: int = 128, eval_batch_size: int | None = None, workers: int = 8,
                 options: Mapping[str, Any] | None = None) -> Data:
    """Load ``name`` with its train, test and train_eval loaders on ``device``.

    ``eval_batch_size`` defaults to ``batch_size`` (as in the reference); ``workers`` is used by
    ImageNet only; ``options`` are dataset-specific (``cafw.spec.DATASET_OPTIONS``; a bad one
    raises ``cafw.spec.ConfigError``).
    """
    loader = _source(name).load
    options = dataset_options(name, dict(options or {}))
    request = Request(root=Path(root), download=download, device=torch.device(device), seed=seed,
                      batch_size=batch_size, eval_batch_size=eval_batch_size or batch_size,
                      workers=workers)
    return loader(request, **options)


def write_small(name: str, root: str | Path, *, train_images: int, test_images: int,
                classes: int | None = None) -> Path:
    """Write a small copy of ``name`` under ``root`` in its real on-disk format, so that a
    rehearsal runs the real loader without the download (``classes``: ImageNet's; CIFAR's are
    fixed); return its folder."""
    writer = _source(name).write_small
    if writer is None:
        raise DatasetError(f"{name} does not live on disk: it needs no small copy")
    return writer(root, train_images=train_images, test_images=test_images, classes=classes)


def download(name: str, root: str | Path = "data") -> None:
    """Make ``name`` available under ``root`` (CIFAR is fetched; digits, MNIST-5k and
    synthetic data need nothing; ImageNet has to be obtained by hand, so for it this only
    checks the layout)."""
    fetch = _source(name).fetch
    if fetch is not None:
        fetch(Path(root))


__all__ = ["load_dataset", "download", "write_small", "SOURCES", "Source", "Data", "DatasetInfo",
           "DatasetError", "Loader", "TensorLoader", "Augment"]
