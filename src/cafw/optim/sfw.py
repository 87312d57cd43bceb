"""Stochastic Frank-Wolfe (SFW) with momentum and learning-rate rescaling.

For every param group j with feasible set C_j (Euclidean diameter D_j), at step t
(as the authors' code, ZIB-IOL/compression-aware-SFW, does it):

    m_t   = g_t                                  (t = 0)
    m_t   = momentum * m_{t-1} + (1 - dampening) * g_t
    v_t   = argmin_{v in C_j} <m_t, v>           (the set's LMO)
    s_t   = ||m_t|| / ||theta_t - v_t||          rescale="gradient"
          = ||m_t|| / (D_j / 2)                  rescale="fast_gradient"
          = 1 / D_j                              rescale="diameter"
          = 1                                    rescale="none"
    eta_t = clip(lr * s_t, 0, 1)
    theta_{t+1} = (1 - eta_t) theta_t + eta_t v_t

With gradient rescaling and no clipping the step has length lr * ||m_t||, like an SGD step,
which decouples the learning rate from the size of the set (Pokutta et al. 2020).

A group usually holds one tensor (``cafw.constraints.param_groups`` builds one per layer); a
group of several tensors is one set over all of them (global constraints).  Groups whose sets
differ only in radius are stacked into one batch, so an LMO (top-k, norms, SVD or subspace
iteration) runs once per distinct shape, and ``torch._foreach_*`` does the momentum and the
convex combination.  ``foreach=False`` is the plain path, one group at a time with per-tensor
ops: the same mathematics on batches of one, which the batched path is tested against (and
both against a literal transcription of the authors' update in the tests).  On accelerators
a step never waits for the device (the exact SVD that seeds a spectral set's basis on the
first step aside); on the CPU the top-k selection of the k-sets reads counts on the host,
which costs nothing there.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor
from torch.optim import Optimizer

from ..constraints.base import Constraint, inverse_or_zero, pack, packed_shape, unpack
from ..constraints.lp import Unconstrained
from ..conventions import check_step_size
from ..vocabulary import RESCALES

# on the CPU, tensors up to this many entries are batched with same-shaped ones
CPU_BATCH_LIMIT = 1 << 16


class StepStatistics(NamedTuple):
    """The last step's per-group effective step size eta and Frank-Wolfe gap <m, theta - v>,
    as device tensors of length len(param_groups), NaN for groups without gradient."""

    step_size: Tensor
    fw_gap: Tensor


@dataclass
class _Batch:
    """Param groups whose sets differ at most in radius: one batched LMO call per step."""

    indices: list[int]  # param-group index of each member
    params: list[list[Tensor]]  # each member's tensors (one, unless a global set)
    groups: list[dict]
    constraint: Constraint  # the first member's; class and hyperparameters are shared
    radius: Tensor  # (B,)
    diameter: Tensor  # (B,)

    @property
    def rescale(self) -> str:
        return self.groups[0]["rescale"]

    @property
    def foreach(self) -> bool:
        return self.groups[0]["foreach"] is not False


class SFW(Optimizer):
    """Stochastic Frank-Wolfe over per-group feasible sets (``group["constraint"]``).

    Args:
        params: param groups, each with a ``"constraint"`` (see
            ``cafw.constraints.param_groups``), or tensors sharing ``constraint``.
        lr: learning rate; multiplied by the rescaling factor and clipped to [0, 1].
        momentum: momentum factor mu in m = mu m + (1 - dampening) g.
        dampening: 0 (default) is the authors' heavy-ball form; ``dampening=momentum`` gives
            the exponential moving average of the predecessor library and Miao et al.
        rescale: "gradient", "fast_gradient", "diameter" or "none".
        constraint: default set for groups that do not name one (must not depend on shape).
        foreach: True batches equal-shaped groups and uses ``torch._foreach_*``; False steps
            the group alone with per-tensor ops; None (default) picks what is fastest on the
            device.  Like every argument here it is a per-group default.
    """

    def __init__(self, params: Iterable, lr: float = 0.1, momentum: float = 0.9,
                 dampening: float = 0.0, rescale: str = "gradient", *,
                 constraint: Constraint | None = None, foreach: bool | None = None) -> None:
        _check_hyperparameters(lr, momentum, dampening, rescale)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, rescale=rescale,
                        constraint=constraint, foreach=foreach)
        self._last: list[tuple[list[int], Tensor, Tensor]] = []
        self._plan_key: tuple | None = None
        self._batches: list[_Batch] = []
        self._interleave = False
        self._stat_index: Tensor | None = None  # param-group index of each batch member
        super().__init__(params, defaults)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        _check_hyperparameters(group["lr"], group["momentum"], group["dampening"],
                               group["rescale"])
        if not group["params"]:
            return  # as ZeroRedundancyOptimizer gives ranks that own none of a group's tensors
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
        batches = self._plan()
        if self._interleave:  # a batch's tensors stay in cache from momentum to update
            self._last = []
            for batch in batches:
                self._update_momentum([batch])
                self._last.append(self._frank_wolfe_step(batch))
        else:  # fewest launches: one momentum update for everything, then the batches
            self._update_momentum(batches)
            self._last = [self._frank_wolfe_step(batch) for batch in batches]
        return loss

    def _plan(self) -> list[_Batch]:
        """This step's batches, rebuilt only when the groups with gradients, their sets,
        their rescaling or their ``foreach`` change (sets are immutable).

        ``foreach=True`` batches the group with every group of its shape; ``foreach=False``
        steps it alone with per-tensor ops.  ``None`` picks per device, as measured in
        on a 2-core CPU: on accelerators batch everything (launches dominate); on the CPU
        batch only small tensors (per-op overhead dominates) and step each large one alone,
        interleaved with its momentum update, so it stays in cache for the whole step.
        """
        active = [(i, g) for i, g in enumerate(self.param_groups)
                  if any(p.grad is not None for p in g["params"])]  # missing grads count as 0
        key = tuple((i, id(g["constraint"]), g["rescale"], g["foreach"], len(g["params"]))
                    for i, g in active)
        if key == self._plan_key:
            return self._batches
        on_cpu = bool(active) and active[0][1]["params"][0].device.type == "cpu"
        members: dict[tuple, list[tuple[int, dict]]] = defaultdict(list)
        for i, g in active:
            c, p = g["constraint"], g["params"][0]
            shape = packed_shape([tuple(q.shape) for q in g["params"]], c.grouping)
            limit = {True: math.inf, False: 0,
                     None: CPU_BATCH_LIMIT if on_cpu else math.inf}[g["foreach"]]
            bucket = (c.batch_key(shape), g["rescale"], g["foreach"] is not False, p.dtype,
                      p.device)
            members[bucket if math.prod(shape) <= limit else (i,)].append((i, g))
        self._batches = [_make_batch(m) for m in members.values()]
        self._interleave = on_cpu and not all(g["foreach"] is True for _, g in active)
        self._plan_key, self._stat_index = key, None
        return self._batches

    def _update_momentum(self, batches: list[_Batch]) -> None:
        """m = g on the first step, then m = mu m + (1 - dampening) g."""
        running: dict[tuple, tuple[list, list]] = defaultdict(lambda: ([], []))
        for batch in batches:
            for group, params in zip(batch.groups, batch.params):
                for p in params:
                    grad = p.grad if p.grad is not None else torch.zeros_like(p)
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = grad.detach().clone()
                        continue
                    bufs, grads = running[(group["momentum"], 1.0 - group["dampening"],
                                           batch.foreach)]
                    bufs.append(state["momentum_buffer"])
                    grads.append(grad)
        for (mu, scale, foreach), (bufs, grads) in running.items():
            if foreach:
                torch._foreach_mul_(bufs, mu)
                torch._foreach_add_(bufs, grads, alpha=scale)
            else:
                for buf, grad in zip(bufs, grads):
                    buf.mul_(mu).add_(grad, alpha=scale)

    def _frank_wolfe_step(self, batch: _Batch) -> tuple[list[int], Tensor, Tensor]:
        grouping = batch.constraint.grouping
        momenta = _stack([pack([self.state[p]["momentum_buffer"] for p in ps], grouping)
                          for ps in batch.params])
        params = _stack([pack(ps, grouping) for ps in batch.params])
        owners = [self.state[ps[0]] for ps in batch.params]
        lmo_state = {k: _stack([s["lmo"][k] for s in owners]) for k in owners[0].get("lmo", {})}
        vertex = batch.constraint.batched_lmo(momenta, batch.radius, lmo_state)
        for b, state in enumerate(owners):
            state["lmo"] = {k: v[b] for k, v in lmo_state.items()}

        momenta = momenta.flatten(1)
        direction = vertex.sub_(params)  # v - theta, in the LMO's fresh output
        flat_direction = direction.flatten(1)
        gap = -_row_dot(momenta, flat_direction)  # <m, theta - v>
        if batch.rescale == "gradient":
            grad_norm = torch.linalg.vector_norm(momenta, dim=1)
            dist = torch.linalg.vector_norm(flat_direction, dim=1)
            factor = grad_norm * inverse_or_zero(dist)
        elif batch.rescale == "fast_gradient":
            factor = torch.linalg.vector_norm(momenta, dim=1) * (2.0 / batch.diameter)
        elif batch.rescale == "diameter":
            factor = 1.0 / batch.diameter
        else:
            factor = torch.ones_like(batch.radius)
        step_size = (factor * _learning_rates(batch.groups, vertex)).clamp_(0.0, 1.0)

        # theta + eta (v - theta) = (1 - eta) theta + eta v
        targets, directions, weights = [], [], []
        for b, ps in enumerate(batch.params):
            parts = unpack(direction[b], ps, grouping)
            targets += ps
            directions += parts
            weights += [step_size[b]] * len(parts)
        if batch.foreach:
            torch._foreach_addcmul_(targets, directions, weights)
        else:
            for p, d, w in zip(targets, directions, weights):
                p.addcmul_(d, w)
        return batch.indices, step_size, gap

    # -- utilities ------------------------------------------------------------------------
    @torch.no_grad()
    def make_feasible(self) -> None:
        """Rescale every group's iterate into its set (the authors' shift_inside)."""
        for group in self.param_groups:
            if not group["params"]:
                continue
            grouping = group["constraint"].grouping
            packed = group["constraint"].shift_inside(pack(group["params"], grouping))
            for p, part in zip(group["params"], unpack(packed, group["params"], grouping)):
                p.copy_(part)

    def reset_momentum(self) -> None:
        for state in self.state.values():
            state.pop("momentum_buffer", None)

    def step_statistics(self) -> StepStatistics:
        """The last step's ``StepStatistics``, assembled on demand without synchronization."""
        if not self._last:
            raise RuntimeError("step_statistics() is available after the first step()")
        like = self._last[0][1]
        if self._stat_index is None or self._stat_index.device != like.device:
            # fixed while the plan is: built once, not copied to the device every step
            self._stat_index = torch.tensor([i for ids, _, _ in self._last for i in ids],
                                            device=like.device)
        index, out = self._stat_index, []
        for pos in (1, 2):
            values = torch.full((len(self.param_groups),), float("nan"), dtype=like.dtype,
                                device=like.device)
            out.append(values.index_copy_(0, index, torch.cat([t[pos] for t in self._last])))
        return StepStatistics(*out)

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


def _make_batch(members: list[tuple[int, dict]]) -> _Batch:
    groups = [g for _, g in members]
    c, like = groups[0]["constraint"], groups[0]["params"][0]
    shape = packed_shape([tuple(p.shape) for p in groups[0]["params"]], c.grouping)
    sets = [g["constraint"] for g in groups]
    return _Batch(
        indices=[i for i, _ in members], params=[g["params"] for g in groups], groups=groups,
        constraint=c,
        radius=torch.tensor([s.radius for s in sets], dtype=like.dtype, device=like.device),
        diameter=torch.tensor([s.diameter_per_radius(shape) * s.radius for s in sets],
                              dtype=like.dtype, device=like.device))


def _stack(tensors: list[Tensor]) -> Tensor:
    return tensors[0].unsqueeze(0) if len(tensors) == 1 else torch.stack(tensors)


def _row_dot(a: Tensor, b: Tensor) -> Tensor:
    """Row-wise dot products of (B, n) tensors; BLAS dot per row (vecdot materializes a*b
    on the CPU)."""
    if a.device.type == "cpu":
        return torch.stack([torch.dot(x, y) for x, y in zip(a, b)]) if len(a) > 1 else \
            torch.dot(a[0], b[0]).view(1)
    return torch.linalg.vecdot(a, b)


def _learning_rates(groups: list[dict], like: Tensor) -> Tensor | float:
    lrs = [g["lr"] for g in groups]
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
    if not isinstance(lr, Tensor):
        check_step_size(lr, rescale)
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
    if not 0.0 <= dampening <= 1.0:
        raise ValueError(f"dampening must lie in [0, 1], got {dampening}")
