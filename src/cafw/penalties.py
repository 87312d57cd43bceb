"""Regularizers added to the loss of the SGD baselines.

Both act on Conv2d weights only, as in the authors' code: the filter group lasso is the
unweighted sum of output-filter L2 norms; the nuclear-norm penalty sums the nuclear norms of
the (C_out, C_in*kh*kw) reshapes and differentiates through a full SVD every step, which is
what makes this baseline expensive.  Each registers in ``TERMS`` under its name in
``cafw.vocabulary.PENALTIES``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from .optim.batching import same_shape_batches
from .registry import Registry

#: penalty type -> its term: model -> penalty tensor
TERMS: Registry[Callable[[nn.Module], Tensor]] = Registry("penalty")


def conv_weights(model: nn.Module) -> list[Tensor]:
    return [m.weight for m in model.modules() if isinstance(m, nn.Conv2d)]


@TERMS.register("group_lasso")
def filter_group_lasso(model: nn.Module) -> Tensor:
    """sum over conv layers and output filters f of ||W_f||_2."""
    return sum(torch.linalg.vector_norm(w.flatten(1), dim=1).sum() for w in conv_weights(model))


@TERMS.register("nuclear")
def nuclear_norm(model: nn.Module) -> Tensor:
    """sum over conv layers of ||reshape(W)||_* (full SVD through autograd)."""
    weights = [w.flatten(1) for w in conv_weights(model)]
    total = weights[0].new_zeros(())
    for batch in same_shape_batches(weights):
        stacked = torch.stack([weights[i] for i in batch])
        total = total + torch.linalg.matrix_norm(stacked, ord="nuc").sum()
    return total

