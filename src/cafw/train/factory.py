"""Turn a validated run config into the objects that train: device, optimizer, penalty."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..constraints import param_groups
from ..optim import SFW, ProxSGD
from ..penalties import PENALTIES
from .config import ConfigError, ProxSGDConfig, RunConfig, SFWConfig, SGDConfig


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("'device': cuda was requested but no CUDA device is available; "
                          "use device: auto or cpu")
    return torch.device(name)


def device_name(device: torch.device) -> str:
    """The device as recorded in metrics and benchmark tables (the GPU model on CUDA)."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else device.type


def build_optimizer(config: SFWConfig | SGDConfig | ProxSGDConfig,
                    model: nn.Module) -> torch.optim.Optimizer:
    if isinstance(config, SFWConfig):
        c = config.constraint
        try:
            groups = param_groups(model, c.family, k=c.k, value=c.value, mode=c.mode,
                                  global_=c.global_, init_samples=c.init_samples,
                                  init_norms_by_shape=c.init_norms_by_shape,
                                  lmo_method=c.lmo_method, lmo_iterations=c.lmo_iterations,
                                  k_min=c.k_min)
        except ValueError as err:
            raise ConfigError(f"'optimizer.constraint': {err}") from None
        return SFW(groups, lr=config.lr, momentum=config.momentum, dampening=config.dampening,
                   rescale=None if config.rescale == "none" else config.rescale)
    if isinstance(config, SGDConfig):
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay, nesterov=config.nesterov)
    return ProxSGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                   threshold=config.threshold, weight_decay=config.weight_decay)


def build_penalty(config: RunConfig) -> Callable[[nn.Module], torch.Tensor] | None:
    """The loss regularizer of an SGD baseline, already scaled by its strength."""
    penalty = getattr(config.optimizer, "penalty", None)
    if penalty is None or penalty.strength == 0:
        return None
    fn, strength = PENALTIES[penalty.type], penalty.strength
    return lambda model: strength * fn(model)


def method_name(config: RunConfig) -> str:
    """A short human-readable label of the training method, for tables and legends."""
    opt = config.optimizer
    if isinstance(opt, SFWConfig):
        return f"SFW {opt.constraint.family}"
    if isinstance(opt, ProxSGDConfig):
        return "ProxSGD"
    return f"SGD + {opt.penalty.type}" if opt.penalty else "SGD"
