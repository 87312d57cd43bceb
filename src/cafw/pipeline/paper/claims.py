"""The claims table (claims.csv): each claim of the paper with its comparison, the effect
and its confidence interval over seeds, and the verdict (``cafw.pipeline.claims``)."""

from __future__ import annotations

import pandas as pd


def facts(frame: pd.DataFrame) -> dict:
    rows = [{key: None if isinstance(v, float) and pd.isna(v) else v
             for key, v in row.items()} for row in frame.to_dict("records")]
    return {"type": "claims", "id": "claims", "claims": rows}
