"""The paper's claims, checked on the pipeline's own runs: one row per claim and setup with
the comparison, the effect and its confidence interval over seeds, and a verdict.

A claim (``claims`` in the config) compares the curves of one study at one compression
ratio: the curves matching ``method`` against those matching ``versus`` (each a filter on the
table's columns, e.g. ``{method: sgd-nuclear}`` or ``{rescale: [diameter, none]}``).  When a
filter matches several curves, the one with the best mean *validation* accuracy at the ratio
is taken (and ``versus`` only among curves of the same schedule), so no choice reads a test
accuracy.  The effect is the test accuracy of ``method`` minus that of ``versus``, paired by
seed (a seed fixes the initial weights and the data order of both), with a 95% t-interval
over the seeds.  The verdict:

* a claim of superiority (``margin`` 0) holds when the interval lies above 0, does not hold
  when it lies below 0, and is inconclusive otherwise;
* a claim of parity (``margin`` m > 0: "on par") holds when the interval lies above -m and
  does not hold when it lies below -m;
* a claim about compute (``compute: {setup, at_least}``) also needs the training step of
  ``versus`` to take at least ``at_least`` times as long as that of ``method`` on that setup
  (``compute.csv``); a step that is not faster at all makes it fail.
"""

from __future__ import annotations

import math

import pandas as pd
from scipy import stats

CONFIDENCE = 0.95
COLUMNS = ["claim", "statement", "study", "setup", "schedule", "ratio", "method", "versus",
           "method_test_accuracy", "versus_test_accuracy", "effect", "ci_low", "ci_high",
           "seeds", "margin", "compute_ratio", "verdict"]


def claims(spec: dict, compression: pd.DataFrame, compute: pd.DataFrame | None) -> pd.DataFrame:
    """One row per (claim, setup): see the module docstring.  ``compression`` has one row per
    (study, run, ratio) with ``seed``, ``val_accuracy`` and ``test_accuracy``."""
    rows = []
    for name, claim in spec.items():
        study = compression[compression["study"] == claim["study"]]
        if study.empty:
            raise ValueError(f"claim {name}: compression.csv has no study {claim['study']!r}")
        ratio = _nearest(study["ratio"], claim["ratio"])
        for setup, at in study[study["ratio"] == ratio].groupby("setup", sort=False):
            rows.append(_check(name, claim, setup, ratio, at, compute))
    return pd.DataFrame(rows, columns=COLUMNS)


def _check(name: str, claim: dict, setup: str, ratio: float, at: pd.DataFrame,
           compute: pd.DataFrame | None) -> dict:
    curve = ["method", "label", "schedule", "variant"]
    a = _best(_match(at, claim["method"], name, "method"), curve)
    b = _best(_match(at[at["schedule"] == a["schedule"].iloc[0]], claim["versus"], name,
                     "versus"), curve)
    paired = a.merge(b, on="seed", suffixes=("_a", "_b"))
    difference = paired["test_accuracy_a"] - paired["test_accuracy_b"]
    n, mean = len(difference), difference.mean()
    half = stats.t.ppf((1 + CONFIDENCE) / 2, n - 1) * difference.std() / math.sqrt(n) \
        if n > 1 else math.nan
    margin = claim.get("margin", 0.0)
    ratio_of_steps = _compute_ratio(claim, compute, a, b)
    return {"claim": name, "statement": claim["statement"], "study": claim["study"],
            "setup": setup, "schedule": a["schedule"].iloc[0], "ratio": ratio,
            "method": _name(a), "versus": _name(b),
            "method_test_accuracy": paired["test_accuracy_a"].mean(),
            "versus_test_accuracy": paired["test_accuracy_b"].mean(), "effect": mean,
            "ci_low": mean - half, "ci_high": mean + half, "seeds": n, "margin": margin,
            "compute_ratio": ratio_of_steps,
            "verdict": verdict(mean - half, mean + half, margin, ratio_of_steps,
                               claim.get("compute", {}).get("at_least"))}


def verdict(low: float, high: float, margin: float, compute_ratio: float = math.nan,
            at_least: float | None = None) -> str:
    """'holds', 'does not hold' or 'inconclusive' for an effect interval [low, high]."""
    if at_least is not None and not compute_ratio >= 1:
        return "does not hold"
    if math.isnan(low) or math.isnan(high):
        return "inconclusive"
    if high < -margin:
        return "does not hold"
    if low > -margin and (at_least is None or compute_ratio >= at_least):
        return "holds"
    return "inconclusive"


def _match(rows: pd.DataFrame, where: dict, claim: str, side: str) -> pd.DataFrame:
    mask = pd.Series(True, index=rows.index)
    for column, allowed in where.items():
        allowed = allowed if isinstance(allowed, list) else [allowed]
        mask &= rows[column].isin(allowed)
    if not mask.any():
        raise ValueError(f"claim {claim}: no curve matches its {side} {where}")
    return rows[mask]


def _best(rows: pd.DataFrame, curve: list[str]) -> pd.DataFrame:
    """The rows (one per seed) of the curve with the best mean validation accuracy."""
    means = rows.groupby(curve, sort=False, dropna=False)["val_accuracy"].mean()
    best = means.index[means.to_numpy().argmax()]
    keep = (rows[curve].fillna("") == pd.Series(best, index=curve).fillna("")).all(axis=1)
    return rows[keep]


def _name(rows: pd.DataFrame) -> str:
    row = rows.iloc[0]
    extra = [str(v) for v in (row["variant"],) if isinstance(v, str) and v]
    return row["label"] + (f" ({', '.join(extra)})" if extra else "")


def _compute_ratio(claim: dict, compute: pd.DataFrame | None, a: pd.DataFrame,
                   b: pd.DataFrame) -> float:
    """Step time of ``versus`` over that of ``method`` on the claim's compute setup."""
    if "compute" not in claim:
        return math.nan
    if compute is None:
        raise ValueError("a claim about compute needs compute.csv")
    steps = compute[compute["setup"] == claim["compute"]["setup"]].set_index("method")["step_ms"]
    method, versus = a["method"].iloc[0], b["method"].iloc[0]
    if method not in steps or versus not in steps:
        raise ValueError(f"compute.csv times no {method!r} or {versus!r} on setup "
                         f"{claim['compute']['setup']!r}")
    return steps[versus] / steps[method]


def _nearest(ratios: pd.Series, target: float) -> float:
    values = ratios.unique()
    return float(values[abs(values - target).argmin()])
