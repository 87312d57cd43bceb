"""`cafw doctor`, the preflight: the CPU parts run here; a CUDA build that cannot use the driver
is simulated (monkeypatched).  The pipeline's preflight job is run end to end with a setup
that asks for a GPU but computes on the CPU."""

import json
import os
import subprocess
import sys

import pytest
import torch
import yaml

from cafw import device, doctor
from repo_copy import ROOT, copy_repo
from test_pipeline import job_counts, snakemake

CUDA = torch.cuda.is_available()
RUN = {"dataset": "digits", "model": "cnn_small", "epochs": 2, "batch_size": 64,
       "device": "auto", "optimizer": {"name": "sfw", "lr": 1.0, "constraint": {
           "family": "spectral_k_support", "k": 0.3, "init_samples": 10}},
       "tags": {"method": "sfw-spectral-k-support"}}


def _doctor(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cafw", "doctor", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def _rows(output: str) -> dict[str, str]:
    """check name -> its line."""
    return {line[9:].split("  ")[0].strip(): line for line in output.splitlines()[:-1]}


def test_passes_on_this_machine_for_the_default_config():
    result = _doctor("--configfile", "config/config.yaml", "--steps", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = _rows(result.stdout)
    assert rows["training steps"].startswith("ok") and "ms per step of 64 images" in \
        rows["training steps"]
    assert rows["data digits"].startswith("ok")
    assert result.stdout.splitlines()[-1].endswith("none failed")


@pytest.mark.skipif(CUDA, reason="this machine has a GPU")
def test_fails_naming_the_gpu_for_the_paper_config():
    result = _doctor("--configfile", "config/paper.yaml")
    assert result.returncode == 1
    rows = _rows(result.stdout)
    assert rows["GPUs"].startswith("FAILED") and \
        "the grid asks for up to 4 GPUs per job (imagenet-resnet50)" in rows["GPUs"]
    assert rows["GPU driver"].startswith("FAILED")
    assert rows["training steps"].startswith("skipped")


def _needs(gpus: int, **run) -> doctor.Needs:
    return doctor.Needs([{"setup": "s", "gpus": gpus, "processes": max(gpus, 1),
                          "runtime_minutes": 30, "run": {**RUN, **run}}], on_node=True)


def test_a_cuda_build_that_cannot_use_the_driver_fails_naming_both(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setattr(device, "driver_cuda_version", lambda: (12, 4))
    monkeypatch.setattr(device, "driver_version", lambda: "550.54.15")
    checks = {c.name: c for c in doctor.node_checks(_needs(2), steps=1)}
    assert checks["GPU driver"].status == doctor.FAILED
    assert ("built for CUDA 13.0, but the NVIDIA driver 550.54.15 supports CUDA 12.4 at most; "
            "it needs driver >= 580") in checks["GPU driver"].found
    assert checks["GPUs"].status == doctor.FAILED
    assert checks["training steps"].status == doctor.SKIPPED


def test_a_cpu_only_torch_fails_when_gpus_are_asked_for(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", None)
    checks = {c.name: c for c in doctor.node_checks(_needs(1), steps=1)}
    assert checks["torch"].status == doctor.FAILED and "CPU-only build" in checks["torch"].found
    cpu = {c.name: c for c in doctor.node_checks(_needs(1, device="cpu"), steps=1)}
    assert cpu["torch"].status == cpu["GPUs"].status == doctor.OK  # device: cpu on purpose


def test_training_steps_estimate_the_run_against_its_time_limit():
    check = doctor.steps_check(_needs(0), steps=2, usable=False, missing=set())
    assert check.status == doctor.OK, check.found
    assert "cnn_small (s, sfw-spectral-k-support)" in check.found
    assert "per epoch" in check.found and "for 2 epochs of the job's 30.0 min" in check.found


def test_training_steps_go_on_into_the_next_epochs_of_a_small_dataset():
    """A rehearsal's small dataset has fewer batches per epoch than the warm-up and timed
    steps together (found by the rehearsal: the check ran out of batches)."""
    needs = _needs(0, batch_size=512)  # digits: 988 training images, two batches per epoch
    check = doctor.steps_check(needs, steps=4, usable=False, missing=set())
    assert check.status == doctor.OK, check.found
    assert "2 steps, ~" in check.found


def test_a_failure_without_a_message_is_reported_by_its_type(monkeypatch):
    """The check's own report must not fail on an exception with an empty message (found by
    the rehearsal: StopIteration made it raise IndexError instead of reporting)."""
    def fail(requirement, steps):
        raise StopIteration

    monkeypatch.setattr(doctor, "_time_steps", fail)
    check = doctor.steps_check(_needs(0), steps=1, usable=False, missing=set())
    assert check.status == doctor.FAILED and check.found == "cnn_small (s): StopIteration"


def test_the_collective_runs_over_several_processes():
    check = doctor.collective_check(2, backend="gloo")  # NCCL's check, on the CPU
    assert check.status == doctor.OK and "all-reduce of 64 MiB" in check.found


def test_data_missing_on_a_node_fails_and_on_the_login_node_warns(tmp_path):
    assert doctor.data_check("cifar10", str(tmp_path), on_node=True).status == doctor.FAILED
    found = doctor.data_check("cifar10", str(tmp_path), on_node=True).found
    assert "filesystem the nodes share" in found
    assert doctor.data_check("cifar10", str(tmp_path), on_node=False).status == doctor.WARNING
    assert doctor.data_check("imagenet", str(tmp_path), on_node=False).status == doctor.FAILED
    assert doctor.data_check("digits", str(tmp_path), on_node=True).status == doctor.OK


def test_slurm_checks_name_a_missing_accounting(tmp_path, monkeypatch):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"executor": "slurm"}))
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch, no sacct
    checks = {c.name: c for c in doctor.slurm_checks(tmp_path)}
    assert checks["sbatch"].status == doctor.FAILED
    assert "add slurm-status-command: squeue" in checks["job states"].found
    assert checks["Slurm executor plugin"].status == doctor.OK
    assert doctor.latexmk_check().status == doctor.WARNING
    assert doctor.slurm_checks(ROOT / "profiles" / "default") == []  # not a Slurm profile


def test_the_default_config_has_no_preflight_job_and_the_paper_one_per_gpu_setup():
    plan = snakemake("-n", "--configfile", "config/config.yaml", timeout=120)
    assert "preflight" not in job_counts(plan.stdout)
    run = "imagenet-resnet50__sgd__linear__s0"
    plan = snakemake("-n", "-p", f"results/runs/{run}/metrics.json", "--configfile",
                     "config/paper.yaml", "--workflow-profile", "profiles/slurm", timeout=600)
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert job_counts(plan.stdout)["preflight"] == 1
    assert "cafw on-gpus 4 cafw doctor --requirement results/preflight/imagenet-resnet50.yaml" \
        in plan.stdout
    assert "gpu=4" in plan.stdout.split("rule preflight:")[1].split("Shell command")[0]


@pytest.mark.slow
def test_the_preflight_job_runs_before_training_and_a_rerun_retrains_nothing(tmp_path):
    """A setup that asks for a GPU but computes on the CPU on purpose: its preflight job runs
    `cafw doctor` first; forcing the preflight again later leaves the trained run alone."""
    repo = copy_repo(tmp_path / "repo")
    config = yaml.safe_load((repo / "config" / "ci.yaml").read_text())
    config["defaults"]["device"] = "cpu"
    config["resources"]["train"]["gpu"] = 1
    (repo / "config" / "gpu.yaml").write_text(yaml.safe_dump(config))
    run = "digits-cnn__sgd__linear__s1"
    target = f"results/runs/{run}/metrics.json"
    env = {"CUDA_VISIBLE_DEVICES": "0", "CAFW_GPU_LOCKS": str(tmp_path / "locks")}
    result = snakemake(target, "--cores", "2", "--resources", "gpu=1", "--configfile",
                       "config/gpu.yaml", cwd=repo, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = (repo / "results" / "preflight" / "digits-cnn.txt").read_text()
    assert report.splitlines()[-1].endswith("none failed"), report
    requirement = yaml.safe_load((repo / "results" / "preflight" / "digits-cnn.yaml").read_text())
    assert requirement["gpus"] == 1 and requirement["run"]["tags"]["setup"] == "digits-cnn"
    assert json.loads((repo / target).read_text())["device"] == "cpu"
    again = snakemake(target, "-n", "--forcerun", "preflight", "--configfile", "config/gpu.yaml",
                      cwd=repo, env=env)
    assert job_counts(again.stdout) == {"preflight": 1, "total": 1}, again.stdout[-3000:]
