"""The claims table (claims.csv): each claim of the paper on each setup with its verdict and
the measures it rests on, each with its effect, its intervals (95% and Holm-corrected), the
probability of improvement with its interval and the replicates a decisive verdict would
need (``cafw.pipeline.claims``).  It is the paper's one verdict rule: a study's finding states
the verdicts of the claims checked on it (``of_study``), and nothing else in the paper judges
a difference."""

from __future__ import annotations

import pandas as pd

CLAIM = ["claim", "statement", "study", "setup", "schedule", "method", "versus", "up_to",
         "ratio", "protocol"]
MEASURE = ["pair", "method", "versus", "part", "measure", "better", "method_value",
           "versus_value", "effect", "ci_low", "ci_high", "ci_low_holm", "ci_high_holm",
           "p_improvement", "p_improvement_low", "p_improvement_high", "samples", "unit",
           "evaluation_seeds", "min_effect", "samples_needed", "threshold", "effect_at_ratio",
           "ci_low_at_ratio", "ci_high_at_ratio", "verdict", "part_verdict"]


def facts(frame: pd.DataFrame) -> dict:
    """Per claim and setup: its verdict, the curves of each side (several where the claim
    compares each pair) and its measures."""
    return {"type": "claims", "id": "claims", "claims": _claims(frame)}


def of_study(frame: pd.DataFrame, study: str, setup: str) -> list[dict]:
    """The claims checked on ``study`` and ``setup``, as in ``facts``."""
    if frame.empty:
        return []
    return _claims(frame[(frame["study"] == study) & (frame["setup"] == setup)])


def _claims(frame: pd.DataFrame) -> list[dict]:
    claims = []
    for _, rows in frame.groupby(["claim", "setup"], sort=False):
        first = rows.iloc[0]
        sides = {side: ", ".join(rows[side].unique()) for side in ("method", "versus")}
        parts = rows.drop_duplicates("part")
        claims.append({**{key: _plain(first[key]) for key in CLAIM if key in rows}, **sides,
                       "verdict": first["claim_verdict"],
                       "parts": dict(zip(parts["part"], parts["part_verdict"])),
                       "measures": [{key: _plain(row[key]) for key in MEASURE}
                                    for _, row in rows.iterrows()]})
    return claims


def _plain(value):
    """A JSON value: NaN as None, numpy scalars as Python numbers."""
    if isinstance(value, float) and pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value
