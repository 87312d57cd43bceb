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
group of several tensors is one set over all of them (global constraints).

The code has the shape of ``torch.optim.sgd``, so that the update reads apart from the
optimizer's bookkeeping and each way of computing it reads alone: ``SFW.step`` gathers the
groups' tensors and state and calls the functional ``sfw``, which runs one of two paths.
``_multi_tensor_sfw`` stacks groups whose sets differ only in radius into one ``SetBatch``,
so an LMO (top-k, norms, SVD or subspace iteration) runs once per distinct shape, and does
the momentum and the convex combination with ``torch._foreach_*``.  ``_single_tensor_sfw``
(``foreach=False``) is the plain path, one group at a time with per-tensor ops: the same
mathematics on batches of one, and on the CPU the same bits, which the tests hold the
multi-tensor path to (and both to a literal transcription of the authors' update).  On
accelerators a step never waits for the device (the exact SVD that seeds a spectral set's
basis on the first step aside); on the CPU the top-k selection of the k-sets reads counts on
the host, which costs nothing there.

``make_feasible`` moves tensors into their sets without an optimizer, as a run does before
it builds a sharded one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
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


@dataclass(frozen=True)
class SetBatch:
    """Groups whose sets differ at most in radius, which the multi-tensor path steps with one
    batched LMO call; the tensors are built once, not every step."""

    members: list[int]  # the groups' positions in the lists given to ``sfw``
    constraint: Constraint  # the first member's; class and hyperparameters are shared
    radius: Tensor  # (B,)
    diameter: Tensor  # (B,)
    rescale: str

    @classmethod
    def of(cls, members: list[int], constraints: list[Constraint], shape: tuple[int, ...],
           rescale: str, like: Tensor) -> SetBatch:
        """The batch of the member groups' ``constraints``, whose tensors pack to ``shape``,
        with radii and diameters of ``like``'s dtype and device."""
        return cls(members=members, constraint=constraints[0], rescale=rescale,
                   radius=torch.tensor([c.radius for c in constraints], dtype=like.dtype,
                                       device=like.device),
                   diameter=torch.tensor([c.diameter_per_radius(shape) * c.radius
                                          for c in constraints],
                                         dtype=like.dtype, device=like.device))


# what sfw returns: (positions of groups, their step sizes, their Frank-Wolfe gaps)
StepChunk = tuple[list[int], Tensor, Tensor]


@dataclass
class _Call:
    """One call of ``sfw`` in a step: the param groups it steps and how."""

    group_indices: list[int]  # param-group index of each position in the call
    sets: list[SetBatch]
    foreach: bool


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
        self._last: list[StepChunk] = []  # with param-group indices for positions
        self._plan_key: tuple | None = None
        self._calls: list[_Call] = []
        self._stat_index: Tensor | None = None  # param-group index of each statistic
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
        self._last = []
        for call in self._plan():
            groups = [self.param_groups[i] for i in call.group_indices]
            params = [g["params"] for g in groups]
            grads = [[p.grad if p.grad is not None else torch.zeros_like(p) for p in ps]
                     for ps in params]  # a missing gradient counts as 0
            states = [[self.state[p] for p in ps] for ps in params]
            momentum_buffers = [[s.get("momentum_buffer") for s in ss] for ss in states]
            lmo_states = [ss[0].get("lmo", {}) for ss in states]  # kept with the first tensor
            chunks = sfw(params, grads, momentum_buffers, lmo_states, call.sets,
                         lr=[g["lr"] for g in groups], momentum=[g["momentum"] for g in groups],
                         dampening=[g["dampening"] for g in groups], foreach=call.foreach)
            for ss, buffers, lmo_state in zip(states, momentum_buffers, lmo_states):
                ss[0]["lmo"] = lmo_state
                for s, buffer in zip(ss, buffers):
                    s["momentum_buffer"] = buffer
            self._last += [([call.group_indices[j] for j in positions], step_size, gap)
                           for positions, step_size, gap in chunks]
        return loss

    def _plan(self) -> list[_Call]:
        """This step's calls of ``sfw``, rebuilt only when the groups with gradients, their
        sets, their rescaling or their ``foreach`` change (sets are immutable).

        ``foreach=True`` batches the group with every group of its shape; ``foreach=False``
        steps it alone with per-tensor ops.  ``None`` picks per device, as measured on a
        2-core CPU: on accelerators batch everything (launches dominate), and one call updates
        every momentum buffer; on the CPU batch only small tensors (per-op overhead
        dominates) and step each large one alone, each batch a call of its own, so that its
        tensors stay in cache from the momentum update to the convex combination.
        """
        active = [(i, g) for i, g in enumerate(self.param_groups)
                  if any(p.grad is not None for p in g["params"])]  # missing grads count as 0
        key = tuple((i, id(g["constraint"]), g["rescale"], g["foreach"], len(g["params"]))
                    for i, g in active)
        if key == self._plan_key:
            return self._calls
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
        batches = [(m, m[0][1]["foreach"] is not False) for m in members.values()]
        if on_cpu and not all(g["foreach"] is True for _, g in active):
            self._calls = [_make_call([m], foreach) for m, foreach in batches]
        else:
            self._calls = [_make_call(ms, foreach) for foreach in (True, False)
                           if (ms := [m for m, f in batches if f == foreach])]
        self._plan_key, self._stat_index = key, None
        return self._calls

    # -- utilities ------------------------------------------------------------------------
    def make_feasible(self) -> None:
        """Rescale every group's iterate into its set (the authors' shift_inside)."""
        make_feasible([g["params"] for g in self.param_groups],
                      [g["constraint"] for g in self.param_groups])

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


def _make_call(batches: list[list[tuple[int, dict]]], foreach: bool) -> _Call:
    """The call that steps ``batches`` of (param-group index, group) pairs."""
    group_indices, sets = [], []
    for members in batches:
        groups = [g for _, g in members]
        c, like = groups[0]["constraint"], groups[0]["params"][0]
        shape = packed_shape([tuple(p.shape) for p in groups[0]["params"]], c.grouping)
        positions = list(range(len(group_indices), len(group_indices) + len(members)))
        sets.append(SetBatch.of(positions, [g["constraint"] for g in groups], shape,
                                groups[0]["rescale"], like))
        group_indices += [i for i, _ in members]
    return _Call(group_indices, sets, foreach)


def sfw(params: list[list[Tensor]], grads: list[list[Tensor]],
        momentum_buffers: list[list[Tensor | None]], lmo_states: list[dict[str, Tensor]],
        sets: list[SetBatch], *, lr: list[float | Tensor], momentum: list[float],
        dampening: list[float], foreach: bool) -> list[StepChunk]:
    """One SFW step of param groups, in place (the computation of ``SFW.step``).

    Position j of every list is one group: its tensors, their gradients (zeros where
    missing), their momentum buffers (None before the first step, then replaced by new
    ones), the state of its set's LMO (replaced by the updated state), and its
    hyperparameters.  ``sets`` holds every group in exactly one batch.  ``foreach`` picks
    ``_multi_tensor_sfw``, else ``_single_tensor_sfw``.  Returns the groups' step sizes and
    Frank-Wolfe gaps as (positions, step_size, fw_gap) chunks.
    """
    step = _multi_tensor_sfw if foreach else _single_tensor_sfw
    return step(params, grads, momentum_buffers, lmo_states, sets, lr=lr, momentum=momentum,
                dampening=dampening)


def _single_tensor_sfw(params: list[list[Tensor]], grads: list[list[Tensor]],
                       momentum_buffers: list[list[Tensor | None]],
                       lmo_states: list[dict[str, Tensor]], sets: list[SetBatch], *,
                       lr: list[float | Tensor], momentum: list[float],
                       dampening: list[float]) -> list[StepChunk]:
    """Each group alone, tensor by tensor; its set's LMO sees a batch of one."""
    chunks = []
    for batch in sets:
        grouping = batch.constraint.grouping
        for b, j in enumerate(batch.members):
            buffers = momentum_buffers[j]
            for n, grad in enumerate(grads[j]):
                if buffers[n] is None:
                    buffers[n] = grad.detach().clone()
                else:
                    buffers[n].mul_(momentum[j]).add_(grad, alpha=1.0 - dampening[j])
            momenta = pack(buffers, grouping).unsqueeze(0)
            lmo_state = {k: v.unsqueeze(0) for k, v in lmo_states[j].items()}
            one = slice(b, b + 1)
            vertex = batch.constraint.batched_lmo(momenta, batch.radius[one], lmo_state)
            lmo_states[j] = {k: v[0] for k, v in lmo_state.items()}

            direction = vertex.sub_(pack(params[j], grouping).unsqueeze(0))  # v - theta
            step_size, gap = _step_size_and_gap(
                momenta.flatten(1), direction.flatten(1), batch.rescale, batch.diameter[one],
                _learning_rates([lr[j]], vertex))
            weight = step_size[0]
            for p, d in zip(params[j], unpack(direction[0], params[j], grouping)):
                p.addcmul_(d, weight)  # theta + eta (v - theta) = (1 - eta) theta + eta v
            chunks.append(([j], step_size, gap))
    return chunks


def _multi_tensor_sfw(params: list[list[Tensor]], grads: list[list[Tensor]],
                      momentum_buffers: list[list[Tensor | None]],
                      lmo_states: list[dict[str, Tensor]], sets: list[SetBatch], *,
                      lr: list[float | Tensor], momentum: list[float],
                      dampening: list[float]) -> list[StepChunk]:
    """All momentum buffers with ``torch._foreach_*``, then one stacked LMO per batch, then
    the convex combination of each batch's tensors with one ``torch._foreach_*`` op."""
    updates: dict[tuple[float, float], tuple[list, list]] = defaultdict(lambda: ([], []))
    for j, (buffers, group_grads) in enumerate(zip(momentum_buffers, grads)):
        for n, grad in enumerate(group_grads):
            if buffers[n] is None:
                buffers[n] = grad.detach().clone()
                continue
            stale, fresh = updates[(momentum[j], 1.0 - dampening[j])]
            stale.append(buffers[n])
            fresh.append(grad)
    for (mu, scale), (stale, fresh) in updates.items():
        torch._foreach_mul_(stale, mu)
        torch._foreach_add_(stale, fresh, alpha=scale)

    chunks = []
    for batch in sets:
        grouping, members = batch.constraint.grouping, batch.members
        momenta = _stack([pack(momentum_buffers[j], grouping) for j in members])
        thetas = _stack([pack(params[j], grouping) for j in members])
        lmo_state = {k: _stack([lmo_states[j][k] for j in members])
                     for k in lmo_states[members[0]]}
        vertex = batch.constraint.batched_lmo(momenta, batch.radius, lmo_state)
        for b, j in enumerate(members):
            lmo_states[j] = {k: v[b] for k, v in lmo_state.items()}

        direction = vertex.sub_(thetas)  # v - theta, in the LMO's fresh output
        step_size, gap = _step_size_and_gap(
            momenta.flatten(1), direction.flatten(1), batch.rescale, batch.diameter,
            _learning_rates([lr[j] for j in members], vertex))
        # theta + eta (v - theta) = (1 - eta) theta + eta v
        targets, directions, weights = [], [], []
        for b, j in enumerate(members):
            parts = unpack(direction[b], params[j], grouping)
            targets += params[j]
            directions += parts
            weights += [step_size[b]] * len(parts)
        torch._foreach_addcmul_(targets, directions, weights)
        chunks.append((members, step_size, gap))
    return chunks


def _step_size_and_gap(momenta: Tensor, direction: Tensor, rescale: str, diameter: Tensor,
                       lr: Tensor | float) -> tuple[Tensor, Tensor]:
    """eta = clip(lr * s, 0, 1) and the gap <m, theta - v> of (B, n) momenta and v - theta."""
    gap = -_row_dot(momenta, direction)
    if rescale == "gradient":
        grad_norm = torch.linalg.vector_norm(momenta, dim=1)
        dist = torch.linalg.vector_norm(direction, dim=1)
        factor = grad_norm * inverse_or_zero(dist)
    elif rescale == "fast_gradient":
        factor = torch.linalg.vector_norm(momenta, dim=1) * (2.0 / diameter)
    elif rescale == "diameter":
        factor = 1.0 / diameter
    else:
        factor = torch.ones_like(diameter)
    return (factor * lr).clamp_(0.0, 1.0), gap


@torch.no_grad()
def make_feasible(params: Sequence[Sequence[Tensor]], constraints: Sequence[Constraint]) -> None:
    """Rescale each group of tensors ``params[j]`` into its set ``constraints[j]``, in place
    (the authors' shift_inside; not a projection).  Needs no optimizer: a sharded run moves
    the whole model before it builds its share of one."""
    for group_params, constraint in zip(params, constraints, strict=True):
        if not group_params:
            continue  # as ZeroRedundancyOptimizer gives ranks that own none of a group
        grouping = constraint.grouping
        packed = constraint.shift_inside(pack(group_params, grouping))
        for p, part in zip(group_params, unpack(packed, group_params, grouping)):
            p.copy_(part)


def _stack(tensors: list[Tensor]) -> Tensor:
    return tensors[0].unsqueeze(0) if len(tensors) == 1 else torch.stack(tensors)


def _row_dot(a: Tensor, b: Tensor) -> Tensor:
    """Row-wise dot products of (B, n) tensors; BLAS dot per row (vecdot materializes a*b
    on the CPU)."""
    if a.device.type == "cpu":
        return torch.stack([torch.dot(x, y) for x, y in zip(a, b)]) if len(a) > 1 else \
            torch.dot(a[0], b[0]).view(1)
    return torch.linalg.vecdot(a, b)


def _learning_rates(lrs: list[float | Tensor], like: Tensor) -> Tensor | float:
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
