"""Build SFW param groups for a model: which set each tensor gets and how large it is.

As in the authors' code (``runners/baseRunner.py::define_constraints``): a structured family
(group-k-support, spectral k-support / k-sparse, nuclear) goes on Conv2d weights and an L2
ball on every other tensor; an unstructured family goes on every tensor.  ``value`` is read
according to ``mode``: the radius, the Euclidean diameter, or (``initialization``) a
multiplier w with diameter D = 2 w rho, rho being the tensor's mean L2 norm under its
module's default initialization.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator

import torch
from torch import nn

from ..conventions import LMO_ITERATIONS, check_family_options
from ..vocabulary import FAMILIES, MODES
from .base import SETS, Constraint, packed_shape


def param_groups(model: nn.Module, family: str, k: int | float | None = None,
                 value: float = 10.0, mode: str = "initialization", global_: bool = False, *,
                 init_samples: int = 100, init_norms_by_shape: bool = False,
                 lmo_method: str = "subspace", lmo_iterations: int = LMO_ITERATIONS,
                 k_min: int = 1) -> list[dict]:
    """SFW param groups ``{"params": [...], "constraint": set, "name": ...}`` for ``model``.

    Per layer (default), every trainable tensor is its own group.  With ``global_=True`` the
    tensors sharing a set type form one group over their concatenation (structured families:
    all Conv2d weights in one group over all filters, the rest in one L2 group).

    ``init_norms_by_shape=True`` reproduces the authors' per-layer estimate keyed by tensor
    shape (BatchNorm weight and bias collide), for bit-parity only; the default is per module.
    In global mode the authors sum each tensor's own estimate, so the flag does not apply.
    ``k_min`` floors a fractional k (Miao et al.'s K = max(10, 5%) is k=0.05, k_min=10).
    """
    check_family_options(family, k, global_)
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; allowed: {', '.join(MODES)}")
    value = float(value)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"value must be positive and finite, got {value}")
    named = list(_trainable(model))
    if not named:
        raise ValueError("the model has no trainable parameters to constrain")
    # the authors key their estimate by shape only per layer; in global mode they sum each
    # tensor's own estimate
    rho = initial_norms(model, init_samples, by_shape=init_norms_by_shape and not global_) \
        if mode == "initialization" else {}
    options = {"k": k, "k_min": k_min, "method": lmo_method, "iterations": lmo_iterations}
    groups = []
    for unit_name, (fam, members) in _units(named, family, global_).items():
        constraint = _set_of(fam, members, value, mode, rho, options)
        groups.append({"params": [p for _, p in members], "constraint": constraint,
                       "name": unit_name})
    return groups


Members = list[tuple[str, torch.Tensor]]


def _units(named: list, family: str, global_: bool) -> dict[str, tuple[str, Members]]:
    """The tensors that share one set, by group name: one tensor each unless ``global_``; a
    structured family's set goes on Conv2d weights and an L2 ball on every other tensor."""
    units: dict[str, tuple[str, Members]] = {}
    for name, module, param in named:
        on_target = isinstance(module, nn.Conv2d) and name.endswith("weight")
        fam = "l2" if FAMILIES[family].structured and not on_target else family
        units.setdefault(fam if global_ else name, (fam, []))[1].append((name, param))
    return units


def _set_of(family: str, members: Members, value: float, mode: str, rho: dict[str, float],
            options: dict) -> Constraint:
    """The set of ``family`` over ``members``, its size read from ``value`` by ``mode``."""
    cls = SETS[family]
    kwargs: dict = {"shape": packed_shape([tuple(p.shape) for _, p in members], cls.grouping)}
    if cls.has_k:
        kwargs.update(k=options["k"], k_min=options["k_min"])
    if FAMILIES[family].spectral:
        kwargs.update(method=options["method"], iterations=options["iterations"])
    if mode == "radius":
        return cls(radius=value, **kwargs)
    if mode == "diameter":
        diameter = value
    elif len(members) == 1:
        diameter = 2.0 * value * (rho[members[0][0]] or 1.0)
    else:  # global: no 0 -> 1 substitution, as in the authors' code
        diameter = 2.0 * value * math.sqrt(sum(rho[n] ** 2 for n, _ in members))
    return cls.from_diameter(diameter, **kwargs)


def _trainable(model: nn.Module) -> Iterator[tuple[str, nn.Module, torch.nn.Parameter]]:
    seen = set()
    for mname, module in model.named_modules():
        for pname, param in module.named_parameters(recurse=False):
            if param.requires_grad and id(param) not in seen:
                seen.add(id(param))
                yield (f"{mname}.{pname}" if mname else pname), module, param


@torch.no_grad()
def initial_norms(model: nn.Module, samples: int = 100, *,
                  by_shape: bool = False) -> dict[str, float]:
    """Mean L2 norm of each parameter over ``samples`` draws of its module's own
    ``reset_parameters()``, computed on copies so the model's weights are untouched.

    Every module is sampled from the same seed, so the estimate is deterministic and equal for
    identically configured modules (which are therefore computed once).  Modules without
    ``reset_parameters`` keep their current norm.  ``by_shape`` mimics the authors' dict keyed
    by tensor shape, where a later module overwrites an earlier one of the same shape.
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    cache: dict[tuple, dict[str, float]] = {}
    norms: dict[str, float] = {}
    by_shape_table: dict[tuple, float] = {}
    for name, module, param in _trainable(model):
        key = (type(module), module.extra_repr(),
               tuple((n, tuple(p.shape)) for n, p in module.named_parameters(recurse=False)))
        if key not in cache:
            cache[key] = _sample_norms(module, samples)
        norms[name] = cache[key][name.rsplit(".", 1)[-1]]
        by_shape_table[tuple(param.shape)] = norms[name] or 1.0
    if by_shape:
        return {name: by_shape_table[tuple(p.shape)] for name, _, p in _trainable(model)}
    return norms


def _sample_norms(module: nn.Module, samples: int) -> dict[str, float]:
    own = dict(module.named_parameters(recurse=False))
    if not hasattr(module, "reset_parameters"):
        return {n: float(torch.linalg.vector_norm(p)) for n, p in own.items()}
    # a CPU copy holding only the module's own tensors: the model's weights, its children and
    # the device RNGs are never touched
    clone = copy.copy(module)
    clone._parameters = {n: _cpu_copy(p, nn.Parameter) for n, p in module._parameters.items()}
    clone._buffers = {n: _cpu_copy(b) for n, b in module._buffers.items()}
    clone._modules = {}
    acc = {n: torch.zeros((), dtype=torch.float64) for n in own}
    with torch.random.fork_rng(devices=[]):
        # CPU only; torch.manual_seed would reseed CUDA
        torch.random.default_generator.manual_seed(0)
        for _ in range(samples):
            clone.reset_parameters()
            for n in acc:
                acc[n] += torch.linalg.vector_norm(clone._parameters[n].detach(),
                                                   dtype=torch.float64)
    return {n: float(a) / samples for n, a in acc.items()}


def _cpu_copy(t, wrap=lambda x: x):
    return None if t is None else wrap(t.detach().to("cpu", copy=True))
