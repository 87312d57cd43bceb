"""How to batch many small matrix factorizations on a device."""

from __future__ import annotations

from collections import defaultdict

from torch import Tensor


def same_shape_batches(tensors: list[Tensor]) -> list[list[int]]:
    """Indices of ``tensors`` to factorize together.

    On CUDA, tensors of one shape form one batch (fewer launches).  On the CPU each tensor is
    its own batch: batched SVD/QR measured slower and erratic with MKL on a 2-core CPU.
    """
    if not tensors or tensors[0].device.type != "cuda":
        return [[i] for i in range(len(tensors))]
    batches: dict[tuple, list[int]] = defaultdict(list)
    for i, t in enumerate(tensors):
        batches[(tuple(t.shape), t.dtype)].append(i)
    return list(batches.values())
