"""CIFAR-10/100 from torchvision's on-disk layout, checksum-verified, held on the device.

Every file's MD5 is checked before anything is unpickled: the batches are pickles, and
unpickling a tampered or truncated file can run code or die deep inside pickle.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import DatasetError
from ..extras import optional_dependency
from .base import Data, Request
from .loader import Augment, tensor_data
from .split import stratified_holdout


@dataclass(frozen=True)
class Cifar:
    title: str
    folder: str  # under the data root, as torchvision extracts it
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    torchvision_class: str
    label_key: bytes
    num_classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    augment: Augment


VARIANTS = {
    "cifar10": Cifar(
        title="CIFAR-10", folder="cifar-10-batches-py",
        train_files=tuple(f"data_batch_{i}" for i in range(1, 6)), test_files=("test_batch",),
        torchvision_class="CIFAR10", label_key=b"labels", num_classes=10,
        mean=(0.4914, 0.4822, 0.4465), std=(0.2023, 0.1994, 0.2010),
        augment=Augment(crop_padding=4, flip=True)),
    "cifar100": Cifar(
        title="CIFAR-100", folder="cifar-100-python", train_files=("train",),
        test_files=("test",), torchvision_class="CIFAR100", label_key=b"fine_labels",
        num_classes=100, mean=(0.5071, 0.4867, 0.4408), std=(0.2675, 0.2565, 0.2761),
        augment=Augment(crop_padding=4, flip=True, rotate_degrees=15)),
}


def _torchvision_class(name: str):
    with optional_dependency():
        from torchvision import datasets  # ~1.7 s to import, so only when needed

    return getattr(datasets, VARIANTS[name].torchvision_class)


def _checksums(name: str) -> dict[str, str]:
    """torchvision's ``{file: md5}`` for the train and test files."""
    cls = _torchvision_class(name)
    return dict(cls.train_list + cls.test_list)


def _fix(name: str, root: Path) -> str:
    return (f"set `download: true` in the run config (or run "
            f"`cafw data download {name} --root {root}`)")


def _verify(directory: Path, name: str, checksums: Mapping[str, str]) -> None:
    variant = VARIANTS[name]
    files = variant.train_files + variant.test_files
    if unlisted := [f for f in files if f not in checksums]:
        raise DatasetError(f"the checksum table for {variant.title} lacks {', '.join(unlisted)}")
    if missing := [f for f in files if not (directory / f).is_file()]:
        raise DatasetError(f"{variant.title} not found at {directory} (missing "
                           f"{', '.join(missing)}); {_fix(name, directory.parent)}")
    for file in files:
        expected = checksums[file]
        with open(directory / file, "rb") as f:
            actual = hashlib.file_digest(f, "md5").hexdigest()
        if actual != expected:
            raise DatasetError(
                f"{variant.title} file {directory / file} is corrupt (MD5 {actual}, expected "
                f"{expected}); download it again: {_fix(name, directory.parent)}")


def _unpickle(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    return batch[b"data"].reshape(-1, 3, 32, 32), np.asarray(batch[label_key])


def read_cifar(directory: str | Path, name: str, checksums: Mapping[str, str] | None = None
               ) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """``((train_images, train_labels), (test_images, test_labels))`` from ``directory``.

    Images are uint8 (N, 3, 32, 32), labels int64.  ``checksums`` maps each batch file's name
    to its MD5 (default: torchvision's table).
    """
    directory, variant = Path(directory), VARIANTS[name]
    _verify(directory, name, _checksums(name) if checksums is None else checksums)

    def split(files: tuple[str, ...]) -> tuple[Tensor, Tensor]:
        images, labels = zip(*(_unpickle(directory / f, variant.label_key) for f in files))
        return (torch.from_numpy(np.concatenate(images)),
                torch.from_numpy(np.concatenate(labels).astype(np.int64)))

    return split(variant.train_files), split(variant.test_files)


def download(name: str, root: str | Path) -> None:
    """Fetch and extract ``name`` under ``root`` unless it is already there and intact."""
    root = Path(root)
    try:
        _verify(root / VARIANTS[name].folder, name, _checksums(name))
    except DatasetError:  # missing or corrupt
        _fetch(name, root)


def _fetch(name: str, root: Path) -> None:
    with optional_dependency():
        from torchvision.datasets.utils import download_and_extract_archive

    cls = _torchvision_class(name)
    try:  # verifies the archive's MD5 before extracting
        download_and_extract_archive(cls.url, str(root), filename=cls.filename, md5=cls.tgz_md5)
    except (OSError, RuntimeError) as e:  # network errors, bad archive checksum
        raise DatasetError(f"could not download {VARIANTS[name].title} from {cls.url} into "
                           f"{root}: {e}; check network access, or extract {cls.filename} "
                           f"there by hand") from e


def load(name: str, request: Request, validation_size: int,
         checksums: Mapping[str, str] | None) -> Data:
    variant = VARIANTS[name]
    if request.download:
        download(name, request.root)
    (images, labels), test = read_cifar(request.root / variant.folder, name, checksums)
    try:
        train, val = stratified_holdout(labels, validation_size, request.seed)
    except ValueError as err:
        raise DatasetError(f"{variant.title}: {err} (dataset_options.validation_size)") from None
    return tensor_data(name, variant.num_classes, (images[train], labels[train]),
                       (images[val], labels[val]), test, request, mean=variant.mean,
                       std=variant.std, max_value=255, augment=variant.augment)


def load_cifar10(request: Request, *, validation_size: int,
                 checksums: Mapping[str, str] | None) -> Data:
    """``validation_size`` training images are held out, stratified; ``checksums``:
    ``{file: md5}`` replacing torchvision's (for tests and custom copies)."""
    return load("cifar10", request, validation_size, checksums)


def load_cifar100(request: Request, *, validation_size: int,
                  checksums: Mapping[str, str] | None) -> Data:
    """As ``load_cifar10``."""
    return load("cifar100", request, validation_size, checksums)
