"""`cafw cost`: the grid's jobs and GPU-hours per stage, derived from the grid Snakemake plans,
with the study runs of tuned curves an upper bound for every possible choice."""

import random
import subprocess
import sys

import pytest
import yaml

from cafw.pipeline import cost
from cafw.pipeline.grid import curves, expand
from repo_copy import ROOT
from test_pipeline import job_counts, snakemake

PAPER = [ROOT / "config" / "paper.yaml"]
REDUCED = PAPER + [ROOT / "config" / "paper-reduced.yaml"]


def _stages(config) -> dict:
    return {s.name: s for s in cost.stages(config)}


@pytest.mark.parametrize("paths", [PAPER, REDUCED], ids=["paper", "reduced"])
def test_tuning_jobs_are_what_snakemake_plans(paths):
    config = cost.load(paths)
    result = snakemake("-n", "--configfile", *map(str, paths), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    counts = job_counts(result.stdout)
    stages = _stages(config)
    assert stages["tuning"].jobs == counts["train"]
    # one per GPU setup; before the selection only those with tuning runs are planned
    assert stages["preflight"].jobs == len(config["setups"]) >= counts["preflight"]


def test_gpu_hours_are_runtime_times_gpus_of_each_setup():
    config = cost.load(PAPER)
    tuning = _stages(config)["tuning"]
    expected = 0.0
    for setup, jobs in tuning.by_setup.items():
        resources = {**config["resources"]["train"], **config["setups"][setup].get("resources", {})}
        expected += jobs * resources["runtime"] / 60 * resources["gpu"]
    assert tuning.requested == pytest.approx(expected)
    imagenet = "imagenet-resnet50"
    assert tuning.by_setup[imagenet] * 4 * 24 == tuning.hours_by_setup[imagenet]
    assert tuning.estimated is None  # no measured epoch times in the paper config


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_the_study_runs_are_an_upper_bound_for_any_choice(name):
    """Whatever point tuning chooses for each curve in each replicate, the study runs it then
    trains never outnumber the count given before, and none of them is a tuning run."""
    config = yaml.safe_load((ROOT / "config" / name).read_text())
    bound = _stages(config)["study runs (at most)"].jobs
    tuning_runs = set(expand(config).tuning_runs())
    rng = random.Random(0)
    for _ in range(20):
        choice = {(c.id, r.index): rng.choice(c.points()) for c in curves(config) if c.grid
                  for r in c.replicates}
        grid = expand(config, choice)
        assert not grid.pending
        assert len(grid.study_runs()) <= bound and not set(grid.study_runs()) & tuning_runs


def test_measured_epoch_times_give_an_estimate(tmp_path):
    config = yaml.safe_load((ROOT / "config" / "ci.yaml").read_text())
    config["resources"]["train"].update(gpu=2, epoch_seconds=30)
    stages = _stages(config)
    epochs = config["setups"]["digits-cnn"]["epochs"]
    for name in ("tuning", "study runs (at most)"):
        assert stages[name].estimated == pytest.approx(stages[name].jobs * epochs * 30 / 3600 * 2)
    assert cost.table(config)[0][-1] == "GPU-hours estimated"
    assert "No measured epoch time" not in cost.text(config, "ci")


def test_the_docs_paragraph_is_what_the_command_prints():
    page = (ROOT / cost.PAGE).read_text()
    start, end = cost.COST_MARKERS
    block = page.split(start + "\n", 1)[1].split(end, 1)[0]
    assert block == cost.markdown(cost.PAGE_GRIDS, ROOT), \
        f"{cost.PAGE}'s paper-grid paragraph is stale: run cafw cost --docs"


def test_the_command_prints_the_stages():
    result = subprocess.run([sys.executable, "-m", "cafw", "cost", "--configfile",
                             "config/paper.yaml"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "config/paper.yaml: jobs and GPU-hours per stage"
    assert [line.split()[0] for line in lines[3:8]] == ["preflight", "tuning", "study",
                                                        "compute", "total"]
    assert "upper bound until tuning has chosen" in result.stdout
