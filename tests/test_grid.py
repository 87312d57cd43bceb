"""Grid expansion: studies become runs, shared runs are trained once, variants that repeat the
base method are the base run, and inconsistent configs are rejected with the key named."""

import copy
from pathlib import Path

import pytest
import yaml

from cafw.pipeline.grid import GridError, compute_spec, expand
from cafw.spec import load_run

ROOT = Path(__file__).resolve().parents[1]


def _config(name="config.yaml"):
    return yaml.safe_load((ROOT / "config" / name).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "ci.yaml", "paper.yaml"])
def test_every_run_of_every_config_is_a_valid_run_config(name):
    config = _config(name)
    grid = expand(config)
    for run_config in grid.runs.values():
        load_run(run_config)  # raises ConfigError on any bad key or value
    for setup in config["setups"]:
        for spec in compute_spec(config, setup)["methods"].values():
            load_run(spec["run"])


def test_runs_shared_by_studies_are_trained_once_and_compressed_per_kind():
    grid = expand(_config())
    sgd = "digits-cnn__sgd__linear__s0"
    assert sorted(grid.kinds[sgd]) == ["filter", "lowrank", "unstructured"]
    studies = [row["study"] for row in grid.manifest if row["run"] == sgd]
    assert sorted(studies) == ["filter-pruning", "low-rank", "lr-ablation", "unstructured"]
    assert len(grid.runs) == len({row["run"] for row in grid.manifest})


def test_physical_and_saved_ratios_are_the_union_over_the_studies_sharing_a_sweep():
    config = _config()
    config["studies"]["filter-pruning"].update(physical=True, save_ratios=[0.5])
    config["studies"]["lr-ablation"].update(save_ratios=[0.3, 0.5])
    grid = expand(config)
    sgd = "digits-cnn__sgd__linear__s0"  # in both studies
    assert grid.sweeps[sgd, "filter"].physical
    assert grid.sweeps[sgd, "filter"].save_ratios == [0.3, 0.5]
    assert not grid.sweeps[sgd, "lowrank"].physical and not grid.sweeps[sgd, "lowrank"].save_ratios
    only_ablation = "digits-cnn__sgd__constant__s0"
    assert not grid.sweeps[only_ablation, "filter"].physical
    assert grid.sweeps[only_ablation, "filter"].save_ratios == [0.3, 0.5]
    assert (sgd, "lowrank") not in grid.saved_models() and (sgd, "filter") in grid.saved_models()
    assert not expand(_config()).saved_models()  # the default config saves nothing


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
    grid = expand(_config())
    base = "digits-cnn__sfw-group-k-support__linear__s0"
    rows = [r for r in grid.manifest if r["run"] == base]
    # the filter study, the ablation's {rescale: gradient} at linear, and the sensitivity
    # grid's (k 0.3, value 10) all train this one run
    assert {r["study"] for r in rows} == {"filter-pruning", "lr-ablation", "sensitivity"}
    assert "digits-cnn__sfw-group-k-support+rescale=gradient__linear__s0" not in grid.runs
    variant = grid.runs["digits-cnn__sfw-group-k-support+rescale=none+lr=0.05__constant__s0"]
    assert variant["optimizer"]["rescale"] == "none" and variant["optimizer"]["lr"] == 0.05
    assert variant["schedule"]["name"] == "constant"
    assert variant["tags"]["variant"] == "rescale=none,lr=0.05"


def test_sgd_is_not_varied_but_follows_the_study_schedules():
    grid = expand(_config())
    ablation = {r["run"] for r in grid.manifest if r["study"] == "lr-ablation" and r["method"] == "sgd"}
    assert ablation == {f"digits-cnn__sgd__{s}__s{seed}" for s in
                        ("constant", "linear") for seed in (0, 1)}


def test_counts_of_the_default_grid():
    grid = expand(_config())
    # per seed: 10 methods at the linear schedule; the ablation's 4 rescalings x 2 schedules
    # less the base run, and SGD's second schedule; 3 x 3 sensitivity settings less the base
    assert len(grid.runs) == 2 * (10 + (4 * 2 - 1) + 1 + (3 * 3 - 1))


@pytest.mark.parametrize("change, message", [
    (lambda c: c["studies"]["low-rank"]["methods"].append("adam"),
     "study 'low-rank' names unknown method 'adam'"),
    (lambda c: c["studies"]["low-rank"].update(kind="pruning"), "kind 'pruning' is not one of"),
    (lambda c: c["studies"]["sensitivity"]["vary"].update(weight_decay=[1]), "cannot vary 'weight_decay'"),
    (lambda c: c["methods"]["sfw-group-k-support"]["optimizer"].pop("rescale"),
     "varies 'rescale', but method 'SFW group-k-support' does not set it"),
    (lambda c: c["studies"]["filter-pruning"].update(setups=["mnist-mlp"]),
     "names unknown setup 'mnist-mlp'"),
])
def test_inconsistent_configs_name_the_problem(change, message):
    config = copy.deepcopy(_config())
    change(config)
    with pytest.raises(GridError, match=message):
        expand(config)
