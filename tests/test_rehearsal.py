"""The rehearsal (config/rehearsal.yaml, cafw.pipeline.rehearsal): merged over a grid, it keeps
the grid's structure, shrinks every run onto the CPU and small copies of its datasets, thins
only replicates, tuning grids and ratios, and is planned by Snakemake with the writers instead of
the downloads.  The rehearsal itself runs in test_rehearsal_run.py (slow)."""

import copy
from pathlib import Path

import pytest
import yaml

from cafw.pipeline.cost import load
from cafw.pipeline.grid import GridError, curves, expand
from cafw.pipeline.preflight import preflight_setups
from cafw.pipeline.rehearsal import rehearsed
from cafw.pipeline.resources import train_gpus, train_processes, train_resource
from cafw.pipeline.studies import figures, table
from cafw.spec import load_run
from repo_copy import copy_repo
from test_pipeline import job_counts, snakemake

ROOT = Path(__file__).resolve().parents[1]
GRIDS = [["config/paper.yaml"], ["config/paper.yaml", "config/paper-reduced.yaml"]]
REHEARSAL = "config/rehearsal.yaml"


def _load(*files: str) -> dict:
    return load([ROOT / f for f in files])


def _selected(config: dict) -> dict:
    """A selection that picks the last grid point of every tuned curve in every replicate."""
    return {(c.id, r.index): c.points()[-1] for c in curves(config) if c.grid
            for r in c.replicates}


@pytest.mark.parametrize("grid", GRIDS, ids=["paper", "paper-reduced"])
def test_the_rehearsal_keeps_every_setup_study_curve_claim_and_figure(grid):
    original, rehearsal = _load(*grid), _load(*grid, REHEARSAL)
    for section in ("setups", "studies", "methods", "schedules", "claims"):
        assert list(rehearsal[section]) == list(original[section]), section
    # a curve is a study's setup x method x schedule x variant: all of them, by name
    assert [c.id for c in curves(rehearsal)] == [c.id for c in curves(original)]
    assert figures(rehearsal) == figures(original)
    assert table(rehearsal) == table(original)
    assert rehearsal["compute"]["methods"] == original["compute"]["methods"]


@pytest.mark.parametrize("grid", GRIDS, ids=["paper", "paper-reduced"])
def test_it_thins_only_as_far_as_claims_and_tuning_still_work(grid):
    original, rehearsal = _load(*grid), _load(*grid, REHEARSAL)
    tuned = {c.id: c for c in curves(original) if c.grid}
    for curve in curves(rehearsal):
        assert len(curve.replicates) >= 2, curve.id  # the claims' intervals
        if curve.id in tuned:
            assert len(curve.points()) >= 2, curve.id  # tuning chooses
            assert all(values == tuned[curve.id].grid[key][:len(values)]
                       for key, values in curve.grid.items())
    for name, claim in rehearsal["claims"].items():
        kind = rehearsal["studies"][claim["study"]]["kind"]
        assert claim["ratio"] in rehearsal["ratios"][kind], name
    for kind, ratios in rehearsal["ratios"].items():
        assert ratios[0] == 0.0 and len(ratios) == 3
        assert ratios[-1] == original["ratios"][kind][-1]  # the largest: the hardest case
        assert set(ratios) <= set(original["ratios"][kind])


def test_every_run_is_small_on_the_cpu_and_reads_a_small_copy():
    config = _load("config/paper.yaml", REHEARSAL)
    plan = config["rehearsal"]
    grid = expand(config, _selected(config))
    assert not grid.pending
    for run in grid.runs.values():
        load_run(run)
        assert {k: run[k] for k in plan["run"]} == plan["run"]
        assert run["dataset_options"] == {**plan["datasets"][run["dataset"]]["options"]}
    assert {run["dataset"] for run in grid.runs.values()} == set(plan["datasets"])
    assert config["defaults"]["data_root"] == "data"  # the dataset rule writes there


def test_no_job_asks_for_a_gpu_and_the_multi_gpu_setup_trains_in_two_processes():
    original = _load("config/paper.yaml")
    config = _load("config/paper.yaml", REHEARSAL)
    for rule, resources in config["resources"].items():
        assert resources["gpu"] == 0 and "cpus_per_gpu" not in resources, rule
        assert resources["threads"] == 1 and resources["runtime"] == 30
    for setup in config["setups"]:
        assert train_gpus(config, setup) == 0
        assert train_resource(config, setup, "cpus_per_gpu") is None
        processes = 2 if train_gpus(original, setup) > 1 else 1
        assert train_processes(config, setup) == processes
        assert train_resource(config, setup, "threads") == processes  # one each
    assert train_processes(config, "imagenet-resnet50") == 2
    # every setup whose training asks for GPUs keeps its preflight job, on the CPU
    assert preflight_setups(config) == preflight_setups(original) == list(original["setups"])


def test_without_a_rehearsal_section_a_config_is_left_as_it_is():
    config = _load("config/paper.yaml")
    assert rehearsed(config) is config


def _grid(**changes) -> dict:
    """config/ci.yaml on CIFAR-10 with the rehearsal merged over it."""
    config = _load("config/ci.yaml")
    config["setups"]["digits-cnn"].update(dataset="cifar10", model="resnet56")
    plan = copy.deepcopy(_load("config/paper.yaml", REHEARSAL)["rehearsal"])
    config.update(rehearsal=plan, **changes)
    return config


def test_schedules_are_brought_inside_the_rehearsals_epochs():
    """A grid that warms up for 5 epochs and decays at epochs 30 and 60 would not be a valid
    run at two epochs; a step decay every 30 epochs would never decay."""
    config = _grid(schedules={"linear": {"name": "linear", "warmup_epochs": 5},
                              "constant": {"name": "multistep", "milestones": [1, 30, 60]},
                              "step": {"name": "step", "step_size": 30}})
    schedules = rehearsed(config)["schedules"]
    assert schedules == {"linear": {"name": "linear", "warmup_epochs": 1},
                         "constant": {"name": "multistep", "milestones": [1]},
                         "step": {"name": "step", "step_size": 1}}
    config["schedules"]["constant"]["milestones"] = [30, 60]
    assert rehearsed(config)["schedules"]["constant"] == {"name": "multistep"}
    for run in expand(rehearsed(config), _selected(rehearsed(config))).runs.values():
        load_run(run)


def test_ratios_keep_zero_what_claims_and_saves_name_then_the_largest():
    config = _grid()
    config["ratios"]["filter"] = [0.0, 0.1, 0.3, 0.6, 0.8]
    config["studies"]["filter-pruning"]["save_ratios"] = [0.1]
    config["rehearsal"]["ratios"] = 3
    assert rehearsed(config)["ratios"]["filter"] == [0.0, 0.1, 0.3]  # all named, beyond 2 more
    config["studies"]["filter-pruning"]["save_ratios"] = [0.3]  # claim C1's ratio too
    assert rehearsed(config)["ratios"]["filter"] == [0.0, 0.3, 0.8]


@pytest.mark.parametrize("change, message", [
    (lambda c: c["rehearsal"]["datasets"].pop("cifar10"),
     "setup 'digits-cnn' trains on cifar10, of which the rehearsal has no small copy: add "
     "rehearsal.datasets.cifar10"),
    (lambda c: c["rehearsal"]["run"].update(model="resnet18"),
     "rehearsal.run sets model: a rehearsal keeps each setup's dataset and model"),
])
def test_a_rehearsal_that_cannot_keep_the_grid_says_why(change, message):
    config = _grid()
    change(config)
    with pytest.raises(GridError, match=message):
        rehearsed(config)


def test_the_paper_grid_is_rehearsed_with_the_writers_two_processes_and_its_preflights(
        tmp_path):
    """What Snakemake plans: the datasets written instead of downloaded, a preflight job per
    setup, no GPU asked for, ImageNet's ResNet-50 in two processes (torchrun, gloo)."""
    run = "imagenet-resnet50__sgd__linear__s0"
    result = snakemake("-n", "-p", "--configfile", "config/paper.yaml", REHEARSAL,
                       cwd=copy_repo(tmp_path / "repo"), timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    counts = job_counts(result.stdout)
    assert counts["dataset"] == 3 and counts["preflight"] == 5 and counts["paper"] == 1
    assert "cafw data download" not in result.stdout
    assert ("cafw data write imagenet --train-images 16 --test-images 8 --classes 4 --root data"
            in result.stdout)
    assert "gpu=1" not in result.stdout and "gpu=0" in result.stdout
    assert (f"exec cafw on-gpus 0 env TORCH_ELASTIC_SHUTDOWN_TIMEOUT=100 torchrun --standalone "
            f"--nproc-per-node 2 -m cafw train --config results/runs/{run}/run.yaml"
            in result.stdout)
    assert "--physical filter lowrank --latency-batches 1 --sweep-out" in result.stdout


def test_the_overlay_is_checked_by_the_schema(tmp_path):
    overlay = yaml.safe_load((ROOT / REHEARSAL).read_text())
    overlay["rehearsal"]["datasets"]["mnist5k"] = {"train_images": 8, "test_images": 4}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(overlay))
    result = snakemake("-n", "--configfile", "config/paper.yaml", str(tmp_path / "bad.yaml"),
                       timeout=120)
    assert result.returncode != 0
    assert "'mnist5k' is not one of" in result.stdout + result.stderr
