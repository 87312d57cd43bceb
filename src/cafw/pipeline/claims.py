"""The paper's claims, checked on the pipeline's own runs: one row per claim, setup and measure
with the comparison, the effect with its confidence intervals, the probability of improvement
with its interval, the replicates a decisive verdict would need, and the verdicts.

**What a verdict answers.**  Does the protocol — tune each side on validation data, then train
it afresh at its choice and measure it on the test set — give the claimed method a better
measure than its opponent, on average over everything random in it: the tuning seeds and
validation splits, and so the tuning choice, the evaluation seeds, and the rounding of the
machine?  The protocol is repeated in independent *replicates* (``cafw.pipeline.grid``), each
with its own tuning and its own evaluation seeds, so the replicates' results are independent
draws of the whole protocol.  A measure's effect is their mean, and its 95% t-interval is over
the replicates: it covers a change of tuning choice as it covers another seed, which an
interval over the seeds of one fixed choice cannot.  Evaluation seeds are never tuning seeds,
so no result read here was selected.

A claim (``claims`` in the config) compares the curves of one study: those matching ``method``
against those matching ``versus`` (each a filter on the table's columns, e.g. ``{method:
sgd-nuclear}`` or ``{rescale: [diameter, none]}``).  Where a filter matches several curves,
each replicate takes the one whose chosen point scored best in that replicate's tuning (the
tuning rule's score, ``selection``), and ``versus`` only among curves of the method's schedule,
so no choice reads a test accuracy or an evaluation run.  With ``pairs: each`` every curve of
the method's side is compared with every curve of the opponent's instead (``pair`` names them).

The claim's ``measures``, each declared in the config with the smallest true advantage of
interest (``min_effect``), in *parts*:

* **robustness**: ``area``, the normalised area under the test accuracy against the
  compression ratio over ``[0, up_to]`` (``area.normalised_area``; ``up_to`` defaults to the
  study's largest ratio), i.e. the accuracy averaged over that range of ratios.  The
  difference at the single ``ratio`` is kept as secondary columns (``*_at_ratio``).
* **convergence**: ``dense_accuracy``, the dense test accuracy, and ``train_loss``, the final
  training loss (the mean over the last epoch; lower is better).  ``margin`` applies to the
  accuracies only.
* **compute**: ``step_ratio``, how many times as long the opponent's training step takes as
  the method's on the ``compute`` setup, from the compute comparison's interleaved timing
  rounds (``compute_rounds.csv``), paired by round, as the interval of the mean log ratio.

Within a replicate the two sides share their evaluation seeds, so the advantage is paired by
seed and averaged over the replicate's seeds. A run whose training diverged counts as a model
that learned nothing (chance accuracy, the loss of a uniform guess), as it was recorded;
``diverged_runs`` says how many of a measure's runs did. ``effect`` is the method's advantage
in the measure's units (positive when the method is better). ``p_improvement`` is the share of
replicates (rounds) in which the method is better, ties counting half (Bouthillier et al.'s
probability of improvement, MLSys 2021), with a 95% Wilson interval (ties count as losses for
its lower end and as wins for its upper end). ``samples_needed`` is the number of replicates
(rounds) at which the verdict "holds" would have 80% power if the true advantage were the
declared ``min_effect``, at the replicates' measured spread.

**Verdicts**, decided per claim and setup over all its measures at once:

* a measure *holds* when its 95% interval lies above its threshold (``-margin``: with
  ``margin`` 0 the method is better, with m > 0 it is "on par" within m; ``at_least`` for a
  ratio of step times), and the claim holds when every measure holds: an intersection-union
  test, valid at 2.5% without correction;
* a measure *does not hold* when the one-sided test that it reaches its threshold is rejected
  after Holm's correction over the claim's measures (``p_fails_holm`` < 2.5%; ``ci_low_holm``
  and ``ci_high_holm`` are the interval at the level Holm's step tests it at), and the claim
  does not hold when any measure does not;
* everything else is *inconclusive*.

A part's verdict follows the same rules over its own measures; ``claim_verdict`` is the
claim's.  ``protocol`` is the hash of everything that decided it (``cafw.pipeline.protocol``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from .area import normalised_area
from .grid import seed_range

CONFIDENCE = 0.95
ALPHA = (1 - CONFIDENCE) / 2  # one-sided level of each verdict's test
POWER = 0.8  # of samples_needed
#: measure -> (part, the better direction, unit of its samples)
MEASURES = {"area": ("robustness", "higher", "replicates"),
            "dense_accuracy": ("convergence", "higher", "replicates"),
            "train_loss": ("convergence", "lower", "replicates"),
            "step_ratio": ("compute", "higher", "timing rounds")}
CLAIMS_COLUMNS = [  # of claims.csv
    "claim", "statement", "study", "setup", "schedule", "pair", "part", "measure", "better",
    "method", "versus", "up_to", "method_value", "versus_value", "effect", "ci_low", "ci_high",
    "ci_low_holm", "ci_high_holm", "p_holds", "p_fails_holm", "p_improvement",
    "p_improvement_low", "p_improvement_high", "samples", "unit", "evaluation_seeds",
    "diverged_runs", "min_effect",
    "samples_needed", "margin", "threshold", "ratio", "effect_at_ratio", "ci_low_at_ratio",
    "ci_high_at_ratio", "verdict", "part_verdict", "claim_verdict", "protocol"]


def claims(definitions: dict, compression: pd.DataFrame, training: pd.DataFrame,
           tuning: pd.DataFrame, compute_rounds: pd.DataFrame | None = None,
           protocol: str = "") -> pd.DataFrame:
    """Rows as the module docstring says, for the claims ``definitions`` (the config's
    ``claims``).  ``compression`` has one row per (study, run, ratio)
    with ``curve``, ``replicate``, ``seed``, ``run`` and ``test_accuracy``; ``training`` one
    row per run with ``train_loss``; ``tuning`` the tuning table (``selection.select``);
    ``compute_rounds`` one row per (setup, method, round) with ``step_ms`` and ``device``."""
    rows = []
    scores = _tuning_scores(tuning)
    for name, claim in definitions.items():
        study = compression[compression["study"] == claim["study"]]
        if study.empty:
            raise ValueError(f"claim {name}: compression.csv has no study {claim['study']!r}")
        for _, at in study.groupby("setup", sort=False):
            measured = [row for a, b, pair in _pairs(name, claim, at, scores)
                        for row in _compare_sides(name, claim, at, a, b, pair, training,
                                                  compute_rounds)]
            rows += _with_verdicts(measured)
    return pd.DataFrame(rows, columns=CLAIMS_COLUMNS).assign(protocol=protocol)


# -- which curves are compared ------------------------------------------------------------------

def _tuning_scores(tuning: pd.DataFrame) -> pd.Series:
    """The score of each (curve, replicate)'s chosen point."""
    if tuning.empty:
        return pd.Series(dtype=float)
    chosen = tuning[tuning["selected"].astype(str) == "True"]
    return chosen.set_index(["curve", "replicate"])["score"]


def _pairs(name: str, claim: dict, rows: pd.DataFrame, scores: pd.Series) -> list[tuple]:
    """(method side, versus side, pair label), each side a {replicate: curve id}: per
    replicate the side's best curve by its tuning score (``pairs: best``, the default), or
    every curve of the method's side against every curve of the opponent's of the same
    schedule (``pairs: each``), labelled by the filters' values."""
    methods = _match(rows, claim["method"], name, "method")
    if claim.get("pairs", "best") == "best":
        a = _best(methods, scores, name, "method")
        schedule = rows.drop_duplicates("curve").set_index("curve")["schedule"]
        b = {}
        for replicate, curve in a.items():  # the opponent under the method's schedule
            same = rows[rows["schedule"] == schedule[curve]]
            b.update({replicate: _best(_match(same, claim["versus"], name, "versus"), scores,
                                       name, "versus")[replicate]})
        return [(a, b, "")]
    pairs = []
    for _, a in methods.groupby("curve", sort=False):
        same = rows[rows["schedule"] == a["schedule"].iloc[0]]
        versus = _match(same, claim["versus"], name, "versus")
        for _, b in versus.groupby("curve", sort=False):
            pairs.append((_every_replicate(a), _every_replicate(b),
                          f"{_label(a, claim['method'])} vs {_label(b, claim['versus'])}"))
    return pairs


def _every_replicate(curve: pd.DataFrame) -> dict[int, str]:
    return dict.fromkeys(sorted(curve["replicate"].unique()), curve["curve"].iloc[0])


def _best(rows: pd.DataFrame, scores: pd.Series, claim: str, side: str) -> dict[int, str]:
    """{replicate: the curve among ``rows`` whose chosen point scored best in its tuning},
    the first of ties; a side of one curve needs no tuning."""
    curves = list(dict.fromkeys(rows["curve"]))
    if len(curves) == 1:
        return _every_replicate(rows)
    untuned = [c for c in curves if not any(k[0] == c for k in scores.index)]
    if untuned:
        raise ValueError(f"claim {claim}: its {side} side matches several curves, so each "
                         f"replicate takes the best by its tuning score, but {untuned[0]} is "
                         "not tuned; tune it or name one curve")
    chosen = {}
    for replicate in sorted(rows["replicate"].unique()):
        found = {c: scores.get((c, replicate), -math.inf) for c in curves}
        chosen[replicate] = max(found, key=found.get)
    return chosen


def _match(rows: pd.DataFrame, where: dict, claim: str, side: str) -> pd.DataFrame:
    mask = pd.Series(True, index=rows.index)
    for column, allowed in where.items():
        allowed = allowed if isinstance(allowed, list) else [allowed]
        mask &= rows[column].isin(allowed)
    if not mask.any():
        raise ValueError(f"claim {claim}: no curve matches its {side} {where}")
    return rows[mask]


def _label(rows: pd.DataFrame, where: dict) -> str:
    """What tells a curve apart under a side's filter: e.g. 'rescale=diameter'."""
    return ",".join(f"{column}={rows[column].iloc[0]}" for column in where)


def _name(rows: pd.DataFrame, side: dict[int, str]) -> str:
    """The side's curve, e.g. 'SGD', or its curves with their replicates, e.g. 'SGD (5
    replicates), SGD + group lasso (3 replicates)'."""
    names = rows.drop_duplicates("curve").set_index("curve").apply(
        lambda r: r["label"] + (f" ({r['variant']})" if isinstance(r["variant"], str)
                                and r["variant"] else ""), axis=1)
    counts = pd.Series(list(side.values())).value_counts(sort=False)
    if len(counts) == 1:
        return names[counts.index[0]]
    return ", ".join(f"{names[c]} ({n} replicate{'s' if n != 1 else ''})"
                     for c, n in counts.items())


# -- what is compared ---------------------------------------------------------------------------

def _compare_sides(name: str, claim: dict, rows: pd.DataFrame, a: dict[int, str],
                   b: dict[int, str], pair: str, training: pd.DataFrame,
                   compute_rounds: pd.DataFrame | None) -> list[dict]:
    up_to = claim.get("up_to", float(rows["ratio"].max()))
    sides = [rows.merge(pd.DataFrame(list(side.items()), columns=["replicate", "curve"]))
             for side in (a, b)]
    common = {"claim": name, "statement": claim["statement"], "study": claim["study"],
              "setup": rows["setup"].iloc[0], "schedule": sides[0]["schedule"].iloc[0],
              "pair": pair, "method": _name(rows, a), "versus": _name(rows, b), "up_to": up_to,
              "evaluation_seeds": seed_range(sorted({*sides[0]["seed"], *sides[1]["seed"]})),
              "diverged_runs": sum(_diverged(side) for side in sides)}
    margin = claim.get("margin", 0.0)  # in accuracy: the accuracy measures read it
    measures = claim["measures"]
    out = []
    for measure, min_effect in measures.items():
        if measure == "step_ratio":
            timed = _step_ratio(claim["compute"], compute_rounds, sides, name, min_effect)
            out.append({**common, "evaluation_seeds": "", **timed})
            continue
        values = [_per_run(side, measure, up_to, training, name) for side in sides]
        threshold = 0.0 if measure == "train_loss" else -margin
        row = {**common, **_compare(measure, *values, threshold, min_effect)}
        if measure == "area":
            at_ratio = _compare("area", *[_per_run(side, ("at", claim["ratio"]), up_to,
                                                   training, name) for side in sides],
                                -margin, min_effect)
            row.update(ratio=claim["ratio"], effect_at_ratio=at_ratio["effect"],
                       ci_low_at_ratio=at_ratio["ci_low"], ci_high_at_ratio=at_ratio["ci_high"])
        out.append(row)
    return out


def _diverged(side: pd.DataFrame) -> int:
    """The runs of a side whose training diverged: they count as models that learned
    nothing (``cafw train --record-divergence``)."""
    if "diverged" not in side:
        return 0
    return int(side.loc[side["diverged"].fillna(False).astype(bool), "run"].nunique())


def _per_run(rows: pd.DataFrame, measure, up_to: float, training: pd.DataFrame,
             claim: str) -> pd.DataFrame:
    """One row per run of a side: its replicate, seed and value of ``measure`` (or of the
    test accuracy at one ratio, for ``("at", ratio)``)."""
    runs = rows.drop_duplicates("run")[["replicate", "seed", "run"]]
    if measure == "train_loss":
        value = runs["run"].map(_losses(training, set(runs["run"]), claim))
    else:
        value = runs["run"].map(rows.groupby("run").apply(_reader(measure, up_to),
                                                          include_groups=False))
    return runs.assign(value=value.to_numpy())


def _reader(measure, up_to: float):
    """The value of ``measure`` from the sweep rows of one run."""
    if measure == "area":
        return lambda r: normalised_area(r["ratio"], r["test_accuracy"], up_to)
    at = 0.0 if measure == "dense_accuracy" else measure[1]
    return lambda r: r.loc[np.isclose(r["ratio"], at), "test_accuracy"].mean()


def _losses(training: pd.DataFrame, runs: set[str], claim: str) -> pd.Series:
    losses = training.set_index("run")["train_loss"]
    missing = sorted(runs - set(losses.index))
    if missing:
        raise ValueError(f"claim {claim}: training.csv has no run {missing[0]}")
    return losses


def _compare(measure: str, method: pd.DataFrame, versus: pd.DataFrame, threshold: float,
             min_effect: float) -> dict:
    """The comparison of one measure: paired by seed within each replicate, averaged over
    the replicate's seeds, then over the replicates."""
    paired = method.merge(versus, on=["replicate", "seed"], suffixes=("_a", "_b"))
    sign = 1 if MEASURES[measure][1] == "higher" else -1
    paired["advantage"] = sign * (paired["value_a"] - paired["value_b"])
    per_replicate = paired.groupby("replicate")["advantage"].mean().to_numpy()
    return {"measure": measure, "method_value": paired["value_a"].mean(),
            "versus_value": paired["value_b"].mean(), "threshold": threshold,
            "margin": -threshold if measure != "train_loss" else 0.0,
            **interval(per_replicate, threshold, min_effect), "unit": MEASURES[measure][2]}


def _step_ratio(compute: dict, rounds: pd.DataFrame | None, sides: list[pd.DataFrame],
                claim: str, min_effect: float) -> dict:
    """How many times as long the opponent's step takes, from rounds paired by round: the
    comparison of the log ratios (``LOG_SCALED`` columns are exponentiated once the verdicts
    are made)."""
    if rounds is None:
        raise ValueError(f"claim {claim} is about compute: it needs compute_rounds.csv")
    method, versus = (side["method"].iloc[0] for side in sides)
    timed = rounds[rounds["setup"] == compute["setup"]]
    found = [timed[timed["method"] == m] for m in (method, versus)]
    for m, side in zip((method, versus), found):
        if side.empty:
            raise ValueError(f"claim {claim}: compute_rounds.csv times no {m!r} on setup "
                             f"{compute['setup']!r}; add it to compute.methods")
    devices = [sorted(set(side["device"])) for side in found]
    if devices[0] != devices[1] or len(devices[0]) != 1:
        raise ValueError(f"claim {claim}: the step times of {method!r} ({', '.join(devices[0])})"
                         f" and {versus!r} ({', '.join(devices[1])}) on setup "
                         f"{compute['setup']!r} were not measured on one device; a ratio needs "
                         "both from one run of the compute comparison (rerun rule compute)")
    paired = found[0].merge(found[1], on="round", suffixes=("_a", "_b"))
    log_ratio = np.log(paired["step_ms_b"] / paired["step_ms_a"]).to_numpy()
    threshold = math.log(compute["at_least"])
    return {"measure": "step_ratio", "method_value": paired["step_ms_a"].median(),
            "versus_value": paired["step_ms_b"].median(), "margin": math.nan,
            "threshold": threshold, "unit": MEASURES["step_ratio"][2],
            **interval(log_ratio, threshold, math.log(min_effect))}


# -- statistics -------------------------------------------------------------------------------

def interval(values: np.ndarray, threshold: float, min_effect: float) -> dict:
    """The effect of independent samples ``values`` (one per replicate or timing round)
    against ``threshold`` (``t_interval``), with the probability of improvement and its Wilson
    interval, the samples, and the samples for 80% power at ``min_effect``."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    found = t_interval(values, threshold)
    wins, ties = int(np.sum(values > 0)), int(np.sum(values == 0))
    low, high = (_wilson(k, n) for k in (wins, wins + ties)) if n else ((math.nan,) * 2,) * 2
    spread = float(values.std(ddof=1)) if n > 1 else math.nan
    return {**found, "p_improvement": (wins + ties / 2) / n if n else math.nan,
            "p_improvement_low": low[0], "p_improvement_high": high[1], "samples": n,
            "min_effect": min_effect,
            "samples_needed": samples_needed(min_effect - threshold, spread)}


def t_interval(values: np.ndarray, threshold: float) -> dict:
    """The mean of ``values``, its 95% t-interval, and the one-sided p-values of "above the
    threshold" (``p_holds``) and of "below it" (``p_fails``; Holm's correction over the
    claim's measures comes later), with the standard error and degrees of freedom."""
    n = len(values)
    mean = float(np.mean(values)) if n else math.nan
    error = float(np.std(values, ddof=1)) / math.sqrt(n) if n > 1 else math.nan
    half = stats.t.ppf(1 - ALPHA, n - 1) * error if n > 1 else math.nan
    if n > 1 and error > 0:
        t = (mean - threshold) / error
        p_above, p_below = float(stats.t.sf(t, n - 1)), float(stats.t.cdf(t, n - 1))
    elif n > 1:  # no spread: the mean decides
        p_above, p_below = float(mean <= threshold), float(mean >= threshold)
    else:
        p_above = p_below = math.nan
    return {"effect": mean, "ci_low": mean - half, "ci_high": mean + half, "p_holds": p_above,
            "p_fails": p_below, "error": error, "df": n - 1}


def _wilson(successes: int, n: int) -> tuple[float, float]:
    ci = stats.binomtest(successes, n).proportion_ci(CONFIDENCE, method="wilson")
    return float(ci.low), float(ci.high)


def samples_needed(distance: float, spread: float, most: int = 10_000) -> float:
    """The fewest samples (at least 2) at which the one-sided t-test at ``ALPHA`` that the
    mean lies above a threshold has ``POWER`` when the true mean is ``distance`` above it, at
    standard deviation ``spread`` (the noncentral t); NaN if the distance is not positive, the
    spread unknown, or none up to ``most`` suffices."""
    if math.isnan(distance) or math.isnan(spread) or distance <= 0:
        return math.nan
    if spread == 0:
        return 2
    # the normal approximation, then the exact power around it (the t test needs a few more)
    guess = math.ceil(((stats.norm.ppf(1 - ALPHA) + stats.norm.ppf(POWER)) * spread
                       / distance) ** 2)
    for n in (np.arange(max(2, guess - 5), min(guess + 40, most) + 1), np.arange(2, most + 1)):
        power = stats.nct.sf(stats.t.ppf(1 - ALPHA, n - 1), n - 1,
                             distance * np.sqrt(n) / spread)
        enough = np.flatnonzero(power >= POWER)
        if len(enough) and (enough[0] > 0 or n[0] == 2):
            return int(n[enough[0]])
    return math.nan


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN stays NaN and counts as no test)."""
    tested = [(p, i) for i, p in enumerate(p_values) if not math.isnan(p)]
    adjusted = [math.nan] * len(p_values)
    running, m = 0.0, len(tested)
    for rank, (p, i) in enumerate(sorted(tested)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def verdict(ci_low: float, threshold: float, p_fails_holm: float) -> str:
    """'holds' when the 95% interval lies above the threshold, 'does not hold' when Holm's
    correction rejects reaching it, 'inconclusive' otherwise."""
    if not math.isnan(ci_low) and ci_low > threshold:
        return "holds"
    if not math.isnan(p_fails_holm) and p_fails_holm < ALPHA:
        return "does not hold"
    return "inconclusive"


def combine(verdicts: list[str]) -> str:
    """A claim's (or part's) verdict from its measures': all must hold (intersection-union);
    any that does not hold, after Holm's correction, sinks it."""
    if all(v == "holds" for v in verdicts):
        return "holds"
    return "does not hold" if "does not hold" in verdicts else "inconclusive"


#: columns of a step-ratio row computed on the log scale
LOG_SCALED = ("effect", "ci_low", "ci_high", "ci_low_holm", "ci_high_holm", "threshold",
              "min_effect")


def _with_verdicts(rows: list[dict]) -> list[dict]:
    """Holm's correction over the claim's measures on one setup, then every verdict."""
    adjusted = holm([row.pop("p_fails") for row in rows])
    tested = sorted((p, i) for i, p in enumerate(adjusted) if not math.isnan(p))
    for row in rows:
        row["p_fails_holm"], row["ci_low_holm"], row["ci_high_holm"] = (math.nan,) * 3
    for rank, (p, i) in enumerate(tested):
        row = rows[i]
        level = ALPHA / (len(tested) - rank)  # the level Holm's step tests this measure at
        half = stats.t.ppf(1 - level, row["df"]) * row["error"]
        row.update(p_fails_holm=p, ci_low_holm=row["effect"] - half,
                   ci_high_holm=row["effect"] + half)
    for row in rows:
        row["part"], row["better"], _ = MEASURES[row["measure"]]
        row["verdict"] = verdict(row["ci_low"], row["threshold"], row["p_fails_holm"])
        if row["measure"] == "step_ratio":
            row.update({key: math.exp(row[key]) for key in LOG_SCALED})
        del row["error"], row["df"]
    parts = {}
    for row in rows:
        parts.setdefault(row["part"], []).append(row["verdict"])
    parts = {part: combine(found) for part, found in parts.items()}
    claim = combine([row["verdict"] for row in rows])
    for row in rows:
        row["part_verdict"], row["claim_verdict"] = parts[row["part"]], claim
    return rows
