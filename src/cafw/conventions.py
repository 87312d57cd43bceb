"""The rules that a feasible set's options and SFW's step size obey, written once.

The sets (``cafw.constraints``) and the optimizer (``cafw.optim``) apply them when they are
built, and the run config (``cafw.spec``) applies the same functions when a config is read, so
``snakemake -n`` rejects what training would reject.  Torch-free for that reason.
"""

from __future__ import annotations

import math

from .vocabulary import FAMILIES, LMO_METHODS

#: warm subspace rounds per spectral LMO call (``constraint.lmo_iterations`` of a run config;
#: ``cafw bench lmo-quality`` measures what fewer or more give)
LMO_ITERATIONS = 3


def validate_k(k: object) -> None:
    """k is an int count >= 1 or a float fraction in (0, 1]."""
    if isinstance(k, bool) or not isinstance(k, int | float):
        raise ValueError(f"k must be an int count >= 1 or a float fraction in (0, 1], got {k!r}")
    if isinstance(k, int) and k < 1:
        raise ValueError(f"k must be an int count >= 1 or a float fraction in (0, 1], got {k}")
    if isinstance(k, float) and not 0.0 < k <= 1.0:
        raise ValueError(f"k={k} is a float, so it must be a fraction in (0, 1]; "
                         "pass an int for an absolute count")


def resolve_k(k: int | float, n: int, *, what: str = "entries", minimum: int = 1) -> int:
    """Turn a k specification into a count in [1, n].

    An ``int`` is a count; a ``float`` in (0, 1] is a fraction of ``n`` (floor, at least
    ``minimum``, at most n), as the authors' code does it; Miao et al. use ``minimum=10``.
    ``n`` is what the set counts (entries, filters or rank).
    """
    validate_k(k)
    if isinstance(k, float):
        return min(max(minimum, math.floor(k * n)), n)
    if k > n:
        raise ValueError(f"k={k} is larger than the {n} {what} of this tensor; "
                         f"use a count in [1, {n}] or a fraction in (0, 1]")
    return k


def validate_radius(radius: object) -> float:
    if isinstance(radius, bool) or not isinstance(radius, int | float):
        raise ValueError(f"radius must be a positive number, got {radius!r}")
    if not (radius > 0 and math.isfinite(radius)):
        raise ValueError(f"radius must be positive and finite, got {radius}")
    return float(radius)


def check_family_options(family: str, k: object, global_: bool) -> None:
    """A family takes k exactly when its vertices keep k of something, and a spectral family
    acts on one weight matrix at a time."""
    if family not in FAMILIES:
        raise ValueError(f"unknown constraint family {family!r}; allowed: {', '.join(FAMILIES)}")
    entry = FAMILIES[family]
    if entry.takes_k and k is None:
        raise ValueError(f"k is required for family {family!r} (an int count >= 1 or a float "
                         "fraction in (0, 1])")
    if not entry.takes_k and k is not None:
        raise ValueError(f"k does not apply to family {family!r}; remove it")
    if k is not None:
        validate_k(k)
    if global_ and entry.spectral:
        raise ValueError(f"family {family!r} constrains each weight matrix's singular values, "
                         "so it is per layer only; use per-layer sets (global false)")


def check_lmo_options(method: object, iterations: object) -> None:
    if method not in LMO_METHODS:
        raise ValueError(f"unknown spectral LMO method {method!r}; allowed: "
                         f"{', '.join(LMO_METHODS)}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be an int >= 1, got {iterations!r}")


def check_step_size(lr: float, rescale: str) -> None:
    """Without rescaling, lr is the Frank-Wolfe step size itself, a convex weight in [0, 1]."""
    if rescale == "none" and lr > 1:
        raise ValueError(f"without rescaling lr is the step size itself and must lie in "
                         f"[0, 1], got {lr}")
