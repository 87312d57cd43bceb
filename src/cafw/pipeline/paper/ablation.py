"""Learning-rate ablation: does rescaling SFW's learning rate by the gradient norm (or its fast
variant) keep more accuracy after compression than rescaling by the diameter?

The table lists every method and rescaling per schedule.  For each SFW method and schedule,
each gradient rule is set against the diameter rule at the headline ratio, and each rule's wins
are counted over the schedules.
"""

from __future__ import annotations

from ...vocabulary import RESCALES
from .curves import MeasuredCurve, compare, headline, section

GRADIENT_RULES = ("gradient", "fast_gradient")  # each is set against "diameter"


def facts(curves: list[MeasuredCurve]) -> dict:
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

    comparisons, wins = [], {rule: [] for rule in GRADIENT_RULES}
    for method in dict.fromkeys(c["method"] for c in curves if c.sfw):
        for schedule in schedules:
            group = [c for c in curves if c["method"] == method and c["schedule"] == schedule
                     and c["rescale"] and c.at(ratio) is not None]
            kept = {c["rescale"]: {"rescale": c["rescale"], **c.at(ratio)} for c in group}
            if len(kept) < 2:
                continue
            verdicts = [compare(kept[rule], kept["diameter"])
                        for rule in GRADIENT_RULES if rule in kept and "diameter" in kept]
            for verdict in verdicts:
                wins[verdict["a"]["rescale"]].append(verdict["difference"] > 0)
            comparisons.append({"method": method, "label": group[0]["label"],
                                "schedule": schedule, "kept": list(kept.values()),
                                "verdicts": verdicts})
    return out | {
        "schedules": schedules,
        "rescales": list(dict.fromkeys(c["rescale"] for c in curves if c["rescale"])),
        "comparisons": comparisons,
        "wins": [{"rule": rule, "wins": sum(won), "pairs": len(won)}
                 for rule, won in wins.items() if won],
    }
