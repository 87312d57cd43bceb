"""Stochastic Frank-Wolfe (SFW) with momentum and learning-rate rescaling.

For every param group j with feasible set C_j (Euclidean diameter D_j), at step t
(method.md 2.1, as the authors' code does it):

    m_t   = g_t                                  (t = 0)
    m_t   = momentum * m_{t-1} + (1 - dampening) * g_t
    v_t   = argmin_{v in C_j} <m_t, v>           (the set's LMO)
    s_t   = ||m_t|| / ||theta_t - v_t||          rescale="gradient"
          = ||m_t|| / (D_j / 2)                  rescale="fast_gradient"
          = 1 / D_j                              rescale="diameter"
          = 1                                    rescale=None
    eta_t = clip(lr * s_t, 0, 1)
    theta_{t+1} = (1 - eta_t) theta_t + eta_t v_t

With gradient rescaling and no clipping the step has length lr * ||m_t||, like an SGD step,
which decouples the learning rate from the size of the set (Pokutta et al. 2020).

A group usually holds one tensor (``cafw.constraints.param_groups`` builds one per layer); a
group of several tensors is one set over all of them (global constraints).  The default
``foreach=True`` path stacks the groups whose sets differ only in radius into one batch, so
an LMO (top-k, norms, SVD or subspace iteration) runs once per distinct shape, and uses
``torch._foreach_*`` for momentum and the convex combination; it never synchronizes with the
device.  ``foreach=False`` treats one group at a time with per-tensor ops: the reference the
batched path is tested against.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.optim import Optimizer

from ..constraints.base import Constraint, ZERO_NORM, pack, packed_shape, unpack
from ..constraints.lp import Unconstrained

RESCALES = ("gradient", "fast_gradient", "diameter", None)


@dataclass
class _Unit:
    """The tensors of one param group that share one feasible set."""

    index: int
    group: dict
    params: list[Tensor]

    @property
    def constraint(self) -> Constraint:
        return self.group["constraint"]

    @property
    def shape(self) -> tuple[int, ...]:
        return packed_shape([tuple(p.shape) for p in self.params], self.constraint.grouping)


class SFW(Optimizer):
    """Stochastic Frank-Wolfe over per-group feasible sets (``group["constraint"]``).

    Args:
        params: param groups, each with a ``"constraint"`` (see
            ``cafw.constraints.param_groups``), or tensors sharing ``constraint``.
        lr: learning rate; multiplied by the rescaling factor and clipped to [0, 1].
        momentum: momentum factor mu in m = mu m + (1 - dampening) g.
        dampening: 0 (default) is the authors' heavy-ball form; ``dampening=momentum`` gives
            the exponential moving average of the predecessor library and Miao et al.
        rescale: "gradient", "fast_gradient", "diameter" or None.
        constraint: default set for groups that do not name one (must not depend on shape).
        foreach: batch equal-shaped groups and use ``torch._foreach_*`` (default True).
    """

    def __init__(self, params: Iterable, lr: float = 0.1, momentum: float = 0.9,
                 dampening: float = 0.0, rescale: str | None = "gradient", *,
                 constraint: Constraint | None = None, foreach: bool | None = None) -> None:
        _check_hyperparameters(lr, momentum, dampening, rescale)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, rescale=rescale,
                        constraint=constraint)
        self.foreach = True if foreach is None else bool(foreach)
        self._last: list[tuple[list[int], Tensor, Tensor]] = []
        self._radius_cache: dict[tuple, tuple[Tensor, Tensor]] = {}
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        _check_hyperparameters(group["lr"], group["momentum"], group["dampening"],
                               group["rescale"])
        constraint = group["constraint"]
        name = group.get("name", f"group {len(self.param_groups) - 1}")
        if constraint is None:
            raise ValueError(f"{name} has no 'constraint'; build the groups with "
                             "cafw.constraints.param_groups(model, family=...) or pass "
                             "SFW(..., constraint=L2Ball(radius=...))")
        if isinstance(constraint, Unconstrained):
            raise ValueError(f"{name} is Unconstrained, which has no LMO; SFW needs a bounded "
                             "set for every tensor (train free tensors with SGD)")
        shape = packed_shape([tuple(p.shape) for p in group["params"]], constraint.grouping)
        if constraint.shape is not None and constraint.shape != shape:
            raise ValueError(f"{name}: the constraint was built for shape {constraint.shape} "
                             f"but its tensors form shape {shape}")
        constraint.k_for(shape)  # raises early if k does not fit

    # -- step -----------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        units = self._units_with_grad()
        self._update_momentum(units)
        if self.foreach:
            buckets: dict[tuple, list[_Unit]] = defaultdict(list)
            for unit in units:
                buckets[self._bucket_key(unit)].append(unit)
            batches = list(buckets.values())
        else:
            batches = [[unit] for unit in units]
        self._last = [self._frank_wolfe_step(batch) for batch in batches]
        return loss

    def _units_with_grad(self) -> list[_Unit]:
        units = []
        for index, group in enumerate(self.param_groups):
            params = group["params"]
            if len(params) == 1:
                if params[0].grad is not None:
                    units.append(_Unit(index, group, params))
            elif any(p.grad is not None for p in params):
                units.append(_Unit(index, group, params))  # a set over all: missing grads = 0
        return units

    def _update_momentum(self, units: list[_Unit]) -> None:
        """m = g on the first step, then m = mu m + (1 - dampening) g."""
        fresh, running = [], defaultdict(lambda: ([], []))
        for unit in units:
            mu, damp = unit.group["momentum"], unit.group["dampening"]
            for p in unit.params:
                grad = p.grad if p.grad is not None else torch.zeros_like(p)
                state = self.state[p]
                if "momentum_buffer" not in state:
                    fresh.append((state, grad))
                else:
                    bufs, grads = running[(mu, 1.0 - damp, p.device, p.dtype)]
                    bufs.append(state["momentum_buffer"])
                    grads.append(grad)
        for state, grad in fresh:
            state["momentum_buffer"] = grad.detach().clone()
        for (mu, scale, _, _), (bufs, grads) in running.items():
            if self.foreach:
                torch._foreach_mul_(bufs, mu)
                torch._foreach_add_(bufs, grads, alpha=scale)
            else:
                for buf, grad in zip(bufs, grads):
                    buf.mul_(mu).add_(grad, alpha=scale)

    def _bucket_key(self, unit: _Unit) -> tuple:
        p = unit.params[0]
        return (unit.constraint.batch_key(unit.shape), unit.group["rescale"], p.dtype, p.device)

    def _frank_wolfe_step(self, units: list[_Unit]) -> tuple[list[int], Tensor, Tensor]:
        """One SFW step for units whose sets differ at most in radius."""
        constraint = units[0].constraint
        grouping = constraint.grouping
        first = units[0].params[0]
        momenta = _stack([pack([self.state[p]["momentum_buffer"] for p in u.params], grouping)
                          for u in units])
        params = _stack([pack(u.params, grouping) for u in units])
        radius, diameter = self._radius_and_diameter(units, first)

        lmo_state = self._gather_lmo_state(units)
        vertex = constraint._lmo(momenta, radius, constraint.k_for(units[0].shape), lmo_state)
        self._scatter_lmo_state(units, lmo_state)

        direction = (vertex - params).flatten(1)  # v - theta
        momenta = momenta.flatten(1)
        gap = -torch.linalg.vecdot(momenta, direction)  # <m, theta - v>
        rescale = units[0].group["rescale"]
        if rescale == "gradient":
            grad_norm = torch.linalg.vector_norm(momenta, dim=1)
            dist = torch.linalg.vector_norm(direction, dim=1)
            factor = torch.where(dist > ZERO_NORM, grad_norm / dist.clamp_min(ZERO_NORM), 0.0)
        elif rescale == "fast_gradient":
            factor = torch.linalg.vector_norm(momenta, dim=1) * (2.0 / diameter)
        elif rescale == "diameter":
            factor = 1.0 / diameter
        else:
            factor = torch.ones_like(radius)
        step_size = (factor * _learning_rates(units, first)).clamp_(0.0, 1.0)

        targets, vertices, weights = [], [], []
        for b, unit in enumerate(units):
            parts = unpack(vertex[b], unit.params, grouping)
            targets += unit.params
            vertices += parts
            weights += [step_size[b]] * len(parts)
        if self.foreach:
            torch._foreach_lerp_(targets, vertices, weights)
        else:
            for p, v, w in zip(targets, vertices, weights):
                p.lerp_(v, w)
        return [u.index for u in units], step_size, gap

    def _radius_and_diameter(self, units: list[_Unit], like: Tensor) -> tuple[Tensor, Tensor]:
        key = (tuple(id(u.constraint) for u in units), like.dtype, like.device)
        if key not in self._radius_cache:
            self._radius_cache[key] = (
                torch.tensor([u.constraint.radius for u in units], dtype=like.dtype,
                             device=like.device),
                torch.tensor([u.constraint.diameter_per_radius(u.shape) * u.constraint.radius
                              for u in units], dtype=like.dtype, device=like.device))
        return self._radius_cache[key]

    def _gather_lmo_state(self, units: list[_Unit]) -> dict:
        owners = [self.state[u.params[0]] for u in units]
        keys = set.intersection(*(set(s.get("lmo", {})) for s in owners))
        return {k: _stack([s["lmo"][k] for s in owners]) for k in keys}

    def _scatter_lmo_state(self, units: list[_Unit], lmo_state: dict) -> None:
        for b, unit in enumerate(units):
            self.state[unit.params[0]]["lmo"] = {k: v[b] for k, v in lmo_state.items()}

    # -- utilities ------------------------------------------------------------------------
    @torch.no_grad()
    def make_feasible(self) -> None:
        """Rescale every group's iterate into its set (the authors' shift_inside)."""
        for group in self.param_groups:
            grouping = group["constraint"].grouping
            packed = group["constraint"].shift_inside(pack(group["params"], grouping))
            for p, part in zip(group["params"], unpack(packed, group["params"], grouping)):
                p.copy_(part)

    def reset_momentum(self) -> None:
        for state in self.state.values():
            state.pop("momentum_buffer", None)

    def step_statistics(self) -> dict[str, Tensor]:
        """The last step's per-group effective step size eta and Frank-Wolfe gap
        <m, theta - v>, as device tensors of length len(param_groups) (NaN for groups
        without gradient).  Assembled on demand; no synchronization."""
        if not self._last:
            raise RuntimeError("step_statistics() is available after the first step()")
        like = self._last[0][1]
        index = torch.tensor([i for ids, _, _ in self._last for i in ids], device=like.device)
        out = {}
        for name, pos in (("step_size", 1), ("fw_gap", 2)):
            values = torch.full((len(self.param_groups),), float("nan"), dtype=like.dtype,
                                device=like.device)
            out[name] = values.index_copy_(0, index, torch.cat([t[pos] for t in self._last]))
        return out

    def state_dict(self) -> dict:
        # the sets are code, not state: keeping them out lets torch.load(weights_only=True)
        # read the checkpoint; load_state_dict keeps the sets the optimizer was built with
        state = super().state_dict()
        for group in state["param_groups"]:
            group.pop("constraint", None)
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        constraints = [group["constraint"] for group in self.param_groups]
        super().load_state_dict(state_dict)
        for group, constraint in zip(self.param_groups, constraints):
            group["constraint"] = constraint
        self._radius_cache.clear()


def _stack(tensors: list[Tensor]) -> Tensor:
    return tensors[0].unsqueeze(0) if len(tensors) == 1 else torch.stack(tensors)


def _learning_rates(units: list[_Unit], like: Tensor) -> Tensor | float:
    lrs = [u.group["lr"] for u in units]
    if all(isinstance(lr, float | int) for lr in lrs) and len(set(lrs)) == 1:
        return float(lrs[0])
    if any(isinstance(lr, Tensor) for lr in lrs):
        return torch.stack([torch.as_tensor(lr, dtype=like.dtype).to(like.device)
                            for lr in lrs])
    return torch.tensor(lrs, dtype=like.dtype).to(like.device, non_blocking=True)


def _check_hyperparameters(lr, momentum, dampening, rescale) -> None:
    if rescale not in RESCALES:
        raise ValueError(f"unknown rescale {rescale!r}; allowed: {list(RESCALES)}")
    if not isinstance(lr, Tensor) and not lr >= 0:
        raise ValueError(f"lr must be >= 0, got {lr}")
    if rescale is None and not isinstance(lr, Tensor) and lr > 1:
        raise ValueError(f"without rescaling lr is the step size itself and must lie in "
                         f"[0, 1], got {lr}")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
    if not 0.0 <= dampening <= 1.0:
        raise ValueError(f"dampening must lie in [0, 1], got {dampening}")
