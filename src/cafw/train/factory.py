"""Turn a validated run config into the objects that train: the optimizer and the penalty."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..constraints import param_groups
from ..optim import SFW, ProxSGD
from ..penalties import PENALTIES
from ..spec import ConfigError, OptimizerSpec, RunSpec, SFWSpec, SGDSpec


def build_optimizer(spec: OptimizerSpec, model: nn.Module) -> torch.optim.Optimizer:
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
        return SFW(groups, lr=spec.lr, momentum=spec.momentum, dampening=spec.dampening,
                   rescale=spec.rescale)
    if isinstance(spec, SGDSpec):
        return torch.optim.SGD(model.parameters(), lr=spec.lr, momentum=spec.momentum,
                               weight_decay=spec.weight_decay, nesterov=spec.nesterov)
    return ProxSGD(model.parameters(), lr=spec.lr, momentum=spec.momentum,
                   threshold=spec.threshold, weight_decay=spec.weight_decay)


def build_penalty(spec: RunSpec) -> Callable[[nn.Module], torch.Tensor] | None:
    """The loss regularizer of an SGD baseline, already scaled by its strength."""
    penalty = getattr(spec.optimizer, "penalty", None)
    if penalty is None or penalty.strength == 0:
        return None
    fn, strength = PENALTIES[penalty.type], penalty.strength
    return lambda model: strength * fn(model)


def method_name(spec: RunSpec) -> str:
    """A short human-readable label of the training method, for tables and legends."""
    opt = spec.optimizer
    if isinstance(opt, SFWSpec):
        return f"SFW {opt.constraint.family}"
    if isinstance(opt, SGDSpec):
        return f"SGD + {opt.penalty.type}" if opt.penalty else "SGD"
    return "ProxSGD"
