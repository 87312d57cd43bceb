"""ImageNet (ILSVRC2012) as torchvision ImageFolders, decoded by DataLoader workers.

Too big to hold on the device, so this is the one dataset with a classic DataLoader.  The
sample order and batch boundaries follow the same (seed, epoch, batch) contract as the other
loaders, and each process of a multi-GPU run loads its slice of every batch, so resuming
mid-epoch sees the same images; the crops and flips drawn inside the workers are not
reproducible (their RNG depends on worker scheduling).

``image_size`` (default 224, the paper's) is the side of the training crops and the centre
crops of evaluation, after resizing the shorter side to 256/224 of it as the reference does;
a rehearsal trains ResNet-50 at a smaller one.  ``write_small`` writes a small ImageNet in the
same layout for rehearsals.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from ..errors import DatasetError
from ..extras import optional_dependency
from ..io import write_bytes
from .base import Data, DatasetInfo, Loader, Request, small_folder
from .sources import SOURCES, Source
from .split import per_class_holdout

#: the evaluation resize of the reference: the shorter side to 256 for a 224 crop
RESIZE_PER_CROP = 256 / 224
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
HOW_TO_GET = ("ImageNet cannot be downloaded automatically: obtain ILSVRC2012 from "
              "https://image-net.org and lay it out as ImageFolders "
              "<root>/imagenet/train/<class>/*.JPEG and <root>/imagenet/val/<class>/*.JPEG")


class _EpochBatches(Sampler[list[int]]):
    """The batches (sample indices) of the pass about to start; reassigned per pass, so
    persistent workers live across epochs."""

    def __init__(self):
        self.batches: list[list[int]] = []

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class FolderLoader(Loader):
    def __init__(self, dataset: Dataset, *, batch_size: int, seed: int, shuffle: bool,
                 device: torch.device, workers: int):
        super().__init__(len(dataset), batch_size, seed=seed, shuffle=shuffle, device=device)
        self._batches = _EpochBatches()
        self._loader = DataLoader(dataset, batch_sampler=self._batches, num_workers=workers,
                                  pin_memory=device.type == "cuda",
                                  persistent_workers=workers > 0)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        batches = self.order(epoch)[start * self.batch_size:].split(self.batch_size)
        parts = (batch[self.part(len(batch))] for batch in batches)
        self._batches.batches = [part.tolist() for part in parts if len(part)]
        for x, y in self._loader:
            yield (x.to(self.device, non_blocking=True, memory_format=self.memory_format()),
                   y.to(self.device, non_blocking=True))


def _folder(directory: Path, transform):
    with optional_dependency():
        from torchvision.datasets import ImageFolder

    if not directory.is_dir():
        raise DatasetError(f"ImageNet not found at {directory}; {HOW_TO_GET}")
    try:
        return ImageFolder(str(directory), transform=transform)
    except FileNotFoundError as e:  # no class folders, or no images in them
        raise DatasetError(f"ImageNet at {directory} is not an ImageFolder ({e}); "
                           f"{HOW_TO_GET}") from e


def load(request: Request, *, validation_per_class: int, image_size: int) -> Data:
    """ILSVRC2012's ``val`` folder is the test set; the validation split is a fixed subset of
    ``validation_per_class`` training images of every class.  The model sees
    ``image_size``-pixel squares."""
    with optional_dependency():
        from torchvision import transforms as T  # ~1.7 s to import, so only when needed

    normalize = [T.ToTensor(), T.Normalize(MEAN, STD)]
    train_tf = T.Compose([T.RandomResizedCrop(image_size), T.RandomHorizontalFlip(),
                          *normalize])
    test_tf = T.Compose([T.Resize(round(image_size * RESIZE_PER_CROP)),
                         T.CenterCrop(image_size), *normalize])
    root = request.root / "imagenet"
    pool, test = _folder(root / "train", train_tf), _folder(root / "val", test_tf)
    if pool.classes != test.classes:
        raise DatasetError(f"ImageNet train and val class folders under {root} differ "
                           f"({len(pool.classes)} vs {len(test.classes)} classes); {HOW_TO_GET}")
    unaugmented = copy.copy(pool)  # shares the file list: one scan of 1.28M files is enough
    unaugmented.transform = test_tf
    try:
        kept, held = per_class_holdout(torch.tensor(pool.targets), validation_per_class,
                                       request.seed)
    except ValueError as err:
        raise DatasetError(f"ImageNet: {err} (dataset_options.validation_per_class)") from None
    kept, held = kept.tolist(), held.tolist()
    train, val = Subset(pool, kept), Subset(unaugmented, held)
    train_eval = Subset(unaugmented, kept)

    def loader(dataset: Dataset, batch_size: int, shuffle: bool) -> FolderLoader:
        return FolderLoader(dataset, batch_size=batch_size, seed=request.seed, shuffle=shuffle,
                            device=request.device, workers=request.workers)

    info = DatasetInfo("imagenet", len(pool.classes), (3, image_size, image_size), len(train),
                       len(val), len(test))
    return Data(info, train=loader(train, request.batch_size, True),
                val=loader(val, request.eval_batch_size, False),
                test=loader(test, request.eval_batch_size, False),
                train_eval=loader(train_eval, request.eval_batch_size, False))


def write_small(root: str | Path, *, classes: int | None, train_images: int,
                test_images: int, seed: int = 0) -> Path:
    """A small ImageNet under ``root`` in the layout ``load`` reads, for rehearsals:
    ``imagenet/{train,val}/<wnid>/*.JPEG`` named as ILSVRC2012's files (``<wnid>_<n>.JPEG``;
    ``ILSVRC2012_val_<n>.JPEG`` once sorted into class folders), JPEGs of several sizes and
    aspect ratios, one of each split in grayscale as a few of ILSVRC2012's are; the images go
    round the classes.  Returns the ``imagenet`` folder."""
    with optional_dependency():
        from PIL import Image

    if classes is None:
        raise DatasetError("a small ImageNet needs its number of classes")
    if min(train_images, test_images) < classes:
        raise DatasetError(f"a small ImageNet of {classes} classes needs at least {classes} "
                           f"images per split, one per class; got {train_images} training and "
                           f"{test_images} test images")
    rng = np.random.default_rng(seed)
    folder = small_folder(Path(root) / "imagenet", "ImageNet")
    wnids = [f"n{i:08d}" for i in range(1, classes + 1)]
    colours = rng.integers(0, 256, (classes, 3))
    for split, count in (("train", train_images), ("val", test_images)):
        for i in range(count):
            label = i % classes
            height, width = rng.integers(40, 97, 2)
            pixels = colours[label] + rng.normal(0, 40, (height, width, 3))
            image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
            if i == count - 1:
                image = image.convert("L")
            name = (f"{wnids[label]}_{i + 1}.JPEG" if split == "train"
                    else f"ILSVRC2012_val_{i + 1:08d}.JPEG")
            encoded = io.BytesIO()
            image.save(encoded, "JPEG", quality=90)
            write_bytes(folder / split / wnids[label] / name, encoded.getvalue())
    return folder


def check_placed(root: Path) -> None:
    """ImageNet cannot be fetched: raise ``DatasetError`` saying how to get it unless it is
    laid out under ``root``."""
    folders = [Path(root) / "imagenet" / split for split in ("train", "val")]
    if not all(f.is_dir() and any(d.is_dir() for d in f.iterdir()) for f in folders):
        raise DatasetError(f"{HOW_TO_GET} (expected under {Path(root) / 'imagenet'})")


SOURCES.add("imagenet", Source(load, fetch=check_placed, write_small=write_small))
