"""Method-comparison studies: which method keeps the most accuracy after compression.

The table gives every method's dense accuracy and its accuracy at a few ratios of the kind
(those of ``TABLE_RATIOS`` nearest to what every method has).  The finding compares, at the
headline ratio, the best SFW method with the reference baseline: plain SGD when the study has
it, else the best baseline.
"""

from __future__ import annotations

from .context import Context, Study
from .curves import (HEADLINE, Curve, common_ratios, define_headline_macros, dense_clause,
                     nearest, seeds_text, versus)
from .latex import Macros, bold_columns, booktabs, tex_escape
from .prose import action, kind_ratio, kind_title

TABLE_RATIOS = {"filter": (0.3, 0.5, 0.7), "lowrank": (0.3, 0.5, 0.7),
                "unstructured": (0.5, 0.8, 0.9, 0.95)}


def table(ctx: Context, study: Study, setup: str, curves: list[Curve]) -> str:
    ratios = _table_ratios(study.kind, common_ratios(curves))
    columns = [("Dense", [c.dense() for c in curves])]
    columns += [(f"$s={r:g}$", [c.at(r) for c in curves]) for r in ratios]
    body = [[_curve_name(c, curves)] + cells for c, cells in
            zip(curves, bold_columns([stats for _, stats in columns]))]
    caption = (f"{kind_title(study.kind)} on "
               f"{ctx.setup_name(setup)} (study \\texttt{{{tex_escape(study.name)}}}): "
               f"top-1 test accuracy (\\%) of the dense model and after compression at ratio "
               f"$s$, {kind_ratio(study.kind)}, without "
               f"retraining. Mean $\\pm$ standard deviation {seeds_text(curves)}; "
               "the best value per column is in bold.")
    return booktabs(study.table_label(setup), caption, ["Method"] + [h for h, _ in columns],
                    body, "l" + "c" * len(columns))


def _table_ratios(kind: str, ratios: list[float]) -> list[float]:
    chosen = [nearest(ratios, t) for t in TABLE_RATIOS.get(kind, (HEADLINE,))]
    return sorted({r for r in chosen if r is not None})


def _curve_name(curve: Curve, curves: list[Curve]) -> str:
    """The label, plus schedule and variant only when they distinguish curves."""
    extras = []
    for key in ("schedule", "variant"):
        if len({getattr(c, key) for c in curves}) > 1 and getattr(curve, key):
            extras.append(tex_escape(getattr(curve, key)))
    return tex_escape(curve.label) + (f" ({', '.join(extras)})" if extras else "")


def finding(ctx: Context, macros: Macros, study: Study, setup: str, curves: list[Curve],
            ratio: float) -> str:
    several_schedules = len({c.schedule for c in curves}) > 1
    define_headline_macros(macros, study, setup, curves, ratio, "method", lambda c: (
        [c.method] + ([c.schedule] if several_schedules else []) +
        ([c.variant] if c.variant else [])))

    scored = [c for c in curves if c.at(ratio) is not None]
    sfw = [c for c in scored if c.sfw]
    head = f"\\paragraph{{{kind_title(study.kind)}, {ctx.setup_name(setup)}.}} "
    see = ctx.see_study(study, setup)
    if not sfw:
        return head + f"No SFW method has accuracies at this ratio.{see}\n"
    best = max(sfw, key=lambda c: c.at(ratio).mean)
    reference = _reference(scored, ratio)
    b_at, b_dense = best.at(ratio), best.dense()
    prefix = [study.name, setup]
    macros.define(prefix + ["BestSfw"], tex_escape(best.label),
                  f"compression_summary.csv study={study.name}, setup={setup}: SFW method "
                  f"with the highest test_accuracy_mean at ratio {ratio:g}")
    macros.define(prefix + ["BestSfwCompressed"], b_at.macro(), b_at.source)
    if b_dense is not None:
        macros.define(prefix + ["BestSfwDense"], b_dense.macro(), b_dense.source)
    text = (head + f"After {action(study.kind, ratio)}, without retraining, the best SFW "
            f"method, {tex_escape(best.label)}, kept {b_at.inline()} test accuracy"
            f"{dense_clause(b_dense)}")
    if reference is None:
        return text + f"; the study has no baseline to compare with.{see}\n"
    r_at, r_dense = reference.at(ratio), reference.dense()
    above, diff = versus(b_at, r_at, "percentage points")
    text += (f", and {tex_escape(reference.label)} kept {r_at.inline()}{dense_clause(r_dense)}. "
             f"The best SFW method {'did' if above else 'did not'} keep more accuracy than "
             f"{tex_escape(reference.label)} {diff}.")
    overall = max(scored, key=lambda c: c.at(ratio).mean)
    if overall is not best and overall is not reference:
        text += (f" The highest accuracy at this ratio was that of "
                 f"{tex_escape(overall.label)} ({overall.at(ratio).inline()}).")
    return text + see + "\n"


def _reference(curves: list[Curve], ratio: float) -> Curve | None:
    """Plain SGD (method 'sgd' or label 'SGD'); else the best non-SFW method at ``ratio``."""
    for c in curves:
        if c.method == "sgd" or c.label.strip().lower() == "sgd":
            return c
    baselines = [c for c in curves if not c.sfw]
    return max(baselines, key=lambda c: c.at(ratio).mean) if baselines else None
