"""Learning-rate ablation: does rescaling SFW's learning rate by the gradient norm (or its fast
variant) keep more accuracy after compression than the static rules?

The table lists every method and rescaling per schedule, each rescaling at the learning rate
its own tuning chose in each replicate.  The finding quotes each rescaling's accuracy at the
headline ratio and the verdicts of the claims checked on the study (``claims.of_study``), the
paper's one rule for judging a difference.
"""

from __future__ import annotations

from ...vocabulary import RESCALES
from .curves import MeasuredCurve, headline, section
from .sections import STUDY_SECTIONS, StudySection


def facts(curves: list[MeasuredCurve], study: dict, claims: list[dict]) -> dict:
    ratio = headline(curves)
    schedules = list(dict.fromkeys(c["schedule"] for c in curves))
    methods = list(dict.fromkeys(c["method"] for c in curves))
    curves = sorted(curves, key=lambda c: (
        schedules.index(c["schedule"]), methods.index(c["method"]),
        RESCALES.index(c["rescale"]) if c["rescale"] else len(RESCALES)))
    out = section("ablation", curves, ratio, [ratio], group=lambda c: c["schedule"])
    for row in out["curves"]:  # the variant's settings besides the rescaling
        row["overrides"] = [p for p in row["variant"].split(",")
                            if p and not p.startswith("rescale=")]
    kept = []
    for method in dict.fromkeys(c["method"] for c in curves if c.sfw):
        for schedule in schedules:
            group = [c for c in curves if c["method"] == method and c["schedule"] == schedule
                     and c["rescale"] and c.at(ratio) is not None]
            if len(group) > 1:
                kept.append({"method": method, "label": group[0]["label"],
                             "schedule": schedule,
                             "kept": [{"rescale": c["rescale"], **c.at(ratio)} for c in group]})
    return out | {
        "schedules": schedules,
        "rescales": list(dict.fromkeys(c["rescale"] for c in curves if c["rescale"])),
        "comparisons": kept,
        "claims": claims,
    }


STUDY_SECTIONS.add("ablation", StudySection(facts, (("rescaling", "rescale"),)))
