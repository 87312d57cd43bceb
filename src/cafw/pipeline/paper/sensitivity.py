"""Sensitivity studies: how much the accuracy of an SFW method depends on k and the constraint
value.  The table lists every (k, value) of every method with its dense accuracy and its
accuracy at the headline ratio; the finding gives, per SFW method, the range of both over the
settings and the best setting.
"""

from __future__ import annotations

import math

import pandas as pd

from .context import Context, Study
from .curves import Curve, dense_and_at, headline_ratio, seeds_text
from .latex import Macros, bold_columns, booktabs, fmt_num, tex_escape
from .prose import action, dense_and_after


def table(ctx: Context, study: Study, setup: str, curves: list[Curve]) -> str:
    ratio = headline_ratio(curves)
    curves = sorted(curves, key=lambda c: (ctx.method_rank(c.method), _key_float(c, "k"),
                                           _key_float(c, "value")))
    body = [[tex_escape(c.label), fmt_num(c.keys.get("k")), fmt_num(c.keys.get("value"))] + cells
            for c, cells in zip(curves, bold_columns(dense_and_at(curves, ratio)))]
    head = f"$s={ratio:g}$" if ratio is not None else "compressed"
    caption = (f"Sensitivity to $k$ and the constraint value (study "
               f"\\texttt{{{tex_escape(study.name)}}}) on {ctx.setup_name(setup)}: "
               f"{dense_and_after(study.kind)}. "
               f"Mean $\\pm$ standard deviation {seeds_text(curves)}; best per column in bold.")
    return booktabs(study.table_label(setup), caption, ["Method", "$k$", "Value", "Dense", head],
                    body, "lrrcc")


def _key_float(curve: Curve, key: str) -> float:
    """k or value for sorting; a curve without one comes first."""
    value = curve.keys.get(key)
    return float(value) if value is not None and pd.notna(value) else -math.inf


def finding(ctx: Context, macros: Macros, study: Study, setup: str, curves: list[Curve],
            ratio: float) -> str:
    prefix = [study.name, setup]
    head = f"\\paragraph{{Sensitivity, {ctx.setup_name(setup)}.}} "
    see = ctx.see_study(study, setup)
    sentences = []
    for method in dict.fromkeys(c.method for c in curves if c.sfw):
        group = [c for c in curves if c.method == method and c.at(ratio) is not None]
        if len(group) < 2:
            continue
        best = max(group, key=lambda c: c.at(ratio).mean)
        worst = min(group, key=lambda c: c.at(ratio).mean)
        dense = [c.dense() for c in group if c.dense() is not None]
        best_at = best.at(ratio)
        macros.define(prefix + [method, "BestK"], fmt_num(best.keys.get("k")),
                      f"{best_at.source} (highest mean at this ratio)")
        macros.define(prefix + [method, "BestValue"], fmt_num(best.keys.get("value")),
                      f"{best_at.source} (highest mean at this ratio)")
        macros.define(prefix + [method, "BestCompressed"], best_at.macro(), best_at.source)
        text = (f"Over the {len(group)} settings of {tex_escape(best.label)}, accuracy after "
                f"{action(study.kind, ratio)} ranged from {worst.at(ratio).inline()} "
                f"({_kv(worst)}) to {best_at.inline()} ({_kv(best)})")
        if dense:
            low, high = min(dense, key=lambda s: s.mean), max(dense, key=lambda s: s.mean)
            text += f"; dense accuracy ranged from {low.inline()} to {high.inline()}"
        sentences.append(text + ".")
    if not sentences:
        return head + f"No SFW method was run with more than one setting.{see}\n"
    return head + " ".join(sentences) + see + "\n"


def _kv(curve: Curve) -> str:
    return f"$k={fmt_num(curve.keys.get('k'))}$, value ${fmt_num(curve.keys.get('value'))}$"
