"""findings.tex: sentences generated from the numbers, and only from them, and the macros of
numbers.tex that they quote.  First the counts of studies, setups, runs, seeds and methods
(main.tex has defaults for them), then one paragraph per study and setup at its headline ratio,
written by the module of the study's role, then compute and the step-size rules.  Run after the
tables and figures are known: a paragraph refers only to the labels that exist.
"""

from __future__ import annotations

from . import compute, lr_theory
from .context import Context
from .curves import headline_ratio, study_curves
from .latex import Macros
from .tables import BY_ROLE


def render(ctx: Context, macros: Macros) -> str:
    _define_counts(ctx, macros)
    parts = []
    for study, setup, curves in study_curves(ctx):
        if not curves:
            continue
        ratio = headline_ratio(curves)
        if ratio is None:
            parts.append(f"% {study.name} x {setup}: no compressed ratios\n")
        else:
            parts.append(BY_ROLE[study.role].finding(ctx, macros, study, setup, curves, ratio))
    parts.append(compute.finding(ctx, macros))
    parts.append(lr_theory.finding(ctx, macros))
    text = "\n".join(p for p in parts if p)
    return text if text.strip() else "% no tables: no findings\n"


def _define_counts(ctx: Context, macros: Macros) -> None:
    """\\NumStudies, \\NumSetups, ...: distinct values in the manifest."""
    if ctx.runs is None:
        return
    name = "manifest.csv" if ctx.manifest is not None else "compression_summary.csv"
    for macro, column in (("NumStudies", "study"), ("NumSetups", "setup"), ("NumRuns", "run"),
                          ("NumSeeds", "seed"), ("NumMethods", "method")):
        if column in ctx.runs.columns:
            macros.define([macro], str(ctx.runs[column].nunique()),
                          f"{name}: distinct values of '{column}'")
