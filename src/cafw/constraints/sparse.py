"""Unstructured sparsity-inducing sets: the k-sparse polytope and the k-support norm ball."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import Constraint, Shape, inverse_or_zero, k_support_norm, top_k_mask


class KSparsePolytope(Constraint):
    """conv{x in {0, +-r}^n : ||x||_0 = k} = {||x||_inf <= r, ||x||_1 <= k r}
    (Pokutta et al. 2020; Miao et al. 2022).  ``radius`` is the per-coordinate bound r.

    LMO: -r * sign(g_i) on the k largest |g_i|, 0 elsewhere.
    """

    family = "k_sparse"

    def diameter_per_radius(self, shape: Shape | None) -> float:
        if shape is None and not isinstance(self.k, int):
            raise ValueError("the diameter of a k-sparse polytope with a fractional k depends "
                             "on the tensor size; build it with shape=")
        k = self.k if shape is None else self.k_for(shape)
        return 2.0 * math.sqrt(k)  # every vertex has L2 norm r * sqrt(k)

    def _norm(self, x: Tensor, k: int) -> Tensor:
        flat = x.flatten(1)
        return torch.maximum(flat.abs().amax(dim=1), flat.abs().sum(dim=1) / k)

    def _dual_norm(self, g: Tensor, k: int) -> Tensor:
        return g.flatten(1).abs().topk(k, dim=1).values.sum(dim=1)

    def _lmo(self, g: Tensor, radius: Tensor, k: int, state: dict | None) -> Tensor:
        flat = g.flatten(1)
        keep = top_k_mask(flat.abs(), k)
        v = torch.sign(flat).mul_(keep).mul_(-radius[:, None])
        return v.view_as(g)


class KSupportNormBall(Constraint):
    """conv{x : ||x||_0 <= k, ||x||_2 <= radius} (Argyriou et al. 2012), proposed by the paper
    for unstructured pruning.

    LMO: keep the k largest |g_i| and scale that vector to norm radius, negated.
    """

    family = "k_support"

    def _norm(self, x: Tensor, k: int) -> Tensor:
        return k_support_norm(x.flatten(1), k)

    def _dual_norm(self, g: Tensor, k: int) -> Tensor:
        return g.flatten(1).abs().topk(k, dim=1).values.square().sum(dim=1).sqrt()

    def _lmo(self, g: Tensor, radius: Tensor, k: int, state: dict | None) -> Tensor:
        flat = g.flatten(1)
        kept = flat * top_k_mask(flat.abs(), k)
        scale = -radius * inverse_or_zero(torch.linalg.vector_norm(kept, dim=1))
        return kept.mul_(scale[:, None]).view_as(g)
