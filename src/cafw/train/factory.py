"""Turn a validated run config into the objects that train: the optimizer and the penalty;
and what the training loop asks of an optimizer, sharded over processes or not."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist
from torch import nn

from ..constraints import param_groups
from ..optim import SFW, SGD, ProxSGD, make_feasible
from ..optim.sfw import StepStatistics
from ..penalties import TERMS
from ..spec import ConfigError, OptimizerSpec, RunSpec, SFWSpec, SGDSpec


def build_optimizer(spec: OptimizerSpec, model: nn.Module, *,
                    shard: bool = False) -> torch.optim.Optimizer:
    """The optimizer of ``spec`` over ``model``'s parameters; SFW's iterate is made feasible
    here if the spec says so.  ``shard`` (several processes) wraps it in
    ``ZeroRedundancyOptimizer``: each process keeps the state of, and steps, its share of the
    parameters (for SFW: runs the LMOs of its share of the layers) and broadcasts them."""
    if isinstance(spec, SFWSpec):
        c = spec.constraint
        try:
            groups = param_groups(model, c.family, k=c.k, value=c.value, mode=c.mode,
                                  global_=c.global_, init_samples=c.init_samples,
                                  init_norms_by_shape=c.init_norms_by_shape,
                                  lmo_method=c.lmo_method, lmo_iterations=c.lmo_iterations,
                                  k_min=c.k_min)
        except ValueError as err:  # what only the model's shapes tell, e.g. k > filters
            raise ConfigError(f"'optimizer.constraint': {err}") from None
        cls, params = SFW, groups
        options = dict(lr=spec.lr, momentum=spec.momentum, dampening=spec.dampening,
                       rescale=spec.rescale)
        if spec.make_feasible:  # every process the whole model, before any sharding
            make_feasible([g["params"] for g in groups], [g["constraint"] for g in groups])
    elif isinstance(spec, SGDSpec):
        cls, params = SGD, model.parameters()
        options = dict(lr=spec.lr, momentum=spec.momentum, weight_decay=spec.weight_decay,
                       nesterov=spec.nesterov)
    else:
        cls, params = ProxSGD, model.parameters()
        options = dict(lr=spec.lr, momentum=spec.momentum, threshold=spec.threshold,
                       weight_decay=spec.weight_decay)
    if shard:
        # imported here: it pulls in FSDP and DTensor, about 0.7 s of every job's start-up
        from torch.distributed.optim import ZeroRedundancyOptimizer

        return ZeroRedundancyOptimizer(params, optimizer_class=cls, **options)
    return cls(params, **options)


def full_state_dict(optimizer: torch.optim.Optimizer, main: bool) -> dict | None:
    """The optimizer's whole state on the main process (None elsewhere).  A sharded one is
    first gathered there: every process must call this."""
    if _local(optimizer) is optimizer:  # not sharded
        return optimizer.state_dict() if main else None
    optimizer.consolidate_state_dict(to=0)
    if not main:
        return None
    state = optimizer.state_dict()
    for group in state["param_groups"]:  # the sets are code, not state (see SFW.state_dict)
        group.pop("constraint", None)
    return state


def has_step_statistics(optimizer: torch.optim.Optimizer) -> bool:
    """Whether the optimizer reports Frank-Wolfe statistics (the protocol: a
    ``step_statistics`` method), sharded or not."""
    return hasattr(_local(optimizer), "step_statistics")


def step_statistics(optimizer: torch.optim.Optimizer) -> StepStatistics | None:
    """The last step's Frank-Wolfe statistics, or None for optimizers without them.  A
    sharded optimizer's are merged over the processes: each stepped only its own groups and
    has NaN for the others'."""
    local = _local(optimizer)
    if not hasattr(local, "step_statistics"):
        return None
    stats = local.step_statistics()
    if local is optimizer:
        return stats
    values = torch.stack(stats)
    stepped = values.isfinite()
    merged = torch.stack([values.nan_to_num(0.0), stepped.to(values.dtype)])
    dist.all_reduce(merged)  # on the device: no host sync
    values, steps = merged
    return StepStatistics(*torch.where(steps > 0, values, float("nan")))


def build_penalty(spec: RunSpec) -> Callable[[nn.Module], torch.Tensor] | None:
    """The loss regularizer of an SGD baseline, already scaled by its strength."""
    penalty = getattr(spec.optimizer, "penalty", None)
    if penalty is None or penalty.strength == 0:
        return None
    fn, strength = TERMS[penalty.type], penalty.strength
    return lambda model: strength * fn(model)


def method_name(spec: RunSpec) -> str:
    """A short human-readable label of the training method, for tables and legends."""
    opt = spec.optimizer
    if isinstance(opt, SFWSpec):
        return f"SFW {opt.constraint.family}"
    if isinstance(opt, SGDSpec):
        return f"SGD + {opt.penalty.type}" if opt.penalty else "SGD"
    return "ProxSGD"


def _local(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """The optimizer that steps this process's parameters (ZeroRedundancyOptimizer's own)."""
    return getattr(optimizer, "optim", optimizer)
