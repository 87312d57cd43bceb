"""The tuning table (tuning.csv): for every tuned curve, the grid it was tuned over and the
point chosen on validation accuracy."""

from __future__ import annotations

import json

import pandas as pd


def facts(frame: pd.DataFrame) -> dict:
    points = frame.drop_duplicates(["curve", "point"])
    curves = []
    for curve, rows in points.groupby("curve", sort=False):
        chosen = rows[rows["selected"].astype(str) == "True"]
        first = rows.iloc[0]
        curves.append({
            "curve": curve, "study": first["study"], "setup": first["setup"],
            "label": first["label"], "rescale": first.get("rescale") or None,
            "grid": [_text(p) for p in rows["point"]], "eligible": int(rows["eligible"].astype(
                str).eq("True").sum()),
            "chosen": _text(chosen["point"].iloc[0]) if len(chosen) else None,
            "score": float(chosen["score"].iloc[0]) if len(chosen) else None,
            "seeds": int(first["seeds"])})
    return {"type": "tuning", "id": "tuning", "curves": curves}


def _text(point: str) -> str:
    """'lr=0.3' from '{"lr": 0.3}'."""
    return ", ".join(f"{k.split('.')[-1]}={v:g}" for k, v in json.loads(point).items())
