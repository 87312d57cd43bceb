"""Random images with learnable labels, for tests and benchmarks.

The data come from a fixed seed, not the run's, so runs with different seeds see the same
dataset (as with real data).  A label is the argmax of a fixed random linear map of the image,
so a linear classifier can fit it exactly and a short training run shows a falling loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .base import Data, Request
from .loader import NO_AUGMENT, Augment, channel_stats, tensor_data
from .sources import SOURCES, Source

DATA_SEED = 0
AUGMENTS = {"none": NO_AUGMENT, "crop_flip": Augment(crop_padding=4, flip=True)}


def load(request: Request, *, shape: Sequence[int], num_classes: int, train_size: int,
         validation_size: int, test_size: int, augment: str) -> Data:
    """``shape`` is (C, H, W); ``augment`` is ``none`` or ``crop_flip`` (as CIFAR-10); the
    defaults and ranges are those of ``cafw.spec.SyntheticOptions``.  The validation images
    are drawn after the others, so the training and test images do not depend on their
    number."""
    g = torch.Generator().manual_seed(DATA_SEED)
    images = torch.randint(0, 256, (train_size + test_size, *shape), dtype=torch.uint8, generator=g)
    weights = torch.randn(images[0].numel(), num_classes, generator=g)
    val_images = torch.randint(0, 256, (validation_size, *shape), dtype=torch.uint8, generator=g)
    images = torch.cat([images, val_images])
    labels = torch.cat([((chunk.flatten(1).float() - 127.5) @ weights).argmax(1)
                        for chunk in images.split(4096)])  # bounded float copies
    train = images[:train_size], labels[:train_size]
    test_end = train_size + test_size
    mean, std = channel_stats(train[0], 255)
    return tensor_data("synthetic", num_classes, train, (images[test_end:], labels[test_end:]),
                       (images[train_size:test_end], labels[train_size:test_end]), request,
                       mean=mean, std=std, max_value=255, augment=AUGMENTS[augment])


SOURCES.add("synthetic", Source(load))
