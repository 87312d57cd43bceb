"""Method comparison: which method keeps the most accuracy after compression?

The table gives each method's accuracy at a few ratios of the kind.  The finding quotes the
best SFW method at the headline ratio beside the reference baseline: the config's
``baseline`` method when the study has it, else the best baseline ("best" always on validation
accuracy; the numbers quoted are test accuracies), and the verdicts of the claims checked on
the study (``claims.of_study``), the paper's one rule for judging a difference.
"""

from __future__ import annotations

from ...vocabulary import KINDS
from .curves import MeasuredCurve, compressed_ratios, headline, nearest, section
from .sections import STUDY_SECTIONS, StudySection


def facts(curves: list[MeasuredCurve], study: dict, claims: list[dict]) -> dict:
    """The comparison of one study on one setup; ``study``: its row of studies.csv, whose
    ``baseline`` is the config's baseline method; ``claims``: those checked on it."""
    baseline = study["baseline"]
    ratio = headline(curves)
    available = compressed_ratios(curves)
    kind = curves[0].rows["kind"].iloc[0]
    ratios = sorted({nearest(available, r) for r in KINDS[kind].table_ratios})
    out = section("comparison", curves, ratio, ratios)
    for row in out["curves"]:  # schedule and variant name a curve where they tell curves apart
        row["extras"] = [row[key] for key in ("schedule", "variant") if row[key] and
                         len({c[key] for c in curves}) > 1]

    def score(curve: MeasuredCurve) -> float:
        return curve.at(ratio, "val")["mean"]

    scored = [c for c in curves if c.at(ratio) is not None]
    baselines = [c for c in scored if not c.sfw]
    named = [c for c in baselines if c["method"] == baseline]
    best = max((c for c in scored if c.sfw), key=score, default=None)
    reference = named[0] if named else max(baselines, key=score, default=None)
    overall = max(scored, key=score, default=None)
    return out | {
        "best_sfw": best.summary(ratio) if best else None,
        "reference": reference.summary(ratio) if reference else None,
        "best_overall": overall.summary(ratio) if overall not in (best, reference) else None,
        "claims": claims,
    }


STUDY_SECTIONS.add("comparison", StudySection(facts))
