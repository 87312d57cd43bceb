"""Robustness over a range of compression ratios, as one number: the normalised area under a
curve of accuracy against ratio.

    area = normalised_area(ratios, accuracies, up_to=0.7)   # the mean accuracy on [0, 0.7]

The curve is linear between the measured ratios (the trapezoidal rule) and starts at the dense
model (ratio 0), so the area over ``[0, up_to]`` divided by ``up_to`` is the accuracy averaged
uniformly over that range.  Tuning scores grid points by it (``selection``) and the claims
compare methods by it (``claims``): the paper's claims are about robustness over a range of
ratios, and a mean over many ratios is far less noisy than the accuracy at one ratio on the
steep part of a curve.  It is smooth in every accuracy it reads, so a few images that flip
move it a little, never across a threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def normalised_area(ratios: Sequence[float], accuracies: Sequence[float],
                    up_to: float | None = None) -> float:
    """The mean of the piecewise-linear curve through ``(ratios, accuracies)`` over ``[0,
    up_to]`` (default: the largest ratio).  ``up_to`` must be one of the ratios, and the
    ratios must include 0."""
    ratios, accuracies = np.asarray(ratios, dtype=float), np.asarray(accuracies, dtype=float)
    order = np.argsort(ratios, kind="stable")
    ratios, accuracies = ratios[order], accuracies[order]
    up_to = ratios[-1] if up_to is None else up_to
    if ratios[0] != 0 or not np.isclose(ratios, up_to).any():
        raise ValueError(f"an area over [0, {up_to:g}] needs the ratios 0 and {up_to:g}; "
                         f"the curve has {', '.join(f'{r:g}' for r in ratios)}")
    if up_to == 0:
        return float(accuracies[0])
    keep = ratios <= up_to + 1e-9
    return float(np.trapezoid(accuracies[keep], ratios[keep]) / up_to)


def curve_score(ratios: Sequence[float], accuracies: Sequence[float],
                up_to: float | None = None) -> float:
    """How good a curve is, as tuning and the claims' choice of curves judge it: the mean of its
    dense accuracy and its ``normalised_area`` (``selection`` says why both count)."""
    ratios, accuracies = np.asarray(ratios, dtype=float), np.asarray(accuracies, dtype=float)
    dense = accuracies[np.isclose(ratios, 0)]
    return float((dense.mean() + normalised_area(ratios, accuracies, up_to)) / 2)


def areas(table: pd.DataFrame, by: list[str], column: str, up_to: float | None = None
          ) -> pd.Series:
    """``normalised_area`` of ``column`` against ``ratio`` for each group of ``by``."""
    return table.groupby(by, sort=False, dropna=False).apply(
        lambda rows: normalised_area(rows["ratio"], rows[column], up_to), include_groups=False)
