"""The claims: intervals over replicates, paired by seed within each, that cover a change of
tuning choice (a simulation of the protocol checks their coverage); intersection-union
verdicts that hold, Holm's correction for those that do not; the probability of improvement
with its interval, and the replicates a decisive verdict would need for 80% power."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cafw.pipeline.claims import (
    ALPHA,
    claims,
    combine,
    holm,
    interval,
    samples_needed,
    t_interval,
    verdict,
)

RATIOS = (0.0, 0.5, 0.9)
NO_TRAINING = pd.DataFrame(columns=["run", "train_loss"])
NO_TUNING = pd.DataFrame(columns=["curve", "replicate", "score", "selected"])


def _compression(curves):
    """curves: (method, rescale) -> per replicate (one evaluation seed each), {ratio: test}
    or one test accuracy for every ratio."""
    rows = []
    for (method, rescale), replicates in curves.items():
        for replicate, points in enumerate(replicates):
            points = points if isinstance(points, dict) else dict.fromkeys(RATIOS, points)
            for ratio, test in points.items():
                rows.append({"study": "s", "setup": "x", "ratio": ratio, "method": method,
                             "label": method.upper(), "schedule": "linear",
                             "variant": f"rescale={rescale}" if rescale else "",
                             "rescale": rescale, "curve": f"{method}-{rescale}",
                             "replicate": replicate, "seed": 2 * replicate + 1,
                             "test_accuracy": test, "val_accuracy": test,
                             "run": f"{method}-{rescale}-{replicate}"})
    return pd.DataFrame(rows)


def _definitions(**claim):
    return {"C": {"statement": "x", "study": "s", "ratio": 0.5, "measures": {"area": 0.02},
                  **claim}}


def _tuning(scores):
    """scores: curve -> per replicate, the chosen point's tuning score."""
    return pd.DataFrame([{"curve": curve, "replicate": r, "score": s, "selected": True}
                         for curve, per in scores.items() for r, s in enumerate(per)])


def test_a_claim_compares_areas_paired_within_replicates_over_the_replicates():
    table = _compression({("sfw", "gradient"): [0.80, 0.82, 0.85],
                          ("sgd", None): [0.50, 0.51, 0.55]})
    row = claims(_definitions(method={"method": "sfw"}, versus={"method": "sgd"}), table,
                 NO_TRAINING, NO_TUNING, protocol="abc").iloc[0]
    advantages = np.array([0.30, 0.31, 0.30])
    assert row["effect"] == pytest.approx(advantages.mean())
    half = stats.t.ppf(0.975, 2) * advantages.std(ddof=1) / math.sqrt(3)
    assert row["ci_low"] == pytest.approx(advantages.mean() - half)
    assert row["samples"] == 3 and row["unit"] == "replicates"
    assert row["evaluation_seeds"] == "1, 3, 5" and row["protocol"] == "abc"
    assert row["p_improvement"] == 1.0 and row["verdict"] == "holds"
    assert row["claim_verdict"] == "holds" and row["part"] == "robustness"


def test_a_side_of_several_curves_takes_in_each_replicate_the_best_tuned_one():
    """sgd scored best in replicate 0's tuning, lasso in replicate 1's: each replicate is set
    against its own choice, never against the curve that did best on the test set."""
    table = _compression({("sfw", "gradient"): [0.90, 0.90],
                          ("sgd", None): [0.50, 0.60], ("lasso", None): [0.85, 0.70]})
    tuning = _tuning({"sgd-None": [0.9, 0.5], "lasso-None": [0.8, 0.6]})
    row = claims(_definitions(method={"method": "sfw"}, versus={"method": ["sgd", "lasso"]}), table,
                 NO_TRAINING, tuning).iloc[0]
    assert row["effect"] == pytest.approx(((0.90 - 0.50) + (0.90 - 0.70)) / 2)
    assert row["versus"] == "SGD (1 replicate), LASSO (1 replicate)"
    with pytest.raises(ValueError, match="is not tuned"):
        claims(_definitions(method={"method": "sfw"}, versus={"method": ["sgd", "lasso"]}), table,
               NO_TRAINING, NO_TUNING)


def test_the_area_reads_the_whole_range_not_one_ratio():
    """Five replicates: the method dips at 0.5 in one and wins everywhere else; at the single
    ratio 0.5 the comparison is inconclusive, over the range it holds."""
    method = [{0.0: 1.0, 0.5: dip, 0.9: 0.9} for dip in (0.9, 0.3, 0.9, 0.9, 0.9)]
    versus = [{0.0: 1.0, 0.5: 0.5, 0.9: 0.1}] * 5
    table = _compression({("sfw", "gradient"): method, ("sgd", None): versus})
    definitions = _definitions(method={"method": "sfw"}, versus={"method": "sgd"})
    row = claims(definitions, table, NO_TRAINING, NO_TUNING).iloc[0]
    assert row["ci_low_at_ratio"] < 0 < row["ci_high_at_ratio"]
    assert row["ci_low"] > 0 and row["verdict"] == "holds"


def test_convergence_reads_dense_accuracy_and_training_loss_and_states_each_part():
    table = _compression({
        ("sfw", "gradient"): [{0.0: 0.99, 0.5: 0.5, 0.9: 0.1}] * 3,
        ("sfw", "none"): [{0.0: 0.97 + d, 0.5: 0.9, 0.9: 0.5} for d in (0.0, 0.001, 0.002)],
    })
    training = pd.DataFrame({"run": table["run"].unique()})
    training["train_loss"] = [0.1 if "gradient" in r else 0.3 for r in training["run"]]
    definitions = _definitions(method={"rescale": "gradient"}, versus={"rescale": "none"},
                 measures={"area": 0.02, "dense_accuracy": 0.005, "train_loss": 0.01})
    rows = claims(definitions, table, training, NO_TUNING).set_index("measure")
    assert list(rows.index) == ["area", "dense_accuracy", "train_loss"]
    assert rows.loc["train_loss", "effect"] == pytest.approx(0.2)  # lower loss: an advantage
    assert rows.loc["train_loss", "better"] == "lower"
    assert rows.loc["dense_accuracy", "verdict"] == "holds"
    assert rows.loc["area", "verdict"] == "does not hold"
    assert dict(zip(rows["part"], rows["part_verdict"])) == {
        "robustness": "does not hold", "convergence": "holds"}
    assert set(rows["claim_verdict"]) == {"does not hold"}


def _rounds(device_b="cpu"):
    times = {"sfw": [10.0, 11.0, 9.0, 10.0], "nuc": [20.0, 23.0, 17.0, 21.0]}
    return pd.DataFrame([{"setup": "big", "method": m, "round": i, "step_ms": t,
                          "device": "cpu" if m == "sfw" else device_b}
                         for m, ts in times.items() for i, t in enumerate(ts)])


def test_claims_about_compute_read_a_ratio_with_its_interval_from_the_rounds():
    table = _compression({("sfw", "gradient"): [0.80, 0.82, 0.81],
                          ("nuc", None): [0.81, 0.815, 0.80]})
    definitions = _definitions(method={"method": "sfw"}, versus={"method": "nuc"}, margin=0.01,
                 measures={"area": 0.0, "step_ratio": 1.5},
                 compute={"setup": "big", "at_least": 1.25})
    rows = claims(definitions, table, NO_TRAINING, NO_TUNING, _rounds()).set_index("measure")
    step = rows.loc["step_ratio"]
    ratios = np.array([20 / 10, 23 / 11, 17 / 9, 21 / 10])
    assert step["effect"] == pytest.approx(np.exp(np.log(ratios).mean()))
    assert 1.25 < step["ci_low"] < step["effect"] < step["ci_high"]
    assert step["ci_low_holm"] <= step["ci_low"] and step["threshold"] == pytest.approx(1.25)
    assert step["min_effect"] == pytest.approx(1.5)
    assert step["verdict"] == "holds" and step["unit"] == "timing rounds"
    assert step["samples"] == 4 and step["p_improvement"] == 1.0
    assert rows.loc["area", "ci_low"] < -0.01 < rows.loc["area", "ci_high"]
    assert dict(zip(rows["part"], rows["part_verdict"])) == {
        "robustness": "inconclusive", "compute": "holds"}
    assert set(rows["claim_verdict"]) == {"inconclusive"}


def test_a_ratio_of_step_times_from_two_devices_is_refused():
    table = _compression({("sfw", "gradient"): [0.80, 0.8], ("nuc", None): [0.81, 0.8]})
    definitions = _definitions(method={"method": "sfw"}, versus={"method": "nuc"},
                 measures={"step_ratio": 1.5}, compute={"setup": "big", "at_least": 1.25})
    with pytest.raises(ValueError, match="not measured on one device"):
        claims(definitions, table, NO_TRAINING, NO_TUNING, _rounds("NVIDIA H100"))


def test_pairs_each_compares_every_curve_of_one_side_with_every_curve_of_the_other():
    table = _compression({
        ("sfw", "gradient"): [{0.0: 0.99, 0.5: 0.6 + d, 0.9: 0.2} for d in (0, 0.01, 0.02)],
        ("sfw", "fast_gradient"): [{0.0: 0.9, 0.5: 0.8 + d, 0.9: 0.5} for d in (0, 0.01, 0.02)],
        ("sfw", "diameter"): [{0.0: 0.99, 0.5: 0.7, 0.9: 0.3}] * 3,
        ("sfw", "none"): [{0.0: 0.98, 0.5: 0.5, 0.9: 0.1}] * 3,
    })
    definitions = _definitions(method={"rescale": ["gradient", "fast_gradient"]},
                 versus={"rescale": ["diameter", "none"]}, pairs="each")
    rows = claims(definitions, table, NO_TRAINING, NO_TUNING)
    assert list(rows["pair"]) == [
        "rescale=gradient vs rescale=diameter", "rescale=gradient vs rescale=none",
        "rescale=fast_gradient vs rescale=diameter", "rescale=fast_gradient vs rescale=none"]
    verdicts = dict(zip(rows["pair"], rows["verdict"]))
    assert verdicts["rescale=gradient vs rescale=diameter"] == "does not hold"
    assert verdicts["rescale=fast_gradient vs rescale=none"] == "holds"
    assert set(rows["claim_verdict"]) == {"does not hold"}  # one pair that fails sinks it


# -- the statistics -------------------------------------------------------------------------

def test_verdicts_hold_above_the_threshold_and_fail_below_it_after_holm():
    assert verdict(0.01, 0.0, math.nan) == "holds"
    assert verdict(-0.01, 0.0, 0.01) == "does not hold"
    assert verdict(-0.01, 0.0, 0.03) == "inconclusive"
    assert verdict(-0.005, -0.01, 0.5) == "holds"  # on par within one point
    assert verdict(math.nan, 0.0, math.nan) == "inconclusive"  # one replicate


def test_a_claim_holds_only_when_every_measure_does_and_fails_when_any_does():
    assert combine(["holds", "holds"]) == "holds"
    assert combine(["holds", "inconclusive"]) == "inconclusive"
    assert combine(["inconclusive", "does not hold"]) == "does not hold"


def test_holm_adjusts_in_steps_and_keeps_the_order():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, math.nan, 0.001])[2] == pytest.approx(0.002)
    assert math.isnan(holm([0.5, math.nan])[1])


def test_without_an_effect_a_claim_of_twelve_measures_rarely_fails():
    """C3 compares four pairs on three measures.  With no true effect anywhere, each
    measure's own test would sink the claim in about 1 - 0.975^12 = 26% of the runs; Holm's
    correction keeps that at 2.5% or below."""
    rng = np.random.default_rng(0)
    simulations, failed, failed_uncorrected = 1000, 0, 0
    for _ in range(simulations):
        found = [t_interval(rng.normal(0.0, 0.03, 8), 0.0) for _ in range(12)]
        adjusted = holm([f["p_fails"] for f in found])
        failed += any(p < ALPHA for p in adjusted)
        failed_uncorrected += any(f["p_fails"] < ALPHA for f in found)
    assert failed / simulations <= 0.035
    assert failed_uncorrected / simulations > 0.15


def test_the_probability_of_improvement_has_a_wilson_interval():
    found = interval(np.array([0.1, 0.2, -0.1, 0.3, 0.0]), 0.0, 0.02)
    assert found["p_improvement"] == pytest.approx(3.5 / 5)
    low = stats.binomtest(3, 5).proportion_ci(0.95, method="wilson").low
    high = stats.binomtest(4, 5).proportion_ci(0.95, method="wilson").high
    assert (found["p_improvement_low"], found["p_improvement_high"]) == pytest.approx(
        (low, high))
    all_wins = interval(np.full(8, 0.1) + np.arange(8) * 0.01, 0.0, 0.02)
    assert all_wins["p_improvement"] == 1.0 and all_wins["p_improvement_low"] < 0.7


def test_the_replicates_needed_give_80_percent_power_at_the_declared_effect():
    rng = np.random.default_rng(1)
    needed = samples_needed(0.02, 0.03)
    # the one-sided t-test at 2.5% rejects in about 80% of simulated runs of that size
    rejected = np.mean([t_interval(rng.normal(0.02, 0.03, needed), 0.0)["ci_low"] > 0
                        for _ in range(2000)])
    assert 0.77 <= rejected <= 0.84
    assert needed - 1 >= 2 and samples_needed(0.02, 0.03) > samples_needed(0.04, 0.03)
    assert math.isnan(samples_needed(0.0, 1.0)) and samples_needed(0.5, 0.0) == 2


def test_the_interval_covers_the_protocol_s_effect_across_flipping_tuning_choices():
    """The protocol, simulated: in every replicate tuning picks one of two grid points whose
    true scores tie (so the choice flips with the tuning noise; a third, worse point is never
    picked), and a fresh evaluation seed then measures the advantage at the chosen point,
    +4 points at one and -2 at the other.  The protocol's effect is their mean, +1 point.  The
    95% interval over eight replicates must cover it in 93-97% of the simulated runs.  An
    interval over eight seeds of one fixed choice (the former protocol) covers the effect at
    that choice, not the protocol's, and fails this."""
    rng = np.random.default_rng(2)
    scores, effects, tuning_noise, seed_noise = np.array([0.8, 0.8, 0.6]), \
        np.array([0.04, -0.02, 0.0]), 0.01, 0.02
    truth = effects[:2].mean()
    simulations, covered, covered_fixed = 2000, 0, 0
    for _ in range(simulations):
        choices = np.argmax(scores + rng.normal(0, tuning_noise, (8, 3)), axis=1)
        per_replicate = effects[choices] + rng.normal(0, seed_noise, 8)
        found = t_interval(per_replicate, 0.0)
        covered += found["ci_low"] <= truth <= found["ci_high"]
        fixed = effects[choices[0]] + rng.normal(0, seed_noise, 8)  # one choice, eight seeds
        found = t_interval(fixed, 0.0)
        covered_fixed += found["ci_low"] <= truth <= found["ci_high"]
    assert 0.93 <= covered / simulations <= 0.97
    assert covered_fixed / simulations < 0.5
