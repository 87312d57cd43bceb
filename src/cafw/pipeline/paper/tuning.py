"""The tuning table (tuning.csv): for every tuned curve, the grid it was tuned over, how often
each replicate's tuning chose each point, the best point by the score averaged over the
replicates with its score and the runner-up's (how clear the choice was), and the flags that
say where a grid is too narrow or too coarse (``selection.FLAGS``)."""

from __future__ import annotations

import json

import pandas as pd

from ..selection import FLAGS


def facts(frame: pd.DataFrame) -> dict:
    curves = []
    for curve, rows in frame.groupby("curve", sort=False):
        first = rows.iloc[0]
        pooled = rows.groupby("point", sort=False)["score"].mean().sort_values(
            ascending=False, kind="stable")
        chosen = rows[rows["selected"].astype(str) == "True"]
        counts = chosen["point"].value_counts()
        curves.append({
            "curve": curve, "study": first["study"], "setup": first["setup"],
            "label": first["label"], "rescale": first.get("rescale") or None,
            "grid": [_text(p) for p in rows["point"].unique()],
            "replicates": int(rows["replicate"].nunique()),
            "choices": [{"point": _text(p), "replicates": int(counts[p])}
                        for p in rows["point"].unique() if p in counts],
            "best": _text(pooled.index[0]), "score": float(pooled.iloc[0]),
            "runner_up": float(pooled.iloc[1]) if len(pooled) > 1 else None,
            "flags": [FLAGS[f] for f in first["pooled_flags"].split(",") if f],
            "flagged_choices": int((chosen["flags"] != "").sum()),
            "seeds": int(first["seeds"])})
    return {"type": "tuning", "id": "tuning", "curves": curves}


def _text(point: str) -> str:
    """'lr=0.3' from '{"lr": 0.3}'."""
    return ", ".join(f"{k.split('.')[-1]}={v:g}" for k, v in json.loads(point).items())
