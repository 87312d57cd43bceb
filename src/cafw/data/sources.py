"""``SOURCES``: how each dataset of ``cafw.vocabulary.DATASETS`` is read, registered by its
module under the dataset's name; ``cafw.data`` calls nothing else that differs by dataset."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..registry import Registry
from .base import Data


@dataclass(frozen=True)
class Source:
    """How one dataset is read, and for one on disk, how it is made ready."""

    #: (request, **its options, validated by ``cafw.spec.DATASET_OPTIONS``) -> Data
    load: Callable[..., Data]
    #: on disk: make it available under a data root (CIFAR is fetched), or raise
    #: ``DatasetError`` saying how to (ImageNet is placed by hand)
    fetch: Callable[[Path], None] | None = None
    #: on disk: write a small copy under a data root in its on-disk format, for rehearsals:
    #: (root, *, train_images, test_images, classes) -> its folder
    write_small: Callable[..., Path] | None = None


SOURCES: Registry[Source] = Registry("dataset")
