"""The claims table (claims.csv): each claim of the paper on each setup with its verdict and
the measures it rests on, each with its effect, interval, probability of improvement and the
seeds a decisive verdict would need (``cafw.pipeline.claims``)."""

from __future__ import annotations

import pandas as pd

CLAIM = ["claim", "statement", "study", "setup", "schedule", "method", "versus", "up_to",
         "ratio"]
MEASURE = ["pair", "method", "versus", "part", "measure", "better", "method_value",
           "versus_value", "effect", "ci_low", "ci_high", "p_improvement", "samples", "unit",
           "samples_needed", "threshold", "effect_at_ratio", "ci_low_at_ratio",
           "ci_high_at_ratio", "verdict", "part_verdict"]


def facts(frame: pd.DataFrame) -> dict:
    """Per claim and setup: its verdict, the curves of each side (several where the claim
    compares each pair) and its measures."""
    claims = []
    for _, rows in frame.groupby(["claim", "setup"], sort=False):
        first = rows.iloc[0]
        sides = {side: ", ".join(rows[side].unique()) for side in ("method", "versus")}
        claims.append({**{key: _plain(first[key]) for key in CLAIM if key in rows}, **sides,
                       "verdict": first["claim_verdict"],
                       "measures": [{key: _plain(row[key]) for key in MEASURE}
                                    for _, row in rows.iterrows()]})
    return {"type": "claims", "id": "claims", "claims": claims}


def _plain(value):
    """A JSON value: NaN as None, numpy scalars as Python numbers."""
    if isinstance(value, float) and pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value
