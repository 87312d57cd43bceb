"""ImageNet (ILSVRC2012) as torchvision ImageFolders, decoded by DataLoader workers.

Too big to hold on the device, so this is the one dataset with a classic DataLoader.  The
sample order and batch boundaries follow the same (seed, epoch, batch) contract as the other
loaders, and each process of a multi-GPU run loads its slice of every batch, so resuming
mid-epoch sees the same images; the crops and flips drawn inside the workers are not
reproducible (their RNG depends on worker scheduling).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from ..errors import DatasetError
from ..extras import optional_dependency
from .base import Data, DatasetInfo, Loader, Request
from .split import per_class_holdout

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


def load(request: Request, *, validation_per_class: int) -> Data:
    """ILSVRC2012's ``val`` folder is the test set; the validation split is a fixed subset of
    ``validation_per_class`` training images of every class."""
    with optional_dependency():
        from torchvision import transforms as T  # ~1.7 s to import, so only when needed

    normalize = [T.ToTensor(), T.Normalize(MEAN, STD)]
    train_tf = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), *normalize])
    test_tf = T.Compose([T.Resize(256), T.CenterCrop(224), *normalize])
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

    info = DatasetInfo("imagenet", len(pool.classes), (3, 224, 224), len(train), len(val),
                       len(test))
    return Data(info, train=loader(train, request.batch_size, True),
                val=loader(val, request.eval_batch_size, False),
                test=loader(test, request.eval_batch_size, False),
                train_eval=loader(train_eval, request.eval_batch_size, False))
