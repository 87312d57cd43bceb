"""Tuning chooses each curve's point in each replicate on validation accuracy only, flags
choices at a grid's edge or beside a cliff, and takes recorded choices from the tuning lock."""

import json

import numpy as np
import pandas as pd
import pytest

from cafw.pipeline import lock
from cafw.pipeline.selection import CLIFF_DROP, flags, read_selection, select


def _plan(points, replicates=(0,), seeds=1, curve="c"):
    """One row per (curve, replicate, point, seed); run r<point>s<seed> of replicate r."""
    return pd.DataFrame([{"curve": curve, "study": "s", "kind": "filter", "replicate": r,
                          "point": json.dumps(p), "run": f"r{i}s{r * seeds + k}",
                          "seed": r * seeds + k, "method": "m", "label": "M",
                          "digest": f"d{r}"}
                         for r in replicates for i, p in enumerate(points) for k in range(seeds)])


def _curves(runs):
    """runs: run -> {ratio: (val, test)}"""
    return pd.DataFrame([{"run": run, "kind": "filter", "ratio": ratio, "val_accuracy": v,
                          "test_accuracy": t}
                         for run, curve in runs.items() for ratio, (v, t) in curve.items()])


def _sweeps(scores, seed=0):
    """scores: point index -> (dense val, val at 0.5, dense test, test at 0.5)"""
    return _curves({f"r{i}s{seed}": {0.0: (dense_val, dense_test), 0.5: (val, test)}
                    for i, (dense_val, val, dense_test, test) in scores.items()})


def _chosen(table):
    return table[table["selected"]]["point"].map(json.loads).tolist()


def test_the_choice_reads_validation_accuracy_only():
    plan = _plan([{"lr": 0.1}, {"lr": 1.0}])
    # lr 0.1 is better on validation, lr 1.0 on test
    table = select(plan, _sweeps({0: (0.99, 0.8, 0.90, 0.2), 1: (0.99, 0.6, 0.99, 0.9)}))
    assert _chosen(table) == [{"lr": 0.1}]
    # whatever the test accuracies are, the choice stays
    shuffled = _sweeps({0: (0.99, 0.8, 0.10, 0.0), 1: (0.99, 0.6, 1.0, 1.0)})
    assert _chosen(select(plan, shuffled)) == [{"lr": 0.1}]
    assert {"dense_test_accuracy", "test_area", "lr"} <= set(table.columns)
    assert len(table) == 2  # one row per point


def test_the_score_weighs_dense_accuracy_and_the_area_equally_averaged_over_the_seeds():
    """lr 1.0 keeps more under compression (area 0.725 against 0.675) but loses ten points of
    dense accuracy: the area alone would choose it, the rule does not."""
    plan = _plan([{"lr": 0.1}, {"lr": 1.0}], seeds=2)
    ratios = (0.0, 0.3, 0.6)
    runs = {"r0s0": (1.0, 0.9, 0.1), "r0s1": (1.0, 0.7, 0.1),  # areas 0.725, 0.625
            "r1s0": (0.9, 0.8, 0.5), "r1s1": (0.9, 0.8, 0.3)}  # areas 0.75, 0.70
    table = select(plan, _curves({run: {r: (a, 0.0) for r, a in zip(ratios, accuracies)}
                                  for run, accuracies in runs.items()}))
    points = table.set_index("lr")
    assert points["area_score"].to_dict() == pytest.approx({0.1: 0.675, 1.0: 0.725})
    assert points["dense_score"].to_dict() == pytest.approx({0.1: 1.0, 1.0: 0.9})
    assert points["score"].to_dict() == pytest.approx({0.1: 0.8375, 1.0: 0.8125})
    assert points["score_std"].to_dict() == pytest.approx({0.1: 0.05 / 2**0.5,
                                                           1.0: 0.025 / 2**0.5})
    assert points["seeds"].tolist() == [2, 2] and _chosen(table) == [{"lr": 0.1}]


def test_a_few_validation_images_cannot_flip_a_clear_choice():
    """The case that broke a former rule (a dense-accuracy tolerance of one point): lr 3 keeps
    its accuracy under compression, lr 0.3 collapses, and lr 3's dense validation accuracy is
    5 images of 270 lower.  Moving up to 5 images at every ratio of either point, in either
    direction, never changes the choice."""
    ratios = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    robust = [0.981, 0.98, 0.98, 0.98, 0.975, 0.97, 0.9, 0.7, 0.4, 0.2]
    fragile = [1.0, 0.99, 0.9, 0.6, 0.35, 0.27, 0.12, 0.1, 0.1, 0.1]
    plan = _plan([{"lr": 0.3}, {"lr": 3.0}])
    image = 1 / 270
    for shift_robust in (-5, 0, 5):
        for shift_fragile in (-5, 0, 5):
            runs = {"r0s0": [a + shift_fragile * image for a in fragile],
                    "r1s0": [a + shift_robust * image for a in robust]}
            table = select(plan, _curves({run: {r: (a, a) for r, a in zip(ratios, curve)}
                                          for run, curve in runs.items()}))
            assert _chosen(table) == [{"lr": 3.0}]


def test_each_replicate_chooses_from_its_own_tuning_runs():
    plan = _plan([{"lr": 0.1}, {"lr": 1.0}], replicates=(0, 1))
    # replicate 0 (seed 0) prefers lr 0.1, replicate 1 (seed 1) lr 1.0
    sweeps = pd.concat([_sweeps({0: (0.9, 0.8, 0, 0), 1: (0.9, 0.6, 0, 0)}, seed=0),
                        _sweeps({0: (0.9, 0.6, 0, 0), 1: (0.9, 0.8, 0, 0)}, seed=1)])
    table = select(plan, sweeps)
    chosen = table[table["selected"]].set_index("replicate")["point"].map(json.loads)
    assert chosen.to_dict() == {0: {"lr": 0.1}, 1: {"lr": 1.0}}
    assert (table["seeds"] == 1).all()


def test_a_run_may_serve_several_curves():
    plan = pd.concat([_plan([{"lr": 0.1}, {"lr": 1.0}]),
                      _plan([{"lr": 0.1}, {"lr": 1.0}], curve="d").assign(study="t")])
    table = select(plan, _sweeps({0: (0.99, 0.8, 0, 0), 1: (0.99, 0.6, 0, 0)}))
    assert _chosen(table) == [{"lr": 0.1}, {"lr": 0.1}]
    assert len(table) == 4  # two curves x two points


def test_ties_go_to_the_first_point_and_the_table_round_trips(tmp_path):
    plan = _plan([{"lr": 0.1}, {"lr": 1.0}])
    table = select(plan, _sweeps({0: (0.99, 0.7, 0, 0), 1: (0.99, 0.7, 0, 0)}))
    table.to_csv(tmp_path / "tuning.csv", index=False)
    assert read_selection(tmp_path / "tuning.csv") == {("c", 0): {"lr": 0.1}}


def test_no_tuning_gives_an_empty_table(tmp_path):
    columns = ["curve", "study", "kind", "replicate", "point", "run", "digest"]
    table = select(pd.DataFrame(columns=columns), pd.DataFrame(columns=["run", "kind", "ratio"]))
    table.to_csv(tmp_path / "tuning.csv", index=False)
    assert table.empty and read_selection(tmp_path / "tuning.csv") == {}


def test_a_missing_sweep_is_an_error():
    with pytest.raises(ValueError, match="no sweep rows for tuning run r1s0"):
        select(_plan([{"lr": 0.1}, {"lr": 1.0}]), _sweeps({0: (0.9, 0.8, 0, 0)}))


# -- flags -------------------------------------------------------------------------------------

LRS = [{"lr": lr} for lr in (0.1, 0.3, 1.0, 3.0)]


@pytest.mark.parametrize("scores, best, expected", [
    ([0.80, 0.85, 0.86, 0.84], 2, []),  # inside, neighbours close
    ([0.80, 0.85, 0.86, 0.87], 3, ["edge"]),  # the best may lie beyond the grid
    ([0.90, 0.85, 0.86, 0.84], 0, ["edge"]),
    ([0.80, 0.85, 0.86, 0.30], 2, ["cliff"]),  # beside a diverging value
    ([0.80, 0.85, 0.30, 0.20], 1, ["cliff"]),
    ([0.10, 0.85, 0.84, 0.80], 1, ["cliff"]),
    ([0.80, 0.85, 0.10, 0.90], 3, ["edge", "cliff"]),
])
def test_a_choice_at_a_grid_edge_or_beside_a_cliff_is_flagged(scores, best, expected):
    assert flags(LRS, np.array(scores), best) == expected


def test_a_drop_just_under_the_cliff_is_no_cliff():
    scores = np.array([0.80, 0.85, 0.86, 0.86 - CLIFF_DROP + 0.001])
    assert flags(LRS, scores, 2) == []


def test_flags_follow_each_axis_of_a_product_grid():
    points = [{"lr": lr, "s": s} for lr in (0.1, 1.0, 10.0) for s in (0.01, 0.1, 1.0)]
    scores = np.full(9, 0.8)
    scores[4] = 0.85  # lr 1.0, s 0.1: inside on both axes
    assert flags(points, scores, 4) == []
    scores[5] = 0.5  # lr 1.0, s 1.0: a cliff along s
    assert flags(points, scores, 4) == ["cliff"]
    scores[4], scores[3] = 0.80, 0.9  # lr 1.0, s 0.01: the edge of the s axis
    assert flags(points, scores, 3) == ["edge"]


def test_the_table_flags_each_choice_and_each_curve_by_its_pooled_scores():
    plan = _plan([{"lr": 0.1}, {"lr": 1.0}, {"lr": 10.0}], replicates=(0, 1))
    sweeps = pd.concat([  # replicate 0 chooses lr 10 (edge), replicate 1 lr 1
        _sweeps({0: (0.9, 0.7, 0, 0), 1: (0.9, 0.8, 0, 0), 2: (0.9, 0.81, 0, 0)}, seed=0),
        _sweeps({0: (0.9, 0.7, 0, 0), 1: (0.9, 0.9, 0, 0), 2: (0.9, 0.7, 0, 0)}, seed=1)])
    table = select(plan, sweeps)
    chosen = table[table["selected"]].set_index("replicate")
    assert chosen["flags"].to_dict() == {0: "edge", 1: ""}
    assert set(table["pooled_flags"]) == {""}  # over both replicates lr 1.0 is best


# -- the lock ----------------------------------------------------------------------------------

def test_recorded_choices_stand_in_for_the_runs_they_were_made_from(tmp_path):
    plan = _plan([{"lr": 0.1}, {"lr": 1.0}], replicates=(0, 1))
    sweeps = pd.concat([_sweeps({0: (0.9, 0.6, 0, 0), 1: (0.9, 0.8, 0, 0)}, seed=s)
                        for s in (0, 1)])
    tuned = select(plan, sweeps)
    lock.write(tmp_path / "lock.csv", tuned)
    recorded = lock.read(tmp_path / "lock.csv")
    # with the lock, no sweep is needed, and the table is the same
    again = select(plan, sweeps.iloc[0:0], recorded)
    pd.testing.assert_frame_equal(again[tuned.columns], tuned, check_dtype=False)
    # a replicate whose tuning runs changed (another digest) needs its sweeps again
    changed = plan.assign(digest=plan["digest"].replace({"d1": "other"}))
    with pytest.raises(ValueError, match="no sweep rows for tuning run r0s1"):
        select(changed, sweeps.iloc[0:0], recorded)
    assert _chosen(select(changed, sweeps[sweeps["run"].str.endswith("s1")], recorded)) \
        == [{"lr": 1.0}, {"lr": 1.0}]


def test_the_lock_says_which_choices_moved(tmp_path):
    plan = _plan([{"lr": 0.1}, {"lr": 1.0}], replicates=(0, 1))
    first = select(plan, pd.concat([_sweeps({0: (0.9, 0.8, 0, 0), 1: (0.9, 0.6, 0, 0)},
                                            seed=s) for s in (0, 1)]))
    second = select(plan, pd.concat([
        _sweeps({0: (0.9, 0.8, 0, 0), 1: (0.9, 0.6, 0, 0)}, seed=0),
        _sweeps({0: (0.9, 0.6, 0, 0), 1: (0.9, 0.8, 0, 0)}, seed=1)]))
    assert lock.moved(first, second) == ["c replicate 1: lr=0.1 -> lr=1"]
    assert lock.moved(first, first) == []
    assert lock.choices(first) == {("c", 0): ("d0", {"lr": 0.1}), ("c", 1): ("d1", {"lr": 0.1})}


def test_a_file_that_is_not_a_lock_is_refused(tmp_path):
    (tmp_path / "lock.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="is not a tuning lock"):
        lock.read(tmp_path / "lock.csv")
    assert lock.read(tmp_path / "absent.csv").empty and lock.read(None).empty
