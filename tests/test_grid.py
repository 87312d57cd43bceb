"""Grid expansion: studies become runs in every replicate, shared runs are trained once,
variants that repeat the base method are the base run, tuned curves train their grid with
each replicate's tuning seeds and its evaluation seeds at the replicate's choice (or at the
lock's, while it was made from the same tuning runs), and inconsistent configs are rejected
with the key named."""

import copy
from pathlib import Path

import pytest
import yaml

from cafw.pipeline.grid import (
    GridError,
    check_baseline,
    check_claims,
    compute_runs,
    curves,
    expand,
    replicates,
)
from cafw.pipeline.studies import figures, table
from cafw.spec import load_run

ROOT = Path(__file__).resolve().parents[1]


def _config(name="config.yaml"):
    return yaml.safe_load((ROOT / "config" / name).read_text())


def _selected(config, choice=0):
    """A selection that picks the ``choice``-th grid point of every tuned curve in every
    replicate (the last, for a negative ``choice``)."""
    return {(c.id, r.index): c.points()[min(choice, len(c.points()) - 1)]
            for c in curves(config) if c.grid for r in c.replicates}


@pytest.mark.parametrize("name", ["config.yaml", "mnist.yaml", "ci.yaml", "paper.yaml"])
def test_every_run_of_every_config_is_a_valid_run_config(name):
    config = _config(name)
    grid = expand(config, _selected(config))
    assert not grid.pending
    for run_config in grid.runs.values():
        load_run(run_config)  # raises ConfigError on any bad key or value
    for setup in config["setups"]:
        for method in compute_runs(config, setup)["methods"].values():
            load_run(method["run"])


def test_replicates_have_disjoint_seeds_tuning_seeds_first():
    config = {"replicates": {"count": 3, "tuning_seeds": 2, "evaluation_seeds": 1}}
    assert [(r.tuning_seeds, r.evaluation_seeds) for r in replicates(config)] == [
        ((0, 1), (2,)), ((3, 4), (5,)), ((6, 7), (8,))]
    moved = replicates({**config, "seed_offset": 100})
    assert moved[0].tuning_seeds == (100, 101) and moved[2].evaluation_seeds == (108,)


def test_tuned_curves_train_their_grid_in_each_replicate_then_its_evaluation_seeds():
    config = _config()
    before = expand(config)
    curve = next(c for c in curves(config) if c.study == "low-rank" and c.method == "sgd-nuclear")
    assert curve.grid == {"penalty.strength": [0.01, 0.03, 0.1, 0.18, 0.3]}
    assert {(curve.id, r) for r in range(8)} <= set(before.pending)
    tuning = [row for row in before.tuning if row["curve"] == curve.id and row["replicate"] == 1]
    # each point with replicate 1's tuning seed, 2; the base value is the base run
    assert [row["run"] for row in tuning] == [
        f"digits-cnn__sgd-nuclear{point}__linear__s2"
        for point in ("+strength=0.01", "+strength=0.03", "", "+strength=0.18",
                      "+strength=0.3")]
    assert len({row["digest"] for row in before.tuning if row["curve"] == curve.id}) == 8
    assert not any(row["method"] == "sgd-nuclear" for row in before.manifest)  # not yet known

    chosen = {(curve.id, r): {"penalty.strength": 0.3 if r % 2 else 0.1} for r in range(8)}
    after = expand(config, chosen)
    rows = [r for r in after.manifest if r["method"] == "sgd-nuclear"]
    assert [(r["replicate"], r["seed"], r["point"]) for r in rows] == [
        (r, 2 * r + 1, "strength=0.3" if r % 2 else "strength=0.1") for r in range(8)]
    assert {r["variant"] for r in rows} == {""}  # the tuned key is no part of the curve's name
    # no evaluation run is a tuning run
    assert not {r["run"] for r in rows} & {r["run"] for r in before.tuning}
    # a selection that is not a point of the curve's grid (an older grid) is not used
    other = expand(config, {(curve.id, 0): {"penalty.strength": 7.0}})
    assert (curve.id, 0) in other.pending


def test_a_recorded_choice_is_used_while_its_tuning_runs_are_the_grid_s():
    config = _config()
    curve = next(c for c in curves(config) if c.study == "low-rank" and c.method == "sgd-nuclear")
    digests = expand(config).digests
    recorded = {(curve.id, 0): (digests[curve.id, 0], {"penalty.strength": 0.03}),
                (curve.id, 1): ("stale", {"penalty.strength": 0.03})}
    grid = expand(config, lock=recorded)
    assert (curve.id, 0) in grid.locked and (curve.id, 0) not in grid.pending
    assert (curve.id, 1) in grid.pending  # made from other tuning runs
    assert not {r["run"] for r in grid.tuning if r["curve"] == curve.id and
                r["replicate"] == 0} & set(grid.tuning_runs())  # its runs need no training
    # another seed set, or more epochs, make other tuning runs: the lock no longer applies
    assert (curve.id, 0) in expand({**config, "seed_offset": 1000}, lock={
        (f"{curve.id}", 0): recorded[curve.id, 0]}).pending
    longer = copy.deepcopy(config)
    longer["setups"]["digits-cnn"]["epochs"] = 20
    assert (curve.id, 0) in expand(longer, lock=recorded).pending
    # how a run is spread over threads is no part of its digest
    threads = copy.deepcopy(config)
    threads["defaults"]["threads"] = 2
    assert expand(threads).digests == digests
    # only a lock that makes every choice spares the pipeline the wait for the selection
    assert not grid.all_locked()
    every = {key: (digest, curve_points[0]) for key, digest in digests.items()
             for curve_points in [next(c for c in curves(config) if c.id == key[0]).points()]}
    assert expand(config, lock=every).all_locked()


@pytest.mark.parametrize("name", ["config.yaml", "mnist.yaml"])
def test_the_committed_lock_makes_every_choice_of_its_config(name):
    """A change of code that changes what the planner writes into run configs invalidates the
    committed tuning locks (a fresh clone would tune again): it must be a new protocol."""
    from cafw.pipeline.lock import choices, read

    config = _config(name)
    assert expand(config, lock=choices(read(ROOT / config["tuning"]["lock"]))).all_locked()


def test_runs_shared_by_studies_are_trained_once_and_compressed_per_kind():
    config = _config()
    grid = expand(config, _selected(config, choice=1))  # SGD's second point is its own lr
    sgd = "digits-cnn__sgd__linear__s1"
    assert sorted(grid.kinds[sgd]) == ["filter", "lowrank", "unstructured"]
    studies = [row["study"] for row in grid.manifest if row["run"] == sgd]
    assert sorted(studies) == ["filter-pruning", "low-rank", "lr-ablation", "unstructured"]
    assert set(grid.study_runs()) <= set(grid.runs)


def test_physical_and_saved_ratios_are_the_union_over_the_studies_sharing_a_sweep():
    config = _config()
    config["studies"]["filter-pruning"].update(physical=True, save_ratios=[0.5])
    config["studies"]["lr-ablation"].update(save_ratios=[0.3, 0.5])
    grid = expand(config, _selected(config, choice=1))  # SGD's second point is its own lr
    sgd = "digits-cnn__sgd__linear__s1"  # in both studies
    assert grid.sweeps[sgd, "filter"].physical
    assert grid.sweeps[sgd, "filter"].save_ratios == [0.3, 0.5]
    assert not grid.sweeps[sgd, "lowrank"].physical and not grid.sweeps[sgd, "lowrank"].save_ratios
    assert (sgd, "lowrank") not in grid.saved_models() and (sgd, "filter") in grid.saved_models()
    # A tuning sweep of a physical study is physical, and none keeps models.
    before = expand(config)
    tuned = {}
    for row in before.tuning:
        tuned.setdefault((row["run"], row["kind"]), set()).add(row["study"])
    assert {False, True} <= {"filter-pruning" in studies for studies in tuned.values()}
    assert all(before.sweeps[key].physical == ("filter-pruning" in studies)
               for key, studies in tuned.items())
    assert not any(before.sweeps[key].save_ratios for key in tuned)
    assert not expand(_config(), _selected(_config())).saved_models()  # the default saves none


@pytest.mark.parametrize("study, key, value, message", [
    ("filter-pruning", "save_ratios", [0.55], "saves ratio 0.55, which its kind 'filter' does "
                                              "not sweep"),
    ("unstructured", "physical", True, "physical applies to kinds filter and lowrank, not "
                                       "'unstructured'"),
])
def test_bad_physical_or_save_settings_name_the_study(study, key, value, message):
    config = _config()
    config["studies"][study][key] = value
    with pytest.raises(GridError, match=f"study '{study}'.*{message}"):
        expand(config)


def test_variants_equal_to_the_base_method_are_the_base_run():
    config = _config()
    grid = expand(config, _selected(config, choice=2))  # gks's third lr, 3.0, is its own
    base = "digits-cnn__sfw-group-k-support__linear__s1"
    # filter-pruning's choice and the ablation's gradient rule there are the method itself
    assert {r["study"] for r in grid.manifest if r["run"] == base} == {"filter-pruning",
                                                                        "lr-ablation"}
    ablation = [r for r in grid.manifest if r["study"] == "lr-ablation" and r["seed"] == 1
                and r["method"] == "sfw-group-k-support"]
    assert sorted((r["variant"], r["point"]) for r in ablation) == [
        ("", "lr=3"), ("rescale=diameter", "lr=3"), ("rescale=fast_gradient", "lr=3"),
        ("rescale=none", "lr=0.03")]  # each rule's third grid point
    variant = grid.runs["digits-cnn__sfw-group-k-support+rescale=none+lr=0.03__linear__s1"]
    assert variant["optimizer"]["rescale"] == "none" and variant["optimizer"]["lr"] == 0.03


def test_curves_that_no_claim_reads_run_in_fewer_replicates():
    config = _config()
    found = {(c.study, c.method): len(c.replicates) for c in curves(config)
             if not c.overrides}
    assert config["replicates"]["unclaimed"] == 3
    assert found[("filter-pruning", "sfw-group-k-support")] == 8  # C1's method
    assert found[("filter-pruning", "sgd")] == 8  # one of C1's opponents
    assert found[("filter-pruning", "sfw-l2")] == 3  # drawn, never claimed
    assert found[("low-rank", "sfw-nuclear")] == 3 and found[("low-rank", "sgd")] == 3
    assert found[("unstructured", "sfw-k-sparse")] == 8


def test_a_study_may_use_fewer_replicates_and_skip_tuning():
    config = _config()
    grid = expand(config)
    rows = [r for r in grid.manifest if r["study"] == "sensitivity"]
    assert len(rows) == 4 and {(r["replicate"], r["seed"]) for r in rows} == {(0, 1)}
    assert not any(row["study"] == "sensitivity" for row in grid.tuning)


def test_counts_of_the_default_grid():
    config = _config()
    grid = expand(config, _selected(config))
    tuned = [c for c in curves(config) if c.grid]
    # 15 tuned curves: 8 methods (SGD in 4 studies), 4 ablation rules
    assert len(tuned) == 15
    # every point once per replicate, grid points shared by curves trained once (SGD's by 4
    # studies, SFW group-k-support's by filter-pruning and the ablation's gradient rule): 72;
    # SFW L2's five points, which no claim reads, in three replicates only
    assert len({row["run"] for row in grid.tuning}) == 72 * 8 - 5 * 5
    assert len(grid.manifest) == sum(len(c.replicates) for c in curves(config))


def test_a_seed_offset_moves_every_seed_the_tuning_seeds_included():
    config = _config()
    moved_config = {**config, "seed_offset": 1000}
    base, moved = expand(config, _selected(config)), expand(moved_config, _selected(moved_config))
    seeds = lambda grid: {row["seed"] for row in grid.manifest + grid.tuning}  # noqa: E731
    assert seeds(base) == set(range(16))  # eight replicates of a tuning and an evaluation seed
    assert seeds(moved) == set(range(1000, 1016))
    assert not set(base.runs) & set(moved.runs)
    assert {r.removesuffix("__s1000") for r in moved.runs if r.endswith("__s1000")} == \
        {r.removesuffix("__s0") for r in base.runs if r.endswith("__s0")}


@pytest.mark.parametrize("name", ["config.yaml", "mnist.yaml", "ci.yaml", "paper.yaml"])
def test_the_claims_of_every_config_name_swept_ratios(name):
    check_claims(_config(name))
    check_baseline(_config(name))


def test_the_baseline_is_a_method_the_compute_comparison_times():
    config = copy.deepcopy(_config())
    config["baseline"] = "sgd-group-lasso"
    with pytest.raises(GridError, match="baseline 'sgd-group-lasso' is not among the methods"):
        check_baseline(config)


def test_each_study_is_drawn_as_its_chart_says_and_an_ablation_gets_two_more_figures():
    config = _config()
    stems = {f.stem: (f.chart, f.study, f.setup) for f in figures(config)}
    assert stems == {
        "filter-pruning__digits-cnn": ("compression", "filter-pruning", "digits-cnn"),
        "low-rank__digits-cnn": ("compression", "low-rank", "digits-cnn"),
        "unstructured__digits-cnn": ("compression", "unstructured", "digits-cnn"),
        "lr-ablation__digits-cnn": ("lr_ablation", "lr-ablation", "digits-cnn"),
        "dynamics__lr-ablation__digits-cnn": ("dynamics", "lr-ablation", "digits-cnn"),
        "lr-grid__lr-ablation__digits-cnn": ("lr_grid", "lr-ablation", "digits-cnn"),
        "sensitivity__digits-cnn": ("sensitivity", "sensitivity", "digits-cnn"),
        "compute": ("compute", None, None), "lr-theory": ("lr_theory", None, None)}
    # a second ablation gets its own dynamics and grid
    config["studies"]["lr-ablation-2"] = config["studies"]["lr-ablation"]
    assert {"dynamics__lr-ablation-2__digits-cnn", "lr-grid__lr-ablation-2__digits-cnn"} < \
        {f.stem for f in figures(config)}
    assert [(r["study"], r["chart"], r["baseline"]) for r in table(config)][-2:] == \
        [("sensitivity", "sensitivity", "sgd"), ("lr-ablation-2", "lr_ablation", "sgd")]


@pytest.mark.parametrize("change, message", [
    (lambda c: c["claims"]["C1"].update(study="pruning"), "unknown study 'pruning'"),
    (lambda c: c["claims"]["C1"].update(ratio=0.55), "its ratio 0.55 is not a ratio that "
                                                     "study 'filter-pruning' sweeps"),
    (lambda c: c["claims"]["C4"].update(up_to=0.97), "its up_to 0.97 is not a ratio"),
    (lambda c: c["claims"]["C2"]["compute"].update(setup="gpu"), "unknown setup 'gpu'"),
    (lambda c: c["claims"]["C2"]["measures"].pop("step_ratio"), "step_ratio and the key "
                                                                "compute go together"),
    (lambda c: c["studies"]["unstructured"].update(replicates=1), "which has 1 replicate"),
    (lambda c: c["methods"]["sgd-group-lasso"].pop("tune"), "is not tuned; tune it or name "
                                                            "one curve"),
])
def test_bad_claims_name_the_problem(change, message):
    config = copy.deepcopy(_config())
    change(config)
    with pytest.raises(GridError, match=message):
        check_claims(config)


@pytest.mark.parametrize("change, message", [
    (lambda c: c["ratios"]["filter"].remove(0.0), "ratios.filter must include 0.0"),
    (lambda c: c["studies"]["low-rank"]["methods"].append("adam"),
     "study 'low-rank' names unknown method 'adam'"),
    (lambda c: c["studies"]["low-rank"].update(kind="pruning"), "kind 'pruning' is not one of"),
    (lambda c: c["studies"]["sensitivity"]["vary"].update(weight_decay=[1]),
     "cannot vary 'weight_decay'"),
    (lambda c: c["methods"]["sfw-group-k-support"]["optimizer"].pop("rescale"),
     "varies or tunes 'rescale', but method 'SFW group-k-support' does not set it"),
    (lambda c: c["methods"]["sgd"].update(tune={"nesterov": [True]}),
     "tunes 'nesterov', but method 'SGD' does not set it"),
    (lambda c: c["studies"]["filter-pruning"].update(setups=["mnist-mlp"]),
     "names unknown setup 'mnist-mlp'"),
])
def test_inconsistent_configs_name_the_problem(change, message):
    config = copy.deepcopy(_config())
    change(config)
    with pytest.raises(GridError, match=message):
        expand(config)
