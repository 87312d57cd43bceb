"""The paper's claims, checked on the pipeline's own runs: one row per claim, setup and measure
with the comparison, the effect with its confidence interval, the probability of improvement,
the number of seeds a decisive verdict would need, and the verdicts.

A claim (``claims`` in the config) compares the curves of one study: those matching
``method`` against those matching ``versus`` (each a filter on the table's columns, e.g.
``{method: sgd-nuclear}`` or ``{rescale: [diameter, none]}``).  When a filter matches several
curves, the one with the best validation score is taken (the tuning rule's: the mean of the
dense accuracy and the area below, ``area.curve_score``), and ``versus`` only among curves of
the method's schedule, so no choice reads a test accuracy.  With ``pairs: each`` every curve of
the method's side is compared with every curve of the opponent's instead (``pair`` names
them): choosing between near-tied curves that behave differently would otherwise decide the
comparison.

What is compared, in *parts*, each with its measures:

* **robustness** (every claim): the normalised area under the test accuracy against the
  compression ratio over ``[0, up_to]`` (``area.normalised_area``; ``up_to`` defaults to the
  study's largest ratio), i.e. the accuracy averaged over that range of ratios.  The paper's
  claims are about robustness over a range of ratios, and one ratio on the steep part of the
  curves varies far more between seeds.  The difference at the single ``ratio`` is kept as
  secondary columns (``*_at_ratio``).
* **convergence** (``convergence: true``): the dense test accuracy and the final training
  loss (the mean over the last epoch).  ``margin`` applies to the accuracies only.
* **compute** (``compute: {setup, at_least}``): how many times as long the opponent's
  training step takes as the method's, on that setup, from the compute comparison's
  interleaved timing rounds (``compute_rounds.csv``).

Accuracies and losses are paired by seed (a seed fixes both sides' initial weights, data order
and validation split); step times by timing round.  ``effect`` is the method's advantage in
the measure's units (higher accuracy or area, lower loss: positive when the method is
better), with a 95% t-interval over the seeds; step times are compared as the ratio
opponent / method, with the interval of the mean log ratio over the rounds.  ``p_improvement``
is the share of seeds (rounds) in which the method is better, ties counting half (the
probability of improvement of Bouthillier et al., MLSys 2021).  ``samples_needed`` is the
number of seeds (rounds) at which the interval would exclude the verdict's threshold if the
mean and spread stayed as measured.

Verdicts: a measure *holds* when its interval lies above ``-margin`` (``margin`` 0: the
method is better; ``margin`` m > 0: "on par" within m, in the measure's units), *does not
hold* when it lies below, and is *inconclusive* otherwise; a step-time ratio holds when its
interval lies above ``at_least``.  A part holds when all its measures hold and does not hold
when any does not; the claim's verdict is its parts' common verdict, or each part's.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from ..vocabulary import CURVE_KEYS
from .area import curve_score, normalised_area

CONFIDENCE = 0.95
#: measure -> (part, the better direction)
MEASURES = {"area": ("robustness", "higher"), "dense_accuracy": ("convergence", "higher"),
            "train_loss": ("convergence", "lower"), "step_ratio": ("compute", "higher")}
CLAIMS_COLUMNS = [  # of claims.csv
    "claim", "statement", "study", "setup", "schedule", "pair", "part", "measure", "better",
    "method", "versus", "up_to", "method_value", "versus_value", "effect", "ci_low", "ci_high",
    "p_improvement", "samples", "unit", "samples_needed", "margin", "threshold", "ratio",
    "effect_at_ratio", "ci_low_at_ratio", "ci_high_at_ratio", "verdict", "part_verdict",
    "claim_verdict"]


def claims(spec: dict, compression: pd.DataFrame, training: pd.DataFrame,
           compute_rounds: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rows as the module docstring says.  ``compression`` has one row per (study, run,
    ratio) with ``seed``, ``val_accuracy`` and ``test_accuracy``; ``training`` one row per run
    with ``train_loss``; ``compute_rounds`` one row per (setup, method, round) with
    ``step_ms`` and ``device``."""
    rows = []
    for name, claim in spec.items():
        study = compression[compression["study"] == claim["study"]]
        if study.empty:
            raise ValueError(f"claim {name}: compression.csv has no study {claim['study']!r}")
        for _, at in study.groupby("setup", sort=False):
            measured = _measures(name, claim, at, training, compute_rounds)
            rows += _with_verdicts(measured)
    return pd.DataFrame(rows, columns=CLAIMS_COLUMNS)


def _measures(name: str, claim: dict, rows: pd.DataFrame, training: pd.DataFrame,
              compute_rounds: pd.DataFrame | None) -> list[dict]:
    up_to = claim.get("up_to", float(rows["ratio"].max()))
    return [row for a, b, pair in _pairs(name, claim, rows, up_to)
            for row in _compare_sides(name, claim, a, b, pair, up_to, training, compute_rounds)]


def _pairs(name: str, claim: dict, rows: pd.DataFrame, up_to: float) -> list[tuple]:
    """(method rows, versus rows, pair label): the best curve of each side (``pairs:
    best``, the default), or every curve of the method's side against every curve of the
    opponent's of the same schedule (``pairs: each``), labelled by the filters' values."""
    methods = _match(rows, claim["method"], name, "method")
    if claim.get("pairs", "best") == "best":
        a = _best(methods, up_to)
        b = _best(_match(rows[rows["schedule"] == a["schedule"].iloc[0]], claim["versus"],
                         name, "versus"), up_to)
        return [(a, b, "")]
    pairs = []
    for _, a in _curves(methods):
        same = rows[rows["schedule"] == a["schedule"].iloc[0]]
        for _, b in _curves(_match(same, claim["versus"], name, "versus")):
            pairs.append((a, b, f"{_label(a, claim['method'])} vs {_label(b, claim['versus'])}"))
    return pairs


def _compare_sides(name: str, claim: dict, a: pd.DataFrame, b: pd.DataFrame, pair: str,
                   up_to: float, training: pd.DataFrame,
                   compute_rounds: pd.DataFrame | None) -> list[dict]:
    common = {"claim": name, "statement": claim["statement"], "study": claim["study"],
              "setup": a["setup"].iloc[0], "schedule": a["schedule"].iloc[0], "pair": pair,
              "method": _name(a), "versus": _name(b), "up_to": up_to}
    margin = claim.get("margin", 0.0)  # in accuracy: the measures read accuracies
    sides = (a, b)
    ratio = claim["ratio"]
    out = [{**common, **_compare("area", *[_per_seed(s, _area(up_to)) for s in sides],
                                 margin),
            "ratio": ratio, **_at_ratio(sides, ratio, margin)}]
    if claim.get("convergence"):
        dense = [_per_seed(s, _accuracy_at(0.0)) for s in sides]
        losses = [_training_loss(s, training, name) for s in sides]
        out += [{**common, **_compare("dense_accuracy", *dense, margin)},
                {**common, **_compare("train_loss", *losses, 0.0)}]
    if "compute" in claim:
        out.append({**common, **_step_ratio(claim["compute"], compute_rounds, a, b, name)})
    return out


def _accuracy_at(ratio: float):
    return lambda r: r.loc[(r["ratio"] - ratio).abs() < 1e-9, "test_accuracy"].mean()


def _area(up_to: float):
    return lambda r: normalised_area(r["ratio"], r["test_accuracy"], up_to)


def _per_seed(rows: pd.DataFrame, value) -> pd.Series:
    return rows.groupby("seed", sort=True).apply(value, include_groups=False)


def _training_loss(rows: pd.DataFrame, training: pd.DataFrame, claim: str) -> pd.Series:
    runs = rows.drop_duplicates("seed").set_index("seed")["run"]
    losses = training.set_index("run")["train_loss"]
    missing = sorted(set(runs) - set(losses.index))
    if missing:
        raise ValueError(f"claim {claim}: training.csv has no run {missing[0]}")
    return pd.Series(losses[runs].to_numpy(), index=runs.index)


def _compare(measure: str, method: pd.Series, versus: pd.Series, margin: float) -> dict:
    """The paired comparison of one measure, as the module docstring says."""
    paired = pd.concat([method, versus], axis=1, keys=["a", "b"], join="inner")
    sign = 1 if MEASURES[measure][1] == "higher" else -1
    advantage = sign * (paired["a"] - paired["b"])
    return {"measure": measure, "method_value": paired["a"].mean(),
            "versus_value": paired["b"].mean(), "margin": margin, "threshold": -margin,
            **_interval(advantage.to_numpy(), -margin), "unit": "seeds"}


def _at_ratio(sides, ratio: float, margin: float) -> dict:
    """The former single-ratio comparison, kept beside the area: test accuracy at ``ratio``."""
    found = _compare("area", *[_per_seed(s, _accuracy_at(ratio)) for s in sides], margin)
    return {"effect_at_ratio": found["effect"], "ci_low_at_ratio": found["ci_low"],
            "ci_high_at_ratio": found["ci_high"]}


def _step_ratio(compute: dict, rounds: pd.DataFrame | None, a: pd.DataFrame,
                b: pd.DataFrame, claim: str) -> dict:
    """How many times as long the opponent's step takes, from rounds paired by round."""
    if rounds is None:
        raise ValueError(f"claim {claim} is about compute: it needs compute_rounds.csv")
    method, versus = a["method"].iloc[0], b["method"].iloc[0]
    timed = rounds[rounds["setup"] == compute["setup"]]
    sides = [timed[timed["method"] == m] for m in (method, versus)]
    for m, side in zip((method, versus), sides):
        if side.empty:
            raise ValueError(f"claim {claim}: compute_rounds.csv times no {m!r} on setup "
                             f"{compute['setup']!r}; add it to compute.methods")
    devices = [sorted(set(side["device"])) for side in sides]
    if devices[0] != devices[1] or len(devices[0]) != 1:
        raise ValueError(f"claim {claim}: the step times of {method!r} ({', '.join(devices[0])})"
                         f" and {versus!r} ({', '.join(devices[1])}) on setup "
                         f"{compute['setup']!r} were not measured on one device; a ratio needs "
                         "both from one run of the compute comparison (rerun rule compute)")
    paired = sides[0].merge(sides[1], on="round", suffixes=("_a", "_b"))
    log_ratio = np.log(paired["step_ms_b"] / paired["step_ms_a"]).to_numpy()
    threshold = math.log(compute["at_least"])
    found = _interval(log_ratio, threshold)
    return {"measure": "step_ratio", "method_value": paired["step_ms_a"].median(),
            "versus_value": paired["step_ms_b"].median(), "margin": math.nan,
            "threshold": compute["at_least"], "unit": "timing rounds",
            **{k: math.exp(v) if k in ("effect", "ci_low", "ci_high") else v
               for k, v in found.items()}}


def _interval(values: np.ndarray, threshold: float) -> dict:
    """Mean, 95% t-interval, share above 0 (ties half), the samples and the samples a
    decisive interval (one that excludes ``threshold``) would need at this spread."""
    n, mean = len(values), float(np.mean(values)) if len(values) else math.nan
    spread = float(np.std(values, ddof=1)) if n > 1 else math.nan
    half = stats.t.ppf((1 + CONFIDENCE) / 2, n - 1) * spread / math.sqrt(n) if n > 1 \
        else math.nan
    return {"effect": mean, "ci_low": mean - half, "ci_high": mean + half,
            "p_improvement": float(np.mean(values > 0) + 0.5 * np.mean(values == 0)),
            "samples": n, "samples_needed": samples_needed(mean - threshold, spread)}


def samples_needed(distance: float, spread: float, most: int = 100_000) -> float:
    """The fewest samples (at least 2) whose t-interval around a mean ``distance`` away
    from the threshold excludes it, at standard deviation ``spread``; NaN if none up to
    ``most`` does (or the mean sits on the threshold)."""
    if math.isnan(distance) or math.isnan(spread) or distance == 0:
        return math.nan
    if spread == 0:
        return 2
    n = 2
    while n <= most:
        if stats.t.ppf((1 + CONFIDENCE) / 2, n - 1) * spread / math.sqrt(n) < abs(distance):
            return n
        n = n + 1 if n < 1000 else int(n * 1.01)
    return math.nan


def verdict(low: float, high: float, threshold: float) -> str:
    """'holds', 'does not hold' or 'inconclusive' for an interval against its threshold."""
    if math.isnan(low) or math.isnan(high):
        return "inconclusive"
    if low > threshold:
        return "holds"
    if high < threshold:
        return "does not hold"
    return "inconclusive"


def combine(verdicts: list[str]) -> str:
    """A part's verdict from its measures': all must hold; any that does not hold sinks it."""
    if all(v == "holds" for v in verdicts):
        return "holds"
    return "does not hold" if "does not hold" in verdicts else "inconclusive"


def _with_verdicts(rows: list[dict]) -> list[dict]:
    for row in rows:
        row["part"], row["better"] = MEASURES[row["measure"]]
        row["verdict"] = verdict(row["ci_low"], row["ci_high"], row["threshold"])
    parts = {}
    for row in rows:
        parts.setdefault(row["part"], []).append(row["verdict"])
    parts = {part: combine(found) for part, found in parts.items()}
    overall = set(parts.values())
    claim = overall.pop() if len(overall) == 1 else "; ".join(
        f"{part} {found}" for part, found in parts.items())
    for row in rows:
        row["part_verdict"], row["claim_verdict"] = parts[row["part"]], claim
    return rows


def _match(rows: pd.DataFrame, where: dict, claim: str, side: str) -> pd.DataFrame:
    mask = pd.Series(True, index=rows.index)
    for column, allowed in where.items():
        allowed = allowed if isinstance(allowed, list) else [allowed]
        mask &= rows[column].isin(allowed)
    if not mask.any():
        raise ValueError(f"claim {claim}: no curve matches its {side} {where}")
    return rows[mask]


def _curves(rows: pd.DataFrame):
    """(key, rows) of each curve among ``rows``."""
    key = rows[list(CURVE_KEYS)].fillna("").astype(str).agg("|".join, axis=1)
    return rows.groupby(key, sort=False)


def _label(rows: pd.DataFrame, where: dict) -> str:
    """What tells a curve apart under a side's filter: e.g. 'rescale=diameter'."""
    return ",".join(f"{column}={rows[column].iloc[0]}" for column in where)


def _best(rows: pd.DataFrame, up_to: float) -> pd.DataFrame:
    """The rows (every seed and ratio) of the curve whose validation score over [0, up_to],
    averaged over the seeds, is the largest."""
    curves = dict(iter(_curves(rows)))
    scores = {key: curve.groupby("seed").apply(
        lambda r: curve_score(r["ratio"], r["val_accuracy"], up_to), include_groups=False).mean()
        for key, curve in curves.items()}
    return curves[max(scores, key=scores.get)]  # the first of ties


def _name(rows: pd.DataFrame) -> str:
    row = rows.iloc[0]
    extra = [str(v) for v in (row["variant"],) if isinstance(v, str) and v]
    return row["label"] + (f" ({', '.join(extra)})" if extra else "")


