"""The tuning table (tuning.csv): for every tuned curve, the grid it was tuned over and the
point chosen on validation data, with its score, the score's spread over the tuning seeds and
the runner-up's score (how clear the choice was)."""

from __future__ import annotations

import json

import pandas as pd


def facts(frame: pd.DataFrame) -> dict:
    points = frame.drop_duplicates(["curve", "point"])
    curves = []
    for curve, rows in points.groupby("curve", sort=False):
        chosen = rows[rows["selected"].astype(str) == "True"]
        others = rows[rows["selected"].astype(str) != "True"]["score"]
        first = rows.iloc[0]
        curves.append({
            "curve": curve, "study": first["study"], "setup": first["setup"],
            "label": first["label"], "rescale": first.get("rescale") or None,
            "grid": [_text(p) for p in rows["point"]],
            "chosen": _text(chosen["point"].iloc[0]) if len(chosen) else None,
            "score": _number(chosen["score"].iloc[0]) if len(chosen) else None,
            "score_std": _number(chosen["score_std"].iloc[0]) if len(chosen) else None,
            "runner_up": _number(others.max()) if len(others) else None,
            "seeds": int(first["seeds"])})
    return {"type": "tuning", "id": "tuning", "curves": curves}


def _text(point: str) -> str:
    """'lr=0.3' from '{"lr": 0.3}'."""
    return ", ".join(f"{k.split('.')[-1]}={v:g}" for k, v in json.loads(point).items())


def _number(x) -> float | None:
    return None if pd.isna(x) else float(x)
