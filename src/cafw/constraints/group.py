"""The group-k-support norm ball over output filters, proposed by the paper for filter pruning."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Constraint, Shape, inverse_or_zero, k_support_norm, top_k_mask


def _filters(x: Tensor) -> Tensor:
    """(B, C_out, ...) -> (B, C_out, rest): one row per output filter."""
    return x.reshape(x.shape[0], x.shape[1], -1)


class GroupKSupportNormBall(Constraint):
    """conv{W : at most k nonzero output filters (dim 0), ||W||_F <= radius}.

    Its gauge is the k-support norm of the vector of filter L2 norms.  LMO: keep the k filters
    of g with the largest L2 norm and scale them to Frobenius norm radius, negated.
    """

    family = "group_k_support"
    k_counts = "output filters"

    def check_shape(self, shape: Shape) -> None:
        if len(shape) < 2:
            raise ValueError(f"GroupKSupportNormBall groups the output filters (dim 0) of a "
                             f"weight with >= 2 dims (a Conv2d weight); got shape {shape}. "
                             "Give 1-d tensors (biases, BatchNorm) an L2Ball")

    def count(self, shape: Shape) -> int:
        return shape[0]

    def _norm(self, x: Tensor, k: int) -> Tensor:
        return k_support_norm(torch.linalg.vector_norm(_filters(x), dim=2), k)

    def _dual_norm(self, g: Tensor, k: int) -> Tensor:
        norms = torch.linalg.vector_norm(_filters(g), dim=2)
        return norms.topk(k, dim=1).values.square().sum(dim=1).sqrt()

    def _lmo(self, g: Tensor, radius: Tensor, k: int, state: dict | None) -> Tensor:
        rows = _filters(g)
        filter_norms = torch.linalg.vector_norm(rows, dim=2)
        keep = top_k_mask(filter_norms, k)
        kept_norm = filter_norms.square().mul_(keep).sum(dim=1).sqrt()
        scale = keep * (-radius * inverse_or_zero(kept_norm))[:, None]
        return (rows * scale[:, :, None]).view_as(g)
