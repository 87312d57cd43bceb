"""Proximal SGD with singular-value soft-thresholding: the low-rank baseline.

After each SGD step every conv weight W (reshaped to (C_out, C_in*kh*kw)) is replaced by
U diag(max(S - lr * threshold, 0)) V^T, the proximal step of lr * threshold * ||W||_*.
The authors' ``Prox_SGD`` cannot be constructed as published (its constructor passes keyword
arguments that ``torch.optim.SGD`` rejects); this is the working version.  It costs one full
SVD per conv layer per step.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from .batching import same_shape_batches
from .sgd import SGD


class ProxSGD(SGD):
    """``torch.optim.SGD`` followed by singular-value soft-thresholding of 4-d (conv) weights.

    Args:
        lr, momentum, weight_decay: as in ``torch.optim.SGD``.
        threshold: the nuclear-norm strength lambda; singular values shrink by lr * lambda.
    """

    def __init__(self, params: Iterable, lr: float = 0.1, momentum: float = 0.9,
                 threshold: float = 1e-4, weight_decay: float = 0.0, *,
                 foreach: bool | None = None) -> None:
        if not threshold >= 0:
            raise ValueError(f"threshold must be >= 0, got {threshold}")
        self._default_threshold = threshold
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                         foreach=foreach)

    def add_param_group(self, param_group: dict) -> None:
        param_group.setdefault("threshold", self._default_threshold)
        super().add_param_group(param_group)

    @torch.no_grad()
    def step(self, closure=None):
        loss = super().step(closure)
        for group in self.param_groups:
            shrink = group["lr"] * group["threshold"]
            weights = [p for p in group["params"] if p.ndim == 4 and p.grad is not None]
            if shrink > 0 and weights:
                soft_threshold_singular_values(weights, shrink)
        return loss


def soft_threshold_singular_values(weights: list[Tensor], shrink: float) -> None:
    """In place: W <- U diag(relu(S - shrink)) V^T on each (C_out, -1) reshape."""
    for batch in same_shape_batches(weights):
        w = torch.stack([weights[i].reshape(weights[i].shape[0], -1) for i in batch])
        u, s, vh = torch.linalg.svd(w, full_matrices=False)
        shrunk = (u * (s - shrink).clamp_min_(0.0)[:, None, :]) @ vh
        for j, i in enumerate(batch):
            weights[i].copy_(shrunk[j].view_as(weights[i]))
