"""The step-size rules of SFW on the smooth non-convex problem of the paper's theory section,
from lr_theory.csv: per rule, the best Frank-Wolfe gap and the classical bound at the largest
horizon, whether the gap stayed below the bound throughout, and the log-log slope of the gap
against the horizon (the rate).  The slope is fitted here with numpy, as in
``cafw.lr_theory.slopes``, so that the paper is generated without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .context import Context
from .latex import Macros, booktabs, fmt_int, fmt_sci, tex_escape
from .prose import and_

RULE_ORDER = ("constant", "gradient", "diameter")


@dataclass
class RuleResult:
    """One step-size rule of lr_theory.csv at the largest horizon."""

    rule: str
    gap: float  # best Frank-Wolfe gap within T_max, mean over seeds
    bound: float  # the classical bound at T_max, mean over seeds
    below: bool  # best gap <= bound at every horizon and seed
    slope: float | None  # log-log slope of the seed-mean best gap against the horizon
    step: float | None  # effective step size at the last recorded iteration, mean over seeds


@dataclass
class LrTheory:
    horizons: list[float]
    seeds: int
    last_iteration: float | None
    rules: list[RuleResult]


def _lr_theory(ctx: Context) -> LrTheory | None:
    frame = ctx.lr_theory
    if frame is None or "horizon" not in frame.columns:
        return None
    gaps = frame.dropna(subset=["horizon"])
    if gaps.empty:
        return None
    horizons = sorted(gaps["horizon"].unique())
    steps = frame.dropna(subset=["iteration"]) if "iteration" in frame.columns else frame.iloc[:0]
    last = steps["iteration"].max() if not steps.empty else None
    eta = (steps[steps["iteration"] == last].groupby("rule")["step_size"].mean()
           if last is not None else pd.Series(dtype=float))
    results = []
    for rule in sorted(gaps["rule"].unique(), key=lambda r: (
            RULE_ORDER.index(r) if r in RULE_ORDER else len(RULE_ORDER), r)):
        rows = gaps[gaps["rule"] == rule]
        at_max = rows[rows["horizon"] == horizons[-1]]
        results.append(RuleResult(
            rule, float(at_max["best_gap"].mean()), float(at_max["bound"].mean()),
            bool((rows["best_gap"] <= rows["bound"]).all()),
            _loglog_slope(rows.groupby("horizon")["best_gap"].mean()),
            float(eta[rule]) if rule in eta.index else None))
    seeds = gaps["seed"].nunique() if "seed" in gaps.columns else 1
    return LrTheory(horizons, seeds, last, results)


def _loglog_slope(mean: pd.Series) -> float | None:
    """Least-squares slope of log(best gap) against log(horizon), as in cafw.lr_theory.slopes."""
    mean = mean[(mean > 0) & (mean.index.to_series() > 0)]
    if len(mean) < 2:
        return None
    x = np.log(mean.index.to_numpy(float))
    return float(np.polyfit(x, np.log(mean.to_numpy(float)), 1)[0])


def table(ctx: Context) -> str:
    theory = _lr_theory(ctx)
    if theory is None:
        return "% no lr_theory.csv: no step-size table\n"
    ctx.table_labels.add("tab:lr-theory")
    t_max, n = fmt_int(theory.horizons[-1]), len(theory.horizons)
    body = [[tex_escape(r.rule), fmt_sci(r.gap), fmt_sci(r.bound), "yes" if r.below else "no",
             "--" if r.slope is None else f"${r.slope:.2f}$",
             "--" if r.step is None else fmt_sci(r.step)] for r in theory.rules]
    at = (f", and the effective step size $\\eta_t$ at iteration "
          f"$t={fmt_int(theory.last_iteration)}$ of the longest run"
          if theory.last_iteration is not None else "")
    caption = (f"Step-size rules on the smooth non-convex problem of \\cref{{sec:lr-theory}}: "
               f"the best Frank--Wolfe gap within $T={t_max}$ iterations and the classical bound "
               f"at that $T$ (means over {theory.seeds} seed{'s' if theory.seeds != 1 else ''}); "
               f"whether the best gap stayed below the bound at all {n} horizons and every "
               f"seed; the least-squares slope of the log best gap against $\\log T$ over the "
               f"horizons (a slope of $-1/2$ is the $O(1/\\sqrt{{T}})$ rate){at}.")
    return booktabs("tab:lr-theory", caption, ["Rule", "Best gap", "Bound", "Below bound",
                                               "Slope", "$\\eta_t$"], body, "lrrcrr")


def finding(ctx: Context, macros: Macros) -> str:
    theory = _lr_theory(ctx)
    if theory is None:
        return "% no lr_theory.csv (or no rows with a horizon): no step-size finding\n"
    t_max = fmt_int(theory.horizons[-1])
    macros.define(["LrTheory", "Horizon"], t_max, "lr_theory.csv: largest horizon")
    macros.define(["LrTheory", "Seeds"], str(theory.seeds), "lr_theory.csv: distinct seeds")
    for r in theory.rules:
        where = f"lr_theory.csv rule={r.rule}, horizon={t_max}"
        macros.define(["LrTheory", r.rule, "Gap"], fmt_sci(r.gap),
                      f"{where}: best_gap, mean over seeds")
        macros.define(["LrTheory", r.rule, "Bound"], fmt_sci(r.bound),
                      f"{where}: bound, mean over seeds")
        if r.slope is not None:
            macros.define(["LrTheory", r.rule, "Slope"], f"{r.slope:.2f}",
                          f"lr_theory.csv rule={r.rule}: least-squares slope of log(seed-mean "
                          "best_gap) against log(horizon)")
    below = [tex_escape(r.rule) for r in theory.rules if r.below]
    above = [tex_escape(r.rule) for r in theory.rules if not r.below]
    text = (f"\\paragraph{{Step-size rules.}} Over {theory.seeds} "
            f"seed{'s' if theory.seeds != 1 else ''} and {len(theory.horizons)} horizons $T$ "
            f"from {fmt_int(theory.horizons[0])} to {t_max}, the best Frank--Wolfe gap within $T$ "
            "iterations stayed below the classical bound at every horizon and seed ")
    if below:
        text += f"for the {and_(below)} rule{'s' if len(below) > 1 else ''}"
        text += f", but not for the {and_(above)} rule{'s' if len(above) > 1 else ''}." \
            if above else "."
    else:
        text = text.replace("stayed below", "did not stay below") + "for any rule."
    slopes = [f"${r.slope:.2f}$ ({tex_escape(r.rule)})" for r in theory.rules
              if r.slope is not None]
    if slopes:
        text += (" The fitted slopes of the log best gap against $\\log T$ were "
                 f"{and_(slopes)}; a slope of $-1/2$ is the $O(1/\\sqrt{{T}})$ rate.")
    return text + ctx.see("tab:lr-theory", "fig:lr-theory") + "\n"
