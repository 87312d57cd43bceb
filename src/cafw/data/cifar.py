"""CIFAR-10/100 from torchvision's on-disk layout, checksum-verified, held on the device.

Every file's MD5 is checked before anything is unpickled: the batches are pickles, and
unpickling a tampered or truncated file can run code or die deep inside pickle.  Only a copy
that no published checksum describes (a rehearsal's small one, ``write_small``) is read with
``checksums: skip``, which the run's log then says.
"""

from __future__ import annotations

import hashlib
import pickle
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import DatasetError
from ..extras import optional_dependency
from ..io import atomic_write
from ..spec import SKIP_CHECKSUMS
from .base import Data, Request, small_folder
from .loader import Augment, tensor_data
from .sources import SOURCES, Source
from .split import stratified_holdout

#: the side of CIFAR's square images
SIDE = 32


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
    meta_file: str  # the label names
    label_names: dict[bytes, int]  # meta's key -> number of names (CIFAR-100: fine and coarse)


VARIANTS = {
    "cifar10": Cifar(
        title="CIFAR-10", folder="cifar-10-batches-py",
        train_files=tuple(f"data_batch_{i}" for i in range(1, 6)), test_files=("test_batch",),
        torchvision_class="CIFAR10", label_key=b"labels", num_classes=10,
        mean=(0.4914, 0.4822, 0.4465), std=(0.2023, 0.1994, 0.2010),
        augment=Augment(crop_padding=4, flip=True), meta_file="batches.meta",
        label_names={b"label_names": 10}),
    "cifar100": Cifar(
        title="CIFAR-100", folder="cifar-100-python", train_files=("train",),
        test_files=("test",), torchvision_class="CIFAR100", label_key=b"fine_labels",
        num_classes=100, mean=(0.5071, 0.4867, 0.4408), std=(0.2675, 0.2565, 0.2761),
        augment=Augment(crop_padding=4, flip=True, rotate_degrees=15), meta_file="meta",
        label_names={b"fine_label_names": 100, b"coarse_label_names": 20}),
}
#: CIFAR-100's 100 fine classes fall into 20 coarse ones, five each
FINE_PER_COARSE = 5


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


def _verify(directory: Path, name: str, checksums: Mapping[str, str] | None) -> None:
    """Every file is there and, unless ``checksums`` is None, has its MD5."""
    variant = VARIANTS[name]
    files = variant.train_files + variant.test_files
    if checksums is not None and (unlisted := [f for f in files if f not in checksums]):
        raise DatasetError(f"the checksum table for {variant.title} lacks {', '.join(unlisted)}")
    if missing := [f for f in files if not (directory / f).is_file()]:
        raise DatasetError(f"{variant.title} not found at {directory} (missing "
                           f"{', '.join(missing)}); {_fix(name, directory.parent)}")
    for file in files if checksums is not None else ():
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
    return batch[b"data"].reshape(-1, 3, SIDE, SIDE), np.asarray(batch[label_key])


def read_cifar(directory: str | Path, name: str,
               checksums: Mapping[str, str] | str | None = None
               ) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """``((train_images, train_labels), (test_images, test_labels))`` from ``directory``.

    Images are uint8 (N, 3, 32, 32), labels int64.  ``checksums`` maps each batch file's name
    to its MD5 (default: torchvision's table); ``"skip"`` checks only that the
    files are there, with a warning that says so.
    """
    directory, variant = Path(directory), VARIANTS[name]
    if checksums == SKIP_CHECKSUMS:
        _verify(directory, name, None)
        warnings.warn(f"{variant.title} under {directory}: checksums not checked "
                      "(dataset_options.checksums: skip)", stacklevel=2)
    else:
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


def write_small(name: str, root: str | Path, *, train_images: int, test_images: int,
                classes: int | None = None, seed: int = 0) -> Path:
    """A small copy of ``name`` under ``root`` in the layout that torchvision's archive
    extracts to (its train and test files, pickled as the originals with bytes keys, and the
    meta file of label names), for rehearsals; returns its folder.

    The images are noise around a colour per class, so that a model can learn something; the
    labels go round the classes in a shuffled order.  No published checksum describes these
    files: runs read them with ``checksums: skip``.  ``classes`` are CIFAR's own (the
    format fixes them): another number is an error.
    """
    variant, rng = VARIANTS[name], np.random.default_rng(seed)
    if classes not in (None, variant.num_classes):
        raise DatasetError(f"{variant.title} has {variant.num_classes} classes, not {classes}")
    colours = rng.integers(0, 256, (variant.num_classes, 3, 1))

    def write(file: str, data: dict) -> None:
        atomic_write(folder / file, lambda f: _Python2Pickler(f, protocol=2).dump(data),
                     binary=True)

    for files, count in ((variant.train_files, train_images), (variant.test_files, test_images)):
        if count < len(files):
            raise DatasetError(f"a small {variant.title} needs at least {len(files)} images "
                               f"per split, one for each of its files; got {count}")
    folder = small_folder(Path(root) / variant.folder, variant.title)
    for files, count in ((variant.train_files, train_images), (variant.test_files, test_images)):
        labels = rng.permutation(np.arange(count) % variant.num_classes)
        pixels = colours[labels] + rng.normal(0, 40, (count, 3, SIDE * SIDE))
        data = pixels.clip(0, 255).astype(np.uint8).reshape(count, -1)
        for file, part in zip(files, np.array_split(np.arange(count), len(files))):
            batch = {_Str("batch_label"): _Str(f"{file} of a small {variant.title}"),
                     _Str(variant.label_key.decode()): labels[part].tolist(),
                     _Str("data"): data[part],
                     _Str("filenames"): [_Str(f"small_{file}_{i}.png") for i in part]}
            if name == "cifar100":
                batch[_Str("coarse_labels")] = (labels[part] // FINE_PER_COARSE).tolist()
            write(file, batch)
    write(variant.meta_file, {_Str(key.decode()): [_Str(f"class_{i}") for i in range(count)]
                              for key, count in variant.label_names.items()})
    return folder


class _Str(str):
    """A Python 2 ``str``, as CIFAR's files (written by Python 2) hold their keys and names:
    it reads back as bytes with ``encoding="bytes"`` (``read_cifar``) and as str with
    ``encoding="latin1"`` (torchvision).  Python 3 pickles str as unicode, which reads back
    as str either way."""


class _Python2Pickler(pickle._Pickler):
    """Pickles ``_Str`` with protocol 2's string opcodes.  (The pure-Python pickler is the
    one whose dispatch table can be extended.)"""

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_python2_str(self, text: _Str) -> None:
        raw = text.encode("latin1")
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + len(raw).to_bytes(4, "little") + raw)
        self.memoize(text)

    dispatch[_Str] = _save_python2_str


def load(name: str, request: Request, validation_size: int,
         checksums: Mapping[str, str] | str | None) -> Data:
    """CIFAR ``name`` with ``validation_size`` training images held out, stratified;
    ``checksums``: ``{file: md5}`` replacing torchvision's (for tests and custom copies), or
    ``"skip"``."""
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


for _name in VARIANTS:  # each variant is a dataset of its own name
    SOURCES.add(_name, Source(partial(load, _name), fetch=partial(download, _name),
                              write_small=partial(write_small, _name)))
