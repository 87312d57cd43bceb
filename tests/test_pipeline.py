"""The Snakemake pipeline: dry runs of every config (with the paper grid's job counts derived
here independently of the grid code), lint, config validation, and an end-to-end run of
config/ci.yaml that builds the tables, figures, report and paper."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cafw.pipeline.grid import expand
from cafw.pipeline.workdir import command_path
from repo_copy import ROOT, copy_repo

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(*args, cwd=ROOT, timeout=600, env=None):
    env = {**os.environ, **(env or {}),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def job_counts(output: str) -> dict[str, int]:
    table = output[output.index("Job stats:"):].split("\n\n")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_paper_grid_plans_in_seconds_with_the_expected_jobs():
    """Before the tuning choices exist (the paper's grid has no lock), the plan is every tuning
    run (each grid point with each replicate's tuning seed) and its sweep, then the checkpoint;
    the evaluation runs follow the choices."""
    result = snakemake("-n", "--configfile", "config/paper.yaml", timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    counts = job_counts(result.stdout)
    config = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    grid = expand(config)
    tuning_runs = {row["run"] for row in grid.tuning}
    assert counts["train"] == counts["run_config"] == len(tuning_runs) == 3 * 323
    assert "compress" not in counts  # each training job sweeps its run
    assert sum(len(grid.kinds[run]) for run in tuning_runs) == 3 * 341  # SGD: three kinds
    assert counts["select"] == 1 and counts["dataset"] == 3  # cifar10, cifar100, imagenet
    assert len(grid.pending) == 68 * 3  # tuned curves x replicates, pending the choice
    assert "checkpoint" in result.stdout


def test_the_imagenet_setup_trains_one_process_per_gpu_with_workers_for_its_cpus():
    config = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    setup = config["setups"]["imagenet-resnet50"]
    gpus, cpus = setup["resources"]["gpu"], setup["resources"]["cpus_per_gpu"]
    assert gpus > 1 and setup["workers"] + 1 == cpus  # loader workers and the process itself
    run = "imagenet-resnet50__sgd__linear__s0"
    result = snakemake("-n", "-p", f"results/runs/{run}/metrics.json", "--configfile",
                       "config/paper.yaml", "--workflow-profile", "profiles/slurm", timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"torchrun --standalone --nproc-per-node {gpus} -m cafw train" in result.stdout
    # the job then sweeps the run in its main process: each kind its studies compress it with
    assert "--sweep filter 0.0 " in result.stdout
    assert f"--sweep-out results/compress/{run}.csv" in result.stdout
    assert f"gpu={gpus}, cpus_per_gpu={cpus}" in result.stdout
    assert "slurm_extra=--signal=TERM@120" in result.stdout


def test_a_local_job_scaled_down_to_one_gpu_trains_in_one_process():
    """The default profile lets one GPU job run at a time (resources: gpu=1), so Snakemake
    scales the ImageNet job's four GPUs down to one: it trains in one process, not four."""
    run = "imagenet-resnet50__sgd__linear__s0"
    result = snakemake("-n", "-p", f"results/runs/{run}/metrics.json", "--configfile",
                       "config/paper.yaml", timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"exec cafw on-gpus 1 cafw train --config results/runs/{run}/run.yaml" in result.stdout


@pytest.mark.slow
def test_a_setup_with_two_gpus_trains_in_two_processes(tmp_path):
    """`resources: {gpu: 2}` runs the train rule through torchrun, and the GPU slots give the
    job both of this host's two GPUs; fake ones here, so the processes use gloo on the CPU."""
    repo = copy_repo(tmp_path / "repo")
    config = yaml.safe_load((repo / "config" / "ci.yaml").read_text())
    config["defaults"]["device"] = "cpu"  # never look for the fake GPUs
    config["setups"]["digits-cnn"]["resources"]["gpu"] = 2
    (repo / "config" / "two.yaml").write_text(yaml.safe_dump(config))
    run = "digits-cnn__sgd__linear__s1"
    result = snakemake(f"results/runs/{run}/metrics.json", "--cores", "2", "--resources", "gpu=2",
                       "--configfile", "config/two.yaml", cwd=repo,
                       env={"CUDA_VISIBLE_DEVICES": "0,1", "CAFW_GPU_LOCKS": str(tmp_path)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    metrics = json.loads((repo / "results" / "runs" / run / "metrics.json").read_text())
    assert metrics["processes"] == 2
    assert "torchrun --standalone --nproc-per-node 2 -m cafw train" in result.stderr


def test_the_compute_comparison_waits_for_the_dataset_it_reads(tmp_path):
    """Found by the rehearsal: the compute job read CIFAR before the dataset rule had made it
    ready (its input lacked the dataset).  A benchmark setup's (the default config's) needs
    no files."""
    repo = copy_repo(tmp_path / "repo")
    result = snakemake("-n", "results/compute/cifar10-resnet56.csv", "--configfile",
                       "config/paper.yaml", cwd=repo, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout) == {"compute_config": 1, "dataset": 1, "compute": 1,
                                         "total": 3}
    result = snakemake("-n", "results/compute/cifar-shape-resnet18.csv", cwd=repo, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout) == {"compute_config": 1, "compute": 1, "total": 2}


@pytest.mark.parametrize("name", ["config.yaml", "ci.yaml"])
def test_default_and_ci_configs_plan(name, tmp_path):
    repo = copy_repo(tmp_path / "repo")
    result = snakemake("-n", "--configfile", f"config/{name}", cwd=repo, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    counts = job_counts(result.stdout)
    assert counts["train"] == counts["run_config"] > 0 and counts["paper"] == 1


@pytest.mark.parametrize("left_out", [("gpu",), ("gpu", "threads", "runtime", "mem_mb",
                                                   "cpus_per_gpu", "slurm_extra")])
def test_every_schema_valid_config_plans_without_optional_resources(tmp_path, left_out):
    """resources.<rule> may leave out any key (the schema allows it): a missing gpu count
    means none, and a missing runtime or memory is left to Snakemake and the cluster."""
    config = yaml.safe_load((ROOT / "config" / "ci.yaml").read_text())
    for spec in [*config["resources"].values(), *(s.get("resources", {}) for s in
                                                  config["setups"].values())]:
        for key in left_out:
            spec.pop(key, None)
    (tmp_path / "lean.yaml").write_text(yaml.safe_dump(config))
    result = snakemake("-n", "-p", "--configfile", str(tmp_path / "lean.yaml"), timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "exec cafw on-gpus 0 cafw train --config" in result.stdout


def path_without(program: str, links: Path) -> str:
    """PATH with ``program`` hidden: each PATH folder holding it is replaced by ``links``, a
    folder of links to everything else there."""
    folders = []
    for folder in os.environ["PATH"].split(os.pathsep):
        if folder and (Path(folder) / program).exists():
            links.mkdir(exist_ok=True)
            for entry in Path(folder).iterdir():
                if entry.name != program and not (links / entry.name).exists():
                    (links / entry.name).symlink_to(entry)
            folder = str(links)
        folders.append(folder)
    return os.pathsep.join(dict.fromkeys(folders))


def test_jobs_run_the_cafw_of_the_environment_that_runs_snakemake(tmp_path):
    """Found by a rehearsal run as `.venv/bin/snakemake` without activating the environment:
    every job failed with 'cafw: command not found'.  Jobs now find the cafw beside the
    interpreter that runs Snakemake, before any other on PATH."""
    repo = copy_repo(tmp_path / "repo")
    env = {**os.environ, "PATH": path_without("cafw", tmp_path / "bin")}
    result = subprocess.run([*SNAKEMAKE, "results/data/cifar10.ready", "--cores", "1",
                             "--configfile", "config/paper.yaml", "config/rehearsal.yaml"],
                            cwd=repo, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (repo / "outputs/rehearsal/data/cifar-10-batches-py/data_batch_1").is_file()


def test_the_jobs_path_starts_with_the_environment_that_holds_cafw(tmp_path):
    env_bin, other = tmp_path / "env" / "bin", tmp_path / "other"
    env_bin.mkdir(parents=True)
    interpreter = str(env_bin / "python")
    assert command_path(f"{other}:/usr/bin", interpreter) == f"{other}:/usr/bin"  # no cafw
    (env_bin / "cafw").touch()
    assert command_path(f"{other}:{env_bin}:/usr/bin", interpreter) == \
        f"{env_bin}:{other}:/usr/bin"


def test_without_latexmk_everything_but_the_pdf_is_planned_with_one_notice(tmp_path):
    env = {"PATH": path_without("latexmk", tmp_path / "bin")}
    result = subprocess.run([*SNAKEMAKE, "-n", "--configfile", "config/ci.yaml"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, env={**os.environ, **env})
    assert result.returncode == 0, result.stderr[-3000:]
    counts = job_counts(result.stdout)
    assert "paper" not in counts and counts["paper_generated"] == 1
    output = result.stdout + result.stderr
    assert output.count("latexmk is not on PATH, so everything but paper/main.pdf is built") == 1


def test_lint_is_clean():
    result = snakemake("--lint", timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "good condition" in result.stdout + result.stderr


def _optimizer(config, method):
    return config["methods"][method]["optimizer"]


@pytest.mark.parametrize("change, message", [
    (lambda c: c.update(studes={}), "'studes' was unexpected"),
    (lambda c: c["studies"]["low-rank"].update(kind="pruning"), "'pruning' is not one of"),
    (lambda c: c["studies"]["low-rank"].update(chart="histogram"),
     "'histogram' is not one of"),
    (lambda c: c.update(baseline="adam"), "baseline 'adam' is not among the methods the "
     "compute comparison times"),
    (lambda c: c["setups"]["digits-cnn"].update(dataset="mnist"),
     "setup 'digits-cnn', method 'sgd', schedule 'linear': 'dataset': 'mnist' is not allowed; "
     "allowed: cifar10, cifar100, imagenet, digits, mnist5k, synthetic"),
    (lambda c: c["studies"]["low-rank"]["methods"].append("adam"), "unknown method 'adam'"),
    # a bad key or value inside a run names the study, the method and the key
    (lambda c: _optimizer(c, "sgd").update(momentun=0.8),
     "study 'filter-pruning', setup 'digits-cnn', method 'sgd', schedule 'linear': unknown key "
     "'optimizer.momentun' in optimizer; allowed: name, lr, momentum"),
    (lambda c: _optimizer(c, "sgd").update(lr=-1), "method 'sgd', schedule 'linear': "
     "'optimizer.lr' must be > 0.0, got -1"),
    (lambda c: _optimizer(c, "sfw-group-k-support")["constraint"].update(family="l7"),
     "method 'sfw-group-k-support', schedule 'linear': 'optimizer.constraint.family': 'l7' is "
     "not allowed; allowed: l2, l1"),
    (lambda c: _optimizer(c, "sgd-nuclear")["penalty"].update(strength=-1),
     "study 'low-rank', setup 'digits-cnn', method 'sgd-nuclear', schedule 'linear': "
     "'optimizer.penalty.strength' must be >= 0.0"),
])
def test_a_bad_config_fails_before_any_job_naming_the_key(tmp_path, change, message):
    config = yaml.safe_load((ROOT / "config" / "ci.yaml").read_text())
    change(config)
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    start = time.perf_counter()
    result = snakemake("-n", "--configfile", str(tmp_path / "bad.yaml"), timeout=120)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert "Job stats" not in result.stdout
    assert time.perf_counter() - start < 10


@pytest.mark.slow
def test_ci_config_end_to_end(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    result = snakemake("--cores", "2", "--configfile", "config/ci.yaml", cwd=repo, timeout=1200)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    tables = repo / "results" / "tables"
    manifest = pd.read_csv(tables / "manifest.csv")
    compression = pd.read_csv(tables / "compression.csv")
    ratios = yaml.safe_load((repo / "config" / "ci.yaml").read_text())["ratios"]
    assert len(compression) == sum(len(ratios[k]) for k in manifest["kind"])
    assert compression["test_accuracy"].between(0, 1).all()
    summary = pd.read_csv(tables / "compression_summary.csv")
    assert {"test_accuracy_mean", "test_accuracy_std", "seeds"} <= set(summary.columns)
    assert len(pd.read_csv(tables / "training.csv")) == manifest["run"].nunique()
    compute = pd.read_csv(tables / "compute.csv")
    assert set(compute["method"]) == {"sgd", "sgd-nuclear", "sfw-spectral-k-support"}
    for figure in ("filter-pruning__digits-cnn", "low-rank__digits-cnn", "unstructured__digits-cnn",
                   "lr-ablation__digits-cnn", "sensitivity__digits-cnn",
                   "dynamics__lr-ablation__digits-cnn", "lr-grid__lr-ablation__digits-cnn",
                   "compute", "lr-theory"):
        for suffix in (".pdf", ".png"):
            assert (repo / "figures" / f"{figure}{suffix}").stat().st_size > 1000
    assert (repo / "paper" / "main.pdf").read_bytes().startswith(b"%PDF")
    # physical: true in filter-pruning and low-rank; save_ratios: [0.3] in filter-pruning
    physical = compression[compression["study"].isin(["filter-pruning", "low-rank"])]
    measured = ["physical_params", "physical_bytes", "physical_ms_batch256"]
    assert physical[measured].notna().all().all()
    for run in manifest.query("study == 'filter-pruning'")["run"]:
        saved = repo / "results" / "compressed" / run / "filter"
        row = pd.read_csv(saved / "sweep.csv").iloc[0]
        assert row["ratio"] == 0.3 and repo / row["saved_to"] == saved / "filter-0.3"
        assert (saved / "filter-0.3" / "spec.json").is_file()

    report = snakemake("--configfile", "config/ci.yaml", "--report", "report.html", cwd=repo)
    assert report.returncode == 0, report.stderr[-3000:]
    html = (repo / "report.html").read_text(errors="replace")
    assert "filter-pruning__digits-cnn.png" in html and "compression_summary.csv" in html

    # nothing left to do, and one figure is rebuilt alone, without retraining anything
    plan = snakemake("-n", "--configfile", "config/ci.yaml", cwd=repo)
    assert "Nothing to be done" in plan.stdout
    (repo / "figures" / "filter-pruning__digits-cnn.pdf").unlink()
    # (the target goes before --configfile, which takes several values)
    plan = snakemake("-n", "figures/filter-pruning__digits-cnn.pdf", "--configfile",
                     "config/ci.yaml", cwd=repo)
    assert job_counts(plan.stdout) == {"figure_study": 1, "total": 1}

    # every file a rule writes is declared: deleting one plans exactly its rule and what
    # reads it
    (repo / "paper" / "generated" / "setup.tex").unlink()
    plan = snakemake("-n", "--configfile", "config/ci.yaml", cwd=repo)
    assert job_counts(plan.stdout) == {"paper_generated": 1, "paper": 1, "figure_study": 1,
                                       "all": 1, "total": 4}

    # the stability check: the claims again with a disjoint replicate set, beside the first
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    check = subprocess.run(["cafw", "stability", "--configfile", "config/ci.yaml",
                            "--seed-offset", "10", "--cores", "2"], cwd=repo, env=env,
                           capture_output=True, text=True, timeout=1200)
    assert check.returncode == 0, check.stdout[-4000:] + check.stderr[-4000:]
    assert "measures whose intervals overlap" in check.stdout
    stability = pd.read_csv(tables / "stability.csv")
    claims = pd.read_csv(tables / "claims.csv")
    assert len(stability) == len(claims)
    seeds = stability.dropna(subset=["evaluation_seeds_b"])
    assert set(seeds["evaluation_seeds_a"]) == {"1, 3"} and set(seeds["evaluation_seeds_b"]) \
        == {"11, 13"}  # replicate r: tuning seed 2r (+10), evaluation seed 2r + 1 (+10)
    offset = repo / "seed-offset-10" / "results"
    assert (offset / "runs" / "digits-cnn__sgd__linear__s11" / "metrics.json").is_file()
    assert not (offset / "runs" / "digits-cnn__sgd__linear__s1").exists()
    readme = repo / "README.md"
    assert subprocess.run(["cafw", "readme", "--outputs", "."], cwd=repo, env=env).returncode == 0
    assert "**Stability: the claims with a second replicate set**" in readme.read_text()


@pytest.mark.slow
def test_a_tuning_lock_spares_a_fresh_run_the_tuning_runs(tmp_path):
    """`cafw tune` writes the lock; a run of the same config elsewhere then plans no tuning
    run, only the evaluation runs at the recorded points, and a grid changed since is tuned
    again."""
    repo = copy_repo(tmp_path / "repo")
    config = yaml.safe_load((repo / "config" / "ci.yaml").read_text())
    config["tuning"] = {"lock": "config/ci.lock.csv"}
    del config["studies"]["lr-ablation"]["variants"][0]["tune"]  # one tuned curve: quicker
    config["claims"].pop("C3")
    (repo / "config" / "locked.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    tune = subprocess.run(["cafw", "tune", "--configfile", "config/locked.yaml", "--cores", "2"],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=1200)
    assert tune.returncode == 0, tune.stdout[-4000:] + tune.stderr[-4000:]
    lock = pd.read_csv(repo / "config" / "ci.lock.csv")
    assert set(lock["replicate"]) == {0, 1}
    assert lock["selected"].sum() == len(expand(config).digests)  # one per curve and replicate
    assert "choices moved" in tune.stdout
    # elsewhere (a fresh clone: no run on disk), the plan trains no tuning run
    shutil.rmtree(repo / "results")
    plan = snakemake("-n", "-p", "--configfile", "config/locked.yaml", cwd=repo)
    assert plan.returncode == 0, plan.stderr[-3000:]
    tuning_runs = set(expand(config).tuning_runs())
    planned = set(re.findall(r"--out results/runs/(\S+) ", plan.stdout))
    assert planned and not planned & tuning_runs
    # a grid changed since the lock: its curve is tuned again, the other stays locked
    config["methods"]["sgd-nuclear"]["tune"] = {"penalty.strength": [1.0e-2, 1.0e-1]}
    (repo / "config" / "locked.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake("-n", "-p", "--configfile", "config/locked.yaml", cwd=repo)
    planned = set(re.findall(r"--out results/runs/(\S+) ", plan.stdout))
    assert "digits-cnn__sgd-nuclear+strength=0.1__linear__s0" in planned  # a tuning run
    assert not {run for run in tuning_runs if "rescale=diameter" in run} & planned


def test_a_job_started_in_its_output_dir_works_there(tmp_path):
    """A cluster job's Snakemake starts in the config's output_dir already: the output_dir is
    the repository's, not one nested below it, and the profiles are found from there too (the
    Slurm plugin opens its partition file only once the working directory has moved)."""
    repo = copy_repo(tmp_path / "repo")
    config = yaml.safe_load((repo / "config" / "ci.yaml").read_text())
    config["output_dir"] = "outputs/ci"
    (repo / "config" / "out.yaml").write_text(yaml.safe_dump(config))
    out = repo / "outputs" / "ci"
    out.mkdir(parents=True)
    result = snakemake("-n", "--snakefile", str(repo / "Snakefile"), "--configfile",
                       str(repo / "config" / "out.yaml"), cwd=out, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not (out / "outputs").exists()
    # started in the repository, as a user does
    result = snakemake("-n", "--configfile", "config/out.yaml", cwd=repo, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "profiles" / "slurm" / "partitions.yaml").is_file()
