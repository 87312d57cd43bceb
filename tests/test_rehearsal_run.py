"""The rehearsal, run (slow): config/rehearsal.yaml over the paper's grid, cut to a slice that
still runs every rule of the paper's DAG and every model family of the paper with its physical
filter pruning and low-rank decomposition, from the written datasets to paper/main.pdf.  The
whole rehearsal of config/paper.yaml (docs/cluster.md, "Rehearsing a grid") takes too long for
the test suite; this slice is what CI runs of it."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from repo_copy import copy_repo
from test_pipeline import job_counts, snakemake
from test_slurm import expected_figures

pytestmark = pytest.mark.slow

CONFIGS = ["config/paper.yaml", "config/rehearsal.yaml", "config/slice.yaml"]
OUT = Path("outputs") / "rehearsal"
#: what the slice leaves of the rehearsal: the comparisons on ResNet-56 alone, a shorter lr
#: ablation and sensitivity grid, and every setup (each model family) once in two studies of
#: its own, each run physically compressed
SLICE = {
    "studies": {
        "filter-pruning": {"setups": ["cifar10-resnet56"]},
        "low-rank": {"setups": ["cifar10-resnet56"]},
        "unstructured": {"methods": ["sfw-k-sparse", "sfw-k-support"], "tune": False},
        "lr-ablation": {"methods": ["sfw-group-k-support"], "schedules": ["constant", "cosine"],
                        "variants": [{"rescale": "gradient", "tune": {"lr": [0.1, 0.3]}},
                                     {"rescale": "none", "tune": {"lr": [0.01, 0.03]}}]},
        "sensitivity": {"vary": {"constraint.k": [0.1, 0.3], "constraint.value": [10]}},
        "every-model-filter": {"kind": "filter", "methods": ["sfw-group-k-support"],
                               "physical": True, "tune": False, "replicates": 1},
        "every-model-lowrank": {"kind": "lowrank", "methods": ["sfw-spectral-k-support"],
                                "physical": True, "tune": False, "replicates": 1},
    },
    "compute": {"methods": ["sgd", "sgd-nuclear", "sfw-spectral-k-support"]},
}
MODELS = {"resnet18", "resnet56", "vgg16", "wrn28_10", "resnet50"}


def _merged(repo: Path) -> dict:
    from cafw.pipeline.cost import load

    return load([repo / c for c in CONFIGS])


def test_a_slice_of_the_paper_grids_rehearsal_runs_every_rule_and_model(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    (repo / "config" / "slice.yaml").write_text(yaml.safe_dump(SLICE))
    # the rules of the whole rehearsal's DAG, as planned before tuning has chosen
    plan = snakemake("-n", "--configfile", *CONFIGS[:2], cwd=repo, timeout=300)
    assert plan.returncode == 0, plan.stderr[-3000:]
    rules = set(job_counts(plan.stdout)) - {"total"}

    result = snakemake("--cores", "2", "--configfile", *CONFIGS, cwd=repo, timeout=3600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    log = result.stdout + result.stderr
    ran = set(re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):$", log, re.M))
    assert ran == rules, f"not run: {rules - ran}; not in the paper's DAG: {ran - rules}"

    out, config = repo / OUT, _merged(repo)
    tables = out / "results" / "tables"
    training = pd.read_csv(tables / "training.csv")
    assert set(training["model"]) == MODELS
    compression = pd.read_csv(tables / "compression.csv")
    physical = [name for name, spec in config["studies"].items() if spec.get("physical")]
    for model in MODELS:
        for kind in ("filter", "lowrank"):
            rows = compression[compression["study"].isin(physical)].query(
                "model == @model and kind == @kind")
            assert len(rows) and rows["physical_params"].notna().all(), (model, kind)
            assert rows["physical_ms_batch1"].notna().all(), (model, kind)
    claims = pd.read_csv(tables / "claims.csv")
    assert set(claims["claim"]) == set(config["claims"])
    assert len(pd.read_csv(tables / "compute.csv")) == 3 * len(config["setups"])
    assert pd.read_csv(tables / "tuning.csv")["curve"].nunique() > 0

    imagenet = training.query("model == 'resnet50'")["run"]
    for run in imagenet:
        metrics = json.loads((out / "results" / "runs" / run / "metrics.json").read_text())
        assert metrics["processes"] == 2 and metrics["device_type"] == "cpu"
    for setup in config["setups"]:
        report = (out / "results" / "preflight" / f"{setup}.txt").read_text()
        assert report.splitlines()[-1].endswith("none failed"), report
    for dataset in ("cifar10", "cifar100", "imagenet"):
        log = (out / "results" / "logs" / "dataset" / f"{dataset}.log").read_text()
        assert "checksums: skipped" in log, log
    assert (out / "data" / "cifar-10-batches-py" / "data_batch_5").is_file()
    assert len(list((out / "data" / "imagenet" / "val").rglob("*.JPEG"))) == 8

    missing = [f for f in expected_figures(config) if not (out / f).is_file()
               or (out / f).read_bytes()[:4] != b"%PDF"]
    assert not missing
    assert (out / "paper" / "main.pdf").read_bytes()[:4] == b"%PDF"

    report = snakemake("--configfile", *CONFIGS, "--report", "report.html", cwd=repo)
    assert report.returncode == 0, report.stderr[-3000:]
    assert "claims.csv" in (out / "report.html").read_text(errors="replace")
    again = snakemake("-n", "--configfile", *CONFIGS, cwd=repo)
    assert "Nothing to be done" in again.stdout
