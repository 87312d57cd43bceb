"""Choosing each tuned curve's hyperparameters from validation accuracy alone.

The rule, stated once here and quoted in the README and the paper: every grid point of a
curve is trained with each tuning seed and swept at the study's ratios; a point's score is the
mean of its dense validation accuracy and its validation accuracy averaged over the study's
ratios (the normalised area under the accuracy-vs-ratio curve, dense included:
``area.normalised_area``), averaged over the tuning seeds; the point with the largest score is
chosen, ties going to the first point in the config's order.  Test accuracies ride along in
the table, for the figures, and are never read by the rule.

The score weighs the two aims of compression-aware training equally, a good dense model and
robustness under compression, and it is smooth in every accuracy it reads.  A rule that first
drops the points whose dense accuracy falls a fixed tolerance below the best hinges on a
handful of validation images (5 of digits' 270 made the difference between a point that keeps
98% of its accuracy at half the filters and one that keeps 27%), and rounding differences
between CPUs move that many; this score moves by a few images' worth when a few predictions
change, so only near-equal points can swap.  The area alone is not enough: it counts the dense
accuracy as one ratio among many and chose, on digits, a learning rate whose dense accuracy was
21 points below the others'.  Each seed draws its own validation split (``cafw.data.split``),
so the mean averages over data sampling too.

    tuning = select(plan, sweeps)       # plan: Grid.tuning; sweeps: the tuning runs' sweeps
    chosen = read_selection(path)       # {curve id: {key: value}} for cafw.pipeline.grid
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .area import areas, curve_score

SCORES = ["val_accuracy", "dense_val_accuracy"]  # what the rule reads
REPORTED = ["test_accuracy", "dense_test_accuracy"]  # what the figures show
POINT = ["curve", "point"]


def select(plan: pd.DataFrame, sweeps: pd.DataFrame) -> pd.DataFrame:
    """One row per (curve, point, ratio): the means over the tuning seeds, the point's
    ``score`` (the mean over the seeds of each seed's score, as the module docstring says),
    ``score_std`` (its standard deviation over the seeds), ``dense_score`` (mean dense
    validation accuracy), ``area_score`` (mean validation area) and whether it is
    ``selected``.

    ``plan`` has one row per (curve, point, run) with the curve's tags; ``sweeps`` the rows
    of the runs' compression sweeps (``run``, ``kind``, ``ratio`` and the accuracies).
    """
    if plan.empty:  # no curve is tuned
        return pd.DataFrame(columns=[*plan.columns, "ratio", *SCORES, *REPORTED, "seeds",
                                     "score", "score_std", "dense_score", "area_score",
                                     "selected"])
    # a run may serve several curves (plain SGD tuned for several studies of one kind)
    rows = plan.merge(sweeps[["run", "kind", "ratio", *SCORES, *REPORTED]], on=["run", "kind"],
                      how="left")
    if rows["ratio"].isna().any():
        missing = rows.loc[rows["ratio"].isna(), "run"].iloc[0]
        raise ValueError(f"no sweep rows for tuning run {missing}")
    keys = [c for c in plan.columns if c not in ("run", "seed")]
    grouped = rows.groupby([*keys, "ratio"], sort=False, dropna=False)
    table = grouped[SCORES + REPORTED].mean().reset_index()
    table["seeds"] = grouped.size().to_numpy()

    runs = [*POINT, "run"]
    score = rows.groupby(runs, sort=False).apply(
        lambda r: curve_score(r["ratio"], r["val_accuracy"]), include_groups=False)
    per_seed = pd.DataFrame({
        "score": score, "area": areas(rows, runs, "val_accuracy"),
        "dense": rows.groupby(runs, sort=False)["dense_val_accuracy"].first(),
    }).groupby(POINT, sort=False)
    verdict = pd.DataFrame({
        "score": per_seed["score"].mean(), "score_std": per_seed["score"].std(),
        "dense_score": per_seed["dense"].mean(), "area_score": per_seed["area"].mean(),
    }).reset_index()
    chosen = verdict.groupby("curve", sort=False)["score"].idxmax()  # the first of ties
    verdict["selected"] = verdict.index.isin(chosen)
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
