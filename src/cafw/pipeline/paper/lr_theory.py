"""The step-size rules of SFW on the smooth non-convex problem of the paper's theory section,
from lr_theory.csv: per rule, the best Frank-Wolfe gap and the classical bound at the largest
horizon, whether the gap stayed below the bound at every horizon and seed, and the log-log slope
of the gap against the horizon (the rate).  The slope is fitted here with numpy, as
``cafw.lr_theory.slopes`` fits it, so that the paper is generated without importing torch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...vocabulary import LR_THEORY_RULES
from .tables import InputError


def facts(frame: pd.DataFrame) -> dict:
    gaps, steps = frame.dropna(subset=["horizon"]), frame.dropna(subset=["iteration"])
    if gaps.empty:
        raise InputError("lr_theory.csv has no rows with a horizon")
    horizons = sorted(float(h) for h in gaps["horizon"].unique())
    last = float(steps["iteration"].max()) if len(steps) else None
    step = steps[steps["iteration"] == last].groupby("rule")["step_size"].mean()
    rules = []
    order = list(LR_THEORY_RULES)  # the table's order; other rules follow
    for rule in sorted(gaps["rule"].unique(), key=lambda r: (
            order.index(r) if r in order else len(order), r)):
        rows = gaps[gaps["rule"] == rule]
        at_max = rows[rows["horizon"] == horizons[-1]]
        rules.append({"rule": rule, "gap": float(at_max["best_gap"].mean()),
                      "bound": float(at_max["bound"].mean()),
                      "below": bool((rows["best_gap"] <= rows["bound"]).all()),
                      "slope": _loglog_slope(rows.groupby("horizon")["best_gap"].mean()),
                      "step": float(step[rule]) if rule in step.index else None})
    return {"type": "lr_theory", "id": "lr-theory", "horizons": horizons,
            "seeds": int(gaps["seed"].nunique()), "last_iteration": last, "rules": rules}


def _loglog_slope(mean: pd.Series) -> float | None:
    """Least-squares slope of log(best gap) against log(horizon), None below two points."""
    mean = mean[(mean > 0) & (mean.index.to_series() > 0)]
    if len(mean) < 2:
        return None
    return float(np.polyfit(np.log(mean.index.to_numpy(float)), np.log(mean.to_numpy(float)),
                            1)[0])
