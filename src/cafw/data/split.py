"""The validation split: held out from the training data, so that every selection (learning
rates, penalty strengths, the best method at a ratio) reads validation accuracy and the test
set is only ever reported.

The split is stratified by class and drawn with the run's seed: each seed trains and
validates on its own split of the same training pool, so that a choice averaged over seeds
averages over data sampling too, not only over initialisations and data orders (Bouthillier
et al., "Accounting for Variance in Machine Learning Benchmarks", MLSys 2021).  Two runs of
one seed (two methods, say) share their split, so comparisons paired by seed stay paired.
The test set does not depend on the seed.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def fixed_test_split(labels: Tensor, train_fraction: float) -> tuple[Tensor, Tensor]:
    """Sorted (train pool, test) indices of a dataset that ships without a test split: per
    class a fixed shuffle (seed 0, never the run's), its first ``train_fraction`` for the
    pool from which each run holds out its validation split, the rest for the test set, so
    that every run is tested on the same images."""
    rng = np.random.default_rng(0)
    train, test = [], []
    for c in np.unique(labels.numpy()):
        members = rng.permutation(np.flatnonzero(labels.numpy() == c))
        cut = round(train_fraction * len(members))
        train.append(members[:cut])
        test.append(members[cut:])
    return (torch.from_numpy(np.sort(np.concatenate(train))),
            torch.from_numpy(np.sort(np.concatenate(test))))


def stratified_holdout(labels: Tensor, size: int, seed: int) -> tuple[Tensor, Tensor]:
    """Sorted (kept, held-out) indices with ``size`` samples held out, each class in
    proportion to its frequency (largest remainders first, so the sizes add up exactly),
    drawn with ``seed``."""
    classes, counts = np.unique(labels.numpy(), return_counts=True)
    if not 0 < size < len(labels):
        raise ValueError(f"a validation split of {size} from {len(labels)} training samples is "
                         f"impossible; choose a size in [1, {len(labels) - 1}]")
    share = size * counts / len(labels)
    take = np.floor(share).astype(int)
    take[np.argsort(-(share - take), kind="stable")[:size - take.sum()]] += 1
    return _hold_out(labels, dict(zip(classes, take)), seed)


def per_class_holdout(labels: Tensor, per_class: int, seed: int) -> tuple[Tensor, Tensor]:
    """Sorted (kept, held-out) indices with ``per_class`` samples of every class held out,
    drawn with ``seed``."""
    classes, counts = np.unique(labels.numpy(), return_counts=True)
    if per_class >= counts.min():
        raise ValueError(f"cannot hold out {per_class} images per class: the smallest class "
                         f"has {counts.min()}")
    return _hold_out(labels, dict.fromkeys(classes, per_class), seed)


def _hold_out(labels: Tensor, take: dict, seed: int) -> tuple[Tensor, Tensor]:
    labels = labels.numpy()
    rng = np.random.default_rng(seed)
    held = np.sort(np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:n]
                                   for c, n in take.items()]))
    return torch.from_numpy(np.setdiff1d(np.arange(len(labels)), held)), torch.from_numpy(held)
