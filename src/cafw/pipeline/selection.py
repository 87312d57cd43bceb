"""Choosing each tuned curve's hyperparameters from validation accuracy alone.

The rule, stated once here and quoted in the README and the paper: among the grid points of
a curve, keep those whose dense validation accuracy (mean over the tuning seeds) is within
``TOLERANCE`` (one point) of the best; of these, choose the point with the largest validation
accuracy averaged over the study's nonzero compression ratios and the tuning seeds.  Ties go
to the first point in the config's order.  Test accuracies ride along in the table, for the
figures, and are never read by the rule.

    tuning = select(plan, sweeps)       # plan: Grid.tuning; sweeps: the tuning runs' sweeps
    chosen = read_selection(path)       # {curve id: {key: value}} for cafw.pipeline.grid
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .grid import TOLERANCE

SCORES = ["val_accuracy", "dense_val_accuracy"]  # what the rule reads
REPORTED = ["test_accuracy", "dense_test_accuracy"]  # what the figures show
POINT = ["curve", "point"]


def select(plan: pd.DataFrame, sweeps: pd.DataFrame, tolerance: float = TOLERANCE
           ) -> pd.DataFrame:
    """One row per (curve, point, ratio): the means over the tuning seeds, the point's
    ``score`` and ``dense_score``, whether it is ``eligible`` and whether it is ``selected``.

    ``plan`` has one row per (curve, point, run) with the curve's tags; ``sweeps`` the rows
    of the runs' compression sweeps (``run``, ``kind``, ``ratio`` and the accuracies).
    """
    if plan.empty:  # no curve is tuned
        return pd.DataFrame(columns=[*plan.columns, "ratio", *SCORES, *REPORTED, "seeds",
                                     "score", "dense_score", "eligible", "selected"])
    # a run may serve several curves (plain SGD tuned for several studies of one kind)
    rows = plan.merge(sweeps[["run", "kind", "ratio", *SCORES, *REPORTED]], on=["run", "kind"],
                      how="left")
    if rows["ratio"].isna().any():
        missing = rows.loc[rows["ratio"].isna(), "run"].iloc[0]
        raise ValueError(f"no sweep rows for tuning run {missing}")
    keys = [c for c in plan.columns if c not in ("run", "seed")]
    table = (rows.groupby([*keys, "ratio"], sort=False, dropna=False)[SCORES + REPORTED]
             .mean().reset_index())
    table["seeds"] = rows.groupby([*keys, "ratio"], sort=False, dropna=False).size().to_numpy()

    points = table.groupby(POINT, sort=False)
    score = table[table["ratio"] > 0].groupby(POINT, sort=False)["val_accuracy"].mean()
    dense = points["dense_val_accuracy"].mean()
    verdict = pd.DataFrame({"score": score, "dense_score": dense}).reset_index()
    best_dense = verdict.groupby("curve")["dense_score"].transform("max")
    verdict["eligible"] = verdict["dense_score"] >= best_dense - tolerance
    candidates = verdict[verdict["eligible"]]
    chosen = candidates.loc[candidates.groupby("curve", sort=False)["score"].idxmax()]
    verdict["selected"] = verdict.index.isin(chosen.index)
    table = table.merge(verdict, on=POINT)
    values = pd.DataFrame([json.loads(p) for p in table["point"]], index=table.index)
    values.columns = [c.split(".")[-1] for c in values.columns]
    return pd.concat([table, values.drop(columns=[c for c in values if c in table])], axis=1)


def read_selection(path: str | Path) -> dict[str, dict]:
    """{curve id: chosen point} from a tuning table written by ``select``."""
    table = pd.read_csv(path, keep_default_na=False)
    if table.empty:
        return {}
    chosen = table[table["selected"].astype(str) == "True"].drop_duplicates("curve")
    return {row.curve: json.loads(row.point) for row in chosen.itertuples()}
