"""scikit-learn's bundled 8x8 handwritten digits: real images, no download, seconds to train.

The CSV is read directly: ``import sklearn.datasets`` costs ~2 s, paid by every one of the
pipeline's many short processes.  A test checks the result equals ``load_digits()``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import DatasetError
from ..extras import check_installed
from .base import Data, Request
from .loader import NO_AUGMENT, channel_stats, tensor_data
from .sources import SOURCES, Source
from .split import fixed_test_split, stratified_holdout

DIGITS_MAX_VALUE = 16
DIGITS_TRAIN_FRACTION = 0.7  # of every class; the rest is the test set


def read_digits() -> tuple[Tensor, Tensor]:
    """All 1797 images as uint8 (N, 1, 8, 8) with values 0..16, and int64 labels."""
    check_installed("sklearn")  # the digits ship with it
    package = Path(importlib.util.find_spec("sklearn").origin).parent
    path = package / "datasets" / "data" / "digits.csv.gz"
    if not path.is_file():
        raise DatasetError(f"scikit-learn's digits file is missing at {path}; reinstall "
                           f"scikit-learn (`pip install --force-reinstall scikit-learn`)")
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)  # 64 pixels, then the label
    return (torch.from_numpy(table[:, :-1].astype(np.uint8)).view(-1, 1, 8, 8),
            torch.from_numpy(table[:, -1]))


def load(request: Request, *, validation_size: int) -> Data:
    images, labels = read_digits()
    pool, test = fixed_test_split(labels, DIGITS_TRAIN_FRACTION)
    kept, held = stratified_holdout(labels[pool], validation_size, request.seed)
    train, val = pool[kept], pool[held]
    mean, std = channel_stats(images[train], DIGITS_MAX_VALUE)
    return tensor_data("digits", 10, (images[train], labels[train]), (images[val], labels[val]),
                       (images[test], labels[test]), request, mean=mean, std=std,
                       max_value=DIGITS_MAX_VALUE, augment=NO_AUGMENT)


SOURCES.add("digits", Source(load))
