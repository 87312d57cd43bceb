"""Lp norm balls (p = 1, 2, inf and general p >= 1) and the unconstrained set."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from .base import Constraint, Shape, inverse_or_zero


def _parse_p(p: float | str) -> float:
    if isinstance(p, str) and p.lower() in {"inf", "infinity"}:
        return math.inf
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not p >= 1:
        raise ValueError(f"p must be a number >= 1 or 'inf', got {p!r}")
    return float(p)


class LpBall(Constraint):
    """{x : ||x||_p <= radius} on the flattened tensor.

    LMO: v = -radius * sign(g) |g|^(q-1) / ||g||_q^(q-1) with 1/p + 1/q = 1; for p = 1 a single
    signed vertex at the largest |g_i|, for p = inf -radius * sign(g) (0 where g_i = 0).
    """

    def __init__(self, p: float | str = 2, *, radius: float,
                 shape: Sequence[int] | None = None) -> None:
        self.p = _parse_p(p)
        self.q = math.inf if self.p == 1 else 1.0 if self.p == math.inf else self.p / (self.p - 1)
        super().__init__(radius=radius, shape=shape)

    def diameter_per_radius(self, shape: Shape | None) -> float:
        if self.p <= 2:
            return 2.0
        if shape is None:
            raise ValueError(f"the diameter of an L{self.p:g} ball depends on the tensor size; "
                             "build it with shape=")
        n = math.prod(shape)
        return 2.0 * n ** (0.5 - (0.0 if self.p == math.inf else 1.0 / self.p))

    def batch_key(self, shape: Shape) -> tuple:
        return (type(self), shape, self.p)

    def _norm(self, x: Tensor, k: int) -> Tensor:
        return torch.linalg.vector_norm(x.flatten(1), ord=self.p, dim=1)

    def _dual_norm(self, g: Tensor, k: int) -> Tensor:
        return torch.linalg.vector_norm(g.flatten(1), ord=self.q, dim=1)

    def _lmo(self, g: Tensor, radius: Tensor, k: int, state: dict | None) -> Tensor:
        flat = g.flatten(1)
        if self.p == math.inf:
            v = torch.sign(flat).mul_(-radius[:, None])
        elif self.p == 1:
            i = flat.abs().argmax(dim=1, keepdim=True)
            peak = flat.gather(1, i)
            v = torch.zeros_like(flat).scatter_(1, i, -radius[:, None] * torch.sign(peak))
        elif self.p == 2:
            v = flat * (-radius * inverse_or_zero(torch.linalg.vector_norm(flat, dim=1)))[:, None]
        else:
            dual = torch.linalg.vector_norm(flat, ord=self.q, dim=1, keepdim=True)
            v = torch.sign(flat) * (flat.abs() * inverse_or_zero(dual)).pow(self.q - 1)
            v.mul_(-radius[:, None])
        return v.view_as(g)

    def __repr__(self) -> str:
        return super().__repr__().replace("(", f"(p={self.p:g}, ", 1)


class L1Ball(LpBall):
    family = "l1"

    def __init__(self, *, radius: float, shape: Sequence[int] | None = None) -> None:
        super().__init__(1, radius=radius, shape=shape)


class L2Ball(LpBall):
    family = "l2"

    def __init__(self, *, radius: float, shape: Sequence[int] | None = None) -> None:
        super().__init__(2, radius=radius, shape=shape)


class LInfBall(LpBall):
    family = "linf"

    def __init__(self, *, radius: float, shape: Sequence[int] | None = None) -> None:
        super().__init__(math.inf, radius=radius, shape=shape)


class Unconstrained:
    """The whole space.  It has no LMO, so Frank-Wolfe cannot train such a tensor; it exists
    so that code can mark parameters as free (SGD baselines) with the same vocabulary."""

    radius = math.inf
    diameter = math.inf
    grouping = "entries"

    def __init__(self, *, shape: Sequence[int] | None = None) -> None:
        self.shape = None if shape is None else tuple(shape)

    def norm(self, x: Tensor) -> Tensor:
        return torch.linalg.vector_norm(x)

    def shift_inside(self, x: Tensor) -> Tensor:
        return x

    def lmo(self, g: Tensor) -> Tensor:
        raise ValueError("Unconstrained has no linear minimization oracle (the minimum of a "
                         "linear function over the whole space is unbounded); give the tensor "
                         "a norm ball, or train it with SGD")

    def __repr__(self) -> str:
        return "Unconstrained()"
