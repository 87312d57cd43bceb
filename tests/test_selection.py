"""Tuning selects on validation accuracy only; the claims are checked with intervals over
seeds, choosing among curves on validation accuracy too."""

import json
import math

import pandas as pd
import pytest

from cafw.pipeline.claims import claims, verdict
from cafw.pipeline.selection import read_selection, select


def _plan(points):
    return pd.DataFrame([{"curve": "c", "study": "s", "kind": "filter", "point": json.dumps(p),
                          "run": f"r{i}", "seed": 0, "method": "m", "label": "M"}
                         for i, p in enumerate(points)])


def _sweeps(scores):
    """scores: run -> (dense val, val at 0.5, dense test, test at 0.5)"""
    rows = []
    for run, (dense_val, val, dense_test, test) in scores.items():
        for ratio, v, t in ((0.0, dense_val, dense_test), (0.5, val, test)):
            rows.append({"run": run, "kind": "filter", "ratio": ratio, "val_accuracy": v,
                         "test_accuracy": t, "dense_val_accuracy": dense_val,
                         "dense_test_accuracy": dense_test})
    return pd.DataFrame(rows)


def _chosen(table):
    return table[table["selected"]].drop_duplicates("curve")["point"].map(json.loads).tolist()


def test_the_choice_reads_validation_accuracy_only():
    plan = _plan([{"lr": 0.1}, {"lr": 1.0}])
    # lr 0.1 is better on validation, lr 1.0 on test
    table = select(plan, _sweeps({"r0": (0.99, 0.8, 0.90, 0.2), "r1": (0.99, 0.6, 0.99, 0.9)}))
    assert _chosen(table) == [{"lr": 0.1}]
    # whatever the test accuracies are, the choice stays
    shuffled = _sweeps({"r0": (0.99, 0.8, 0.10, 0.0), "r1": (0.99, 0.6, 1.0, 1.0)})
    assert _chosen(select(plan, shuffled)) == [{"lr": 0.1}]
    assert {"test_accuracy", "dense_test_accuracy", "lr"} <= set(table.columns)


def test_points_must_be_within_one_point_of_the_best_dense_validation_accuracy():
    plan = _plan([{"lr": 0.1}, {"lr": 1.0}, {"lr": 3.0}])
    table = select(plan, _sweeps({"r0": (0.95, 0.9, 0, 0), "r1": (0.99, 0.5, 0, 0),
                                  "r2": (0.985, 0.6, 0, 0)}))
    eligible = table.drop_duplicates("point").set_index("lr")["eligible"]
    assert eligible.to_dict() == {0.1: False, 1.0: True, 3.0: True}
    assert _chosen(table) == [{"lr": 3.0}]


def test_a_run_may_serve_several_curves():
    plan = pd.concat([_plan([{"lr": 0.1}, {"lr": 1.0}]),
                      _plan([{"lr": 0.1}, {"lr": 1.0}]).assign(curve="d", study="t")])
    table = select(plan, _sweeps({"r0": (0.99, 0.8, 0, 0), "r1": (0.99, 0.6, 0, 0)}))
    assert _chosen(table) == [{"lr": 0.1}, {"lr": 0.1}]
    assert len(table) == 8  # two curves x two points x two ratios


def test_ties_go_to_the_first_point_and_the_table_round_trips(tmp_path):
    plan = _plan([{"lr": 0.1}, {"lr": 1.0}])
    table = select(plan, _sweeps({"r0": (0.99, 0.7, 0, 0), "r1": (0.99, 0.7, 0, 0)}))
    table.to_csv(tmp_path / "tuning.csv", index=False)
    assert read_selection(tmp_path / "tuning.csv") == {"c": {"lr": 0.1}}


def test_no_tuning_gives_an_empty_table(tmp_path):
    table = select(pd.DataFrame(columns=["curve", "study", "kind", "point", "run"]),
                   pd.DataFrame(columns=["run", "kind", "ratio"]))
    table.to_csv(tmp_path / "tuning.csv", index=False)
    assert table.empty and read_selection(tmp_path / "tuning.csv") == {}


def test_a_missing_sweep_is_an_error():
    with pytest.raises(ValueError, match="no sweep rows for tuning run r1"):
        select(_plan([{"lr": 0.1}, {"lr": 1.0}]), _sweeps({"r0": (0.9, 0.8, 0, 0)}))


# -- claims ------------------------------------------------------------------------------------

@pytest.mark.parametrize("low, high, margin, ratio, at_least, expected", [
    (0.01, 0.05, 0.0, math.nan, None, "holds"),
    (-0.05, -0.01, 0.0, math.nan, None, "does not hold"),
    (-0.02, 0.03, 0.0, math.nan, None, "inconclusive"),
    (-0.005, 0.01, 0.01, math.nan, None, "holds"),  # on par within one point
    (-0.03, -0.015, 0.01, math.nan, None, "does not hold"),
    (-0.005, 0.01, 0.01, 1.5, 2.0, "inconclusive"),  # on par, but not half the compute
    (-0.005, 0.01, 0.01, 2.5, 2.0, "holds"),
    (0.01, 0.05, 0.01, 0.8, 2.0, "does not hold"),  # slower than the baseline
    (math.nan, math.nan, 0.0, math.nan, None, "inconclusive"),  # one seed
])
def test_verdicts(low, high, margin, ratio, at_least, expected):
    assert verdict(low, high, margin, ratio, at_least) == expected


def _compression(curves):
    """curves: (method, rescale) -> per-seed (val, test) at ratio 0.5"""
    rows = []
    for (method, rescale), seeds in curves.items():
        for seed, (val, test) in enumerate(seeds):
            rows.append({"study": "s", "setup": "x", "ratio": 0.5, "method": method,
                         "label": method.upper(), "schedule": "linear", "variant": "",
                         "rescale": rescale, "seed": seed, "val_accuracy": val,
                         "test_accuracy": test})
    return pd.DataFrame(rows)


def test_claims_pair_seeds_and_choose_the_opponent_on_validation():
    table = _compression({
        ("sfw", "gradient"): [(0.9, 0.80), (0.9, 0.82), (0.9, 0.84)],
        ("sgd", None): [(0.5, 0.50), (0.5, 0.52), (0.5, 0.54)],  # best on validation
        ("lasso", None): [(0.4, 0.79), (0.4, 0.81), (0.4, 0.83)],  # best on test
    })
    spec = {"C1": {"statement": "x", "study": "s", "method": {"method": "sfw"},
                   "versus": {"method": ["sgd", "lasso"]}, "ratio": 0.45}}
    row = claims(spec, table, None).iloc[0]
    assert row["versus"] == "SGD" and row["ratio"] == 0.5 and row["seeds"] == 3
    assert row["effect"] == pytest.approx(0.30)
    assert row["ci_low"] == pytest.approx(0.30) and row["verdict"] == "holds"  # no spread


def test_claims_about_compute_read_the_step_times():
    table = _compression({("sfw", "gradient"): [(0.9, 0.80), (0.9, 0.82)],
                          ("nuc", None): [(0.9, 0.81), (0.9, 0.815)]})
    compute = pd.DataFrame({"setup": ["big", "big"], "method": ["sfw", "nuc"],
                            "step_ms": [10.0, 35.0]})
    spec = {"C2": {"statement": "x", "study": "s", "method": {"method": "sfw"},
                   "versus": {"method": "nuc"}, "ratio": 0.5, "margin": 0.01,
                   "compute": {"setup": "big", "at_least": 2}}}
    row = claims(spec, table, compute).iloc[0]
    assert row["compute_ratio"] == pytest.approx(3.5)
    assert row["ci_low"] < 0 < row["ci_high"]  # +0.02 and -0.005 over two seeds
    assert row["verdict"] == "inconclusive"  # the interval reaches below -1 point
