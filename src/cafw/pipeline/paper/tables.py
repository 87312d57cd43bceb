"""tables.tex: one table per study and setup, built by the module of the study's role, then
the compute and step-size tables, with a \\clearpage every few floats.  A study and setup
without rows in compression_summary.csv leaves a comment instead of a table.
"""

from __future__ import annotations

from . import ablation, comparison, compute, lr_theory, sensitivity
from .context import ABLATION, COMPARISON, SENSITIVITY, Context
from .curves import study_curves
from .latex import paginate

BY_ROLE = {COMPARISON: comparison, ABLATION: ablation, SENSITIVITY: sensitivity}


def render(ctx: Context) -> str:
    """The tables; their labels are recorded in ``ctx.table_labels`` for the findings."""
    parts = []
    for study, setup, curves in study_curves(ctx):
        if not curves:
            parts.append(f"% {study.name} x {setup}: no rows in compression_summary.csv\n")
            continue
        parts.append(BY_ROLE[study.role].table(ctx, study, setup, curves))
        ctx.table_labels.add(study.table_label(setup))
    parts.append(compute.table(ctx))
    parts.append(lr_theory.table(ctx))
    if not any(p.startswith("\\begin{table}") for p in parts):
        return "\n".join(parts) + ("% no tables: compression_summary.csv, compute.csv and "
                                   "lr_theory.csv absent\n")
    return paginate(parts)
