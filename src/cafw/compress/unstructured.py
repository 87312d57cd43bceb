"""Global magnitude pruning over all Conv2d and Linear weights, as the authors' ``IMP``.

Exactly ``round(ratio * N)`` of the N prunable weights, those of smallest magnitude across all
layers, are set to 0, as ``prune.global_unstructured(..., L1Unstructured)`` does.  Biases and
BatchNorm parameters are never pruned.  One sort serves every ratio of a sweep: a ratio's
pruned set is a prefix of the ascending magnitude order.
"""

from __future__ import annotations

import torch
from torch import nn

from .compressor import Compressor


def prunable_weights(model: nn.Module) -> dict[str, nn.Parameter]:
    return {f"{name}.weight": m.weight for name, m in model.named_modules()
            if isinstance(m, (nn.Conv2d, nn.Linear))}


class MagnitudePruner(Compressor):
    """The global magnitude order, sorted once; ``apply(ratio)`` starts from the trained
    weights each time, ``restore()`` puts them back.  The deployable model is the masked one:
    a sparse model is smaller or faster only with sparse storage and kernels."""

    kind = "unstructured"

    def __init__(self, model: nn.Module):
        super().__init__(model, prunable_weights(model))
        flat = torch.cat([w.flatten() for w in self.dense.values()])
        # Stable: ties (notably weights a sparse training already zeroed) go in a fixed order.
        self.order = flat.abs().argsort(stable=True)
        self.total = len(flat)

    def count(self, ratio: float) -> int:
        # Python's round, as torch.nn.utils.prune._compute_nparams_toprune.
        return round(ratio * self.total)

    @torch.no_grad()
    def apply(self, ratio: float) -> int:
        keep = torch.ones(self.total, dtype=torch.bool, device=self.order.device)
        pruned = self.count(ratio)
        keep[self.order[:pruned]] = False
        start = 0
        for name, w in self.weights.items():
            n = w.numel()
            # flatten() above followed each tensor's logical order, so view the mask the same
            # way (reshape, not a memory view) before applying it.
            w.copy_(self.dense[name] * keep[start:start + n].reshape(w.shape))
            start += n
        return pruned


def unstructured_prune(model: nn.Module, ratio: float) -> int:
    """Zero the ``round(ratio * N)`` smallest-magnitude Conv2d/Linear weights of ``model`` in
    place; returns how many were pruned."""
    return MagnitudePruner(model).apply(ratio)
