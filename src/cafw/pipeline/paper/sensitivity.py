"""Sensitivity: how much does an SFW method's accuracy depend on k and the constraint value?

The table lists every (k, value) of every method; for each SFW method run with more than one
setting, the facts give its best and worst settings, chosen by their validation accuracy at the
headline ratio (no choice reads a test accuracy), with their test accuracies, and the range of
its dense test accuracy.
"""

from __future__ import annotations

import math

from .curves import MeasuredCurve, headline, section
from .sections import STUDY_SECTIONS, StudySection


def facts(curves: list[MeasuredCurve], study: dict, claims: list[dict]) -> dict:
    """The sensitivity of one study on one setup (its claims are not quoted here)."""
    ratio = headline(curves)
    methods = list(dict.fromkeys(c["method"] for c in curves))
    out = section("sensitivity", sorted(curves, key=lambda c: (
        methods.index(c["method"]), *(-math.inf if math.isnan(c[key]) else c[key]
                                      for key in ("k", "value")))), ratio, [ratio])
    def validation(curve: MeasuredCurve) -> float:
        return curve.at(ratio, "val")["mean"]

    ranges = []
    for method in dict.fromkeys(c["method"] for c in curves if c.sfw):
        group = [c for c in curves if c["method"] == method and c.at(ratio) is not None]
        if len(group) < 2:
            continue
        dense = [d for d in map(MeasuredCurve.dense, group) if d is not None]
        ranges.append({"method": method, "label": group[0]["label"], "settings": len(group),
                       "worst": min(group, key=validation).summary(ratio),
                       "best": max(group, key=validation).summary(ratio),
                       "dense_low": min(dense, key=lambda d: d["mean"], default=None),
                       "dense_high": max(dense, key=lambda d: d["mean"], default=None)})
    return out | {"ranges": ranges, **{f"{key}_grid": sorted(
        {row[key] for row in out["curves"] if row[key] is not None}) for key in ("k", "value")}}


STUDY_SECTIONS.add("sensitivity", StudySection(facts, (("k", "k"), ("value", "value"))))
