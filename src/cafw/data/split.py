"""The validation split: held out from the training data, so that every selection (learning
rates, penalty strengths, the best method at a ratio) reads validation accuracy and the test
set is only ever reported.

The split is fixed per dataset (its own seed, never the run's), stratified by class, and
deterministic, so every run of a dataset trains, selects and tests on the same images.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

SPLIT_SEED = 0


def stratified_holdout(labels: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """Sorted (kept, held-out) indices with ``size`` samples held out, each class in
    proportion to its frequency (largest remainders first, so the sizes add up exactly)."""
    classes, counts = np.unique(labels.numpy(), return_counts=True)
    if not 0 < size < len(labels):
        raise ValueError(f"a validation split of {size} from {len(labels)} training samples is "
                         f"impossible; choose a size in [1, {len(labels) - 1}]")
    share = size * counts / len(labels)
    take = np.floor(share).astype(int)
    take[np.argsort(-(share - take), kind="stable")[:size - take.sum()]] += 1
    return _hold_out(labels, dict(zip(classes, take)))


def per_class_holdout(labels: Tensor, per_class: int) -> tuple[Tensor, Tensor]:
    """Sorted (kept, held-out) indices with ``per_class`` samples of every class held out."""
    classes, counts = np.unique(labels.numpy(), return_counts=True)
    if per_class >= counts.min():
        raise ValueError(f"cannot hold out {per_class} images per class: the smallest class "
                         f"has {counts.min()}")
    return _hold_out(labels, dict.fromkeys(classes, per_class))


def _hold_out(labels: Tensor, take: dict) -> tuple[Tensor, Tensor]:
    labels = labels.numpy()
    rng = np.random.default_rng(SPLIT_SEED)
    held = np.sort(np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:n]
                                   for c, n in take.items()]))
    return torch.from_numpy(np.setdiff1d(np.arange(len(labels)), held)), torch.from_numpy(held)
