"""Learning-rate ablations: does rescaling the SFW learning rate by the gradient norm (or its
fast variant) keep more accuracy after compression than rescaling by the diameter?

The table lists, per learning-rate schedule, every method and SFW rescaling with the variant's
other overrides.  The finding compares, per SFW method and schedule, each gradient rule with the
diameter rule at the headline ratio, and counts the wins of each rule over the schedules.
"""

from __future__ import annotations

from .context import Context, Study
from .curves import (Curve, dense_and_at, define_headline_macros, headline_ratio, rescale_rank,
                     seeds_text, versus)
from .latex import Macros, bold_columns, booktabs, macro_name, tex_escape
from .prose import action, and_, dense_and_after, rescale_text

GRADIENT_RULES = ("gradient", "fast_gradient")  # each is compared with "diameter"


def table(ctx: Context, study: Study, setup: str, curves: list[Curve]) -> str:
    ratio = headline_ratio(curves)
    body: list = []
    for schedule in dict.fromkeys(c.schedule for c in curves):
        group = sorted([c for c in curves if c.schedule == schedule],
                       key=lambda c: (ctx.method_rank(c.method), rescale_rank(c)))
        if body:
            body.append("\\midrule")
        for i, (c, cells) in enumerate(zip(group, bold_columns(dense_and_at(group, ratio)))):
            body.append([tex_escape(schedule) if i == 0 else "", tex_escape(c.label),
                         tex_escape(c.rescale) or "--", _overrides(c)] + cells)
    head = f"$s={ratio:g}$" if ratio is not None else "compressed"
    caption = (f"Learning-rate ablation (study \\texttt{{{tex_escape(study.name)}}}) on "
               f"{ctx.setup_name(setup)}: {dense_and_after(study.kind)}, "
               f"per learning-rate schedule and SFW rescaling of the learning rate "
               f"(\\cref{{eq:rescale}}); overrides are the variant's other changed settings. "
               f"Mean $\\pm$ standard deviation {seeds_text(curves)}; the best value per "
               "schedule and column is in bold.")
    return booktabs(study.table_label(setup), caption, ["Schedule", "Method", "Rescaling",
                                                        "Overrides", "Dense", head], body,
                    "llllcc")


def _overrides(curve: Curve) -> str:
    """The variant's settings other than the rescaling: 'lr 10.0'."""
    pairs = [p for p in curve.variant.split(",") if p and not p.startswith("rescale=")]
    return tex_escape(", ".join(p.replace("=", " ") for p in pairs)) or "--"


def finding(ctx: Context, macros: Macros, study: Study, setup: str, curves: list[Curve],
            ratio: float) -> str:
    define_headline_macros(macros, study, setup, curves, ratio, "curve",
                           lambda c: [c.method, c.rescale, c.schedule])
    head = f"\\paragraph{{Learning-rate rescaling, {ctx.setup_name(setup)}.}} "
    see = ctx.see_study(study, setup)
    sentences = []
    tally = {r: [0, 0] for r in GRADIENT_RULES}  # rescale -> [wins over diameter, pairs]
    for method in dict.fromkeys(c.method for c in curves if c.sfw):
        for schedule in dict.fromkeys(c.schedule for c in curves):
            group = sorted([c for c in curves if c.method == method and c.schedule == schedule
                            and c.rescale and c.at(ratio) is not None], key=rescale_rank)
            if len(group) >= 2:
                sentences.append(_compare_rescalings(group, schedule, ratio, tally))
    if not sentences:
        return head + ("The study has no SFW method run with more than one rescaling of the "
                       f"learning rate.{see}\n")
    summary = []
    prefix = [study.name, setup]
    for rule, (wins, pairs) in tally.items():
        if not pairs:
            continue
        name = macro_name(rule)
        macros.define(prefix + [name, "Wins"], str(wins),
                      f"compression_summary.csv study={study.name}, setup={setup}: schedules "
                      f"where rescale={rule} has a higher test_accuracy_mean than "
                      f"rescale=diameter at ratio {ratio:g}")
        macros.define(prefix + [name, "Pairs"], str(pairs),
                      f"compression_summary.csv study={study.name}, setup={setup}: (method, "
                      f"schedule) pairs with rescale={rule} and rescale=diameter")
        summary.append(f"{rescale_text(rule).capitalize()} rescaling beat diameter rescaling "
                       f"in {wins} of {pairs} schedule{'s' if pairs != 1 else ''}.")
    return (head + f"Accuracies after {action(study.kind, ratio)}, without retraining. "
            + " ".join(sentences + summary) + see + "\n")


def _compare_rescalings(group: list[Curve], schedule: str, ratio: float,
                        tally: dict[str, list[int]]) -> str:
    """The sentence on one SFW method under one schedule (``group``: one curve per rescaling);
    adds each gradient rule's win (or not) over the diameter rule to ``tally``."""
    kept = and_([f"{c.at(ratio).inline()} with {rescale_text(c.rescale)} rescaling"
                 for c in group])
    sentence = (f"Under the {tex_escape(schedule)} schedule, {tex_escape(group[0].label)} "
                f"kept {kept}")
    by_rescale = {c.rescale: c.at(ratio) for c in group}
    verdicts = []
    for rule in GRADIENT_RULES:
        if rule not in by_rescale or "diameter" not in by_rescale:
            continue
        above, diff = versus(by_rescale[rule], by_rescale["diameter"], "points")
        tally[rule][0] += above
        tally[rule][1] += 1
        verdicts.append(f"{rescale_text(rule)} rescaling {'did' if above else 'did not'} "
                        f"beat diameter rescaling {diff}")
    return sentence + (": " + "; ".join(verdicts) if verdicts else "") + "."
