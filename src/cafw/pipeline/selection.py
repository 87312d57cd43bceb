"""Choosing each tuned curve's hyperparameters, in each replicate, from validation accuracy
alone.

The rule, stated once here and quoted in docs/evidence.md and the paper: in every replicate,
every grid point of a curve is trained with the replicate's tuning seeds and swept at the study's
ratios; a point's score is the mean of its dense validation accuracy and its validation
accuracy averaged over the study's ratios (the normalised area under the accuracy-vs-ratio
curve, dense included: ``area.normalised_area``), averaged over those seeds; the point with
the largest score is the replicate's choice, ties going to the first point in the config's
order.  Test accuracies ride along in the table, for the figures, and are never read by the
rule.

The score weighs the two aims of compression-aware training equally, a good dense model and
robustness under compression, and it is smooth in every accuracy it reads: a few images that
flip move it a little.  It does not make a choice certain: near-equal points swap between
replicates, and so between machines, whose rounding perturbs training as much as another
seed does.  That is why the choice is repeated in every replicate and the claims' intervals
are taken over the replicates (``cafw.pipeline.claims``).

Two flags say where a grid is too narrow or too coarse for its choice (``FLAGS``): ``edge``,
the choice is at an end of a grid axis (the best value may lie beyond it), and ``cliff``, a
neighbour of the choice on a grid axis scores ``CLIFF_DROP`` or more below it (the choice sits
beside a diverging value, where a little rounding decides).  Each choice is flagged by its own
replicate's scores (``flags``), and each curve by its scores pooled over the replicates
(``pooled_flags``): a grid whose pooled best is flagged should be extended or refined.

    tuning = select(plan, sweeps, lock)   # plan: Grid.tuning; sweeps: the tuning runs' sweeps
    chosen = read_selection(path)         # {(curve id, replicate): point} for the grid
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .area import curve_score, normalised_area

#: one row per (curve, replicate, point) of tuning.csv: what the rule reads and what rides along
SCORES = ["score", "score_std", "dense_score", "area_score"]
REPORTED = ["dense_test_accuracy", "test_area"]
POINT = ["curve", "replicate", "point"]
#: a neighbouring grid value this much worse (in score, a fraction) marks a cliff
CLIFF_DROP = 0.1
#: each flag and what it says of a choice
FLAGS = {"edge": "at an end of its grid",
         "cliff": f"beside a grid value that scores {CLIFF_DROP:g} or more below it"}


def select(plan: pd.DataFrame, sweeps: pd.DataFrame, lock: pd.DataFrame | None = None
           ) -> pd.DataFrame:
    """One row per (curve, replicate, point) of ``plan`` with its scores, whether it is the
    replicate's choice (``selected``), the choice's ``flags`` and the curve's
    ``pooled_flags``.

    ``plan`` has one row per (curve, replicate, point, run) with the curve's tags and the
    ``digest`` of its replicate's tuning runs; ``sweeps`` the rows of the runs' compression
    sweeps (``run``, ``kind``, ``ratio`` and the accuracies).  The rows of ``lock``
    (``cafw.pipeline.lock``) whose curve, replicate and digest match the plan's stand in for
    that replicate's runs, which then need no sweeps.
    """
    tags = [c for c in plan.columns if c not in ("run", "seed")]
    points = plan.drop_duplicates(POINT)[tags]
    recorded = _recorded(points, lock)
    measured = _measured(plan[~plan.set_index(["curve", "replicate"]).index.isin(
        recorded.set_index(["curve", "replicate"]).index)], sweeps)
    scored = pd.concat([frame for frame in (measured, recorded) if not frame.empty]
                       or [pd.DataFrame(columns=[*POINT, "seeds", *SCORES, *REPORTED])],
                       ignore_index=True)
    table = points.merge(scored, on=POINT, how="left", validate="one_to_one")
    if table.empty:  # no curve is tuned
        return table.assign(**{c: pd.Series(dtype=float) for c in ["seeds", *SCORES, *REPORTED]},
                            selected=pd.Series(dtype=bool), flags=pd.Series(dtype=str),
                            pooled_flags=pd.Series(dtype=str))
    chosen = table.groupby(["curve", "replicate"], sort=False)["score"].idxmax()  # first of ties
    table["selected"] = table.index.isin(chosen)
    table["flags"] = ""
    for _, rows in table.groupby(["curve", "replicate"], sort=False):
        best = rows.index[rows["selected"]][0]
        table.loc[best, "flags"] = ",".join(flags(_values(rows), rows["score"].to_numpy(),
                                                   rows.index.get_loc(best)))
    table["pooled_flags"] = table["curve"].map(pooled_flags(table))
    values = pd.DataFrame([json.loads(p) for p in table["point"]], index=table.index)
    values.columns = [c.split(".")[-1] for c in values.columns]
    return pd.concat([table, values.drop(columns=[c for c in values if c in table])], axis=1)


def _measured(plan: pd.DataFrame, sweeps: pd.DataFrame) -> pd.DataFrame:
    """The scores of the points whose tuning runs were swept."""
    if plan.empty:
        return pd.DataFrame()
    columns = ["run", "kind", "ratio", "val_accuracy", "test_accuracy"]
    # a run may serve several curves (plain SGD tuned for several studies of one kind)
    rows = plan[[*POINT, "kind", "run"]].merge(sweeps[columns], on=["run", "kind"], how="left")
    if rows["ratio"].isna().any():
        missing = rows.loc[rows["ratio"].isna(), "run"].iloc[0]
        raise ValueError(f"no sweep rows for tuning run {missing}")
    runs = rows.groupby([*POINT, "run"], sort=False)
    per_seed = pd.DataFrame({
        "score": runs.apply(lambda r: curve_score(r["ratio"], r["val_accuracy"]),
                            include_groups=False),
        "dense_score": runs.apply(lambda r: _dense(r, "val_accuracy"), include_groups=False),
        "area_score": runs.apply(lambda r: normalised_area(r["ratio"], r["val_accuracy"]),
                                 include_groups=False),
        "dense_test_accuracy": runs.apply(lambda r: _dense(r, "test_accuracy"),
                                          include_groups=False),
        "test_area": runs.apply(lambda r: normalised_area(r["ratio"], r["test_accuracy"]),
                                include_groups=False),
    }).groupby(POINT, sort=False)
    out = per_seed.mean().assign(score_std=per_seed["score"].std(), seeds=per_seed.size())
    return out.reset_index()


def _dense(rows: pd.DataFrame, column: str) -> float:
    return float(rows.loc[np.isclose(rows["ratio"], 0), column].mean())


def _recorded(points: pd.DataFrame, lock: pd.DataFrame | None) -> pd.DataFrame:
    """The lock's rows of the replicates for which it records every point, made from the
    tuning runs the plan has (the same digest)."""
    if lock is None or lock.empty:
        return pd.DataFrame(columns=[*POINT, "seeds", *SCORES, *REPORTED])
    keys = ["curve", "replicate", "digest"]
    found = points[[*POINT, "digest"]].merge(lock, on=[*POINT, "digest"], how="inner")
    have, needed = found.groupby(keys).size(), points.groupby(keys).size()
    whole = have.index[have.to_numpy() == needed.reindex(have.index).to_numpy()]
    found = found[found.set_index(keys).index.isin(whole)]
    return found[[*POINT, "seeds", *SCORES, *REPORTED]]


def _values(rows: pd.DataFrame) -> list[dict]:
    return [json.loads(p) for p in rows["point"]]


def flags(points: list[dict], scores: np.ndarray, best: int) -> list[str]:
    """The flags (``FLAGS``) of choosing ``points[best]`` among ``points`` (a product grid,
    in the config's order) with these ``scores``."""
    found = []
    for key in points[best]:
        axis = [i for i, p in enumerate(points)
                if all(p[k] == points[best][k] for k in p if k != key)]  # the line through best
        axis.sort(key=lambda i: points[i][key])
        at = axis.index(best)
        if at in (0, len(axis) - 1) and len(axis) > 1 and "edge" not in found:
            found.append("edge")
        neighbours = [axis[j] for j in (at - 1, at + 1) if 0 <= j < len(axis)]
        if any(scores[best] - scores[n] >= CLIFF_DROP for n in neighbours) \
                and "cliff" not in found:
            found.append("cliff")
    return found


def pooled_flags(table: pd.DataFrame) -> dict[str, str]:
    """{curve: the flags of its best point by the score averaged over the replicates}."""
    out = {}
    for curve, rows in table.groupby("curve", sort=False):
        pooled = rows.groupby("point", sort=False)["score"].mean()
        points = [json.loads(p) for p in pooled.index]
        out[curve] = ",".join(flags(points, pooled.to_numpy(), int(np.argmax(pooled.to_numpy()))))
    return out


def read_selection(path: str | Path) -> dict[tuple[str, int], dict]:
    """{(curve id, replicate): chosen point} from a tuning table written by ``select``."""
    table = pd.read_csv(path, keep_default_na=False)
    if table.empty:
        return {}
    chosen = table[table["selected"].astype(str) == "True"]
    return {(row.curve, int(row.replicate)): json.loads(row.point)
            for row in chosen.itertuples()}
