"""The cluster path end to end: config/ci.yaml through profiles/slurm on a one-node Slurm cluster
that tests/slurm/cluster.sh starts on localhost, its training asking for a (fake) GPU, so that
a preflight job runs first; then one training job on two processes, signalled mid-run as
Slurm does before a time limit, and resumed by the retry; and Snakemake itself as a Slurm job
(scripts/slurm-controller.sh).  The fake GPUs have no driver behind them, so the runs say
`device: cpu` (a job given GPUs would otherwise stop at once: cafw.device).

Needs root and Debian's ``slurmctld slurmd munge slurm-client``; skipped without them unless
``CAFW_REQUIRE_SLURM=1`` (CI), where their absence is a failure.  Takes a few minutes.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from repo_copy import ROOT, copy_repo

pytestmark = pytest.mark.slow

CLUSTER = ROOT / "tests" / "slurm" / "cluster.sh"
PACKAGES = "slurmctld slurmd munge slurm-client"
# Daemons and clients are looked up in sbin too: a non-login root shell may not have it on PATH.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
PROGRAMS = ("slurmctld", "slurmd", "munged", "sbatch", "squeue", "sinfo", "scontrol")
PIPELINE_TIMEOUT = 20 * 60  # seconds; ~1-2 min alone, several on a busy 2-core machine
# The snakemake invocation under test (plugin 2.8.0 spellings); resources that the profile
# sets for a real GPU cluster are replaced by ones that fit one small node with one fake GPU.
SNAKEMAKE_ARGS = [
    "--workflow-profile", "profiles/slurm",
    "--default-resources", "slurm_partition=debug", "mem_mb=500", "runtime=10",
    # No accounting database here, so sacct cannot report job states.
    "--slurm-status-command", "squeue",
    "--slurm-init-seconds-before-status-checks", "5",
    "--jobs", "4",
    "--latency-wait", "5",
]


def _require(condition: bool, reason: str) -> None:
    """Skip when the machine cannot run the test, unless CI demands it (CAFW_REQUIRE_SLURM)."""
    if condition:
        return
    if os.environ.get("CAFW_REQUIRE_SLURM", "") not in ("", "0"):
        pytest.fail(f"{reason} (CAFW_REQUIRE_SLURM is set, so this is an error)", pytrace=False)
    pytest.skip(reason)


def _cluster(action: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(CLUSTER), action], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PATH": SEARCH_PATH})


def _tail(text: str, lines: int = 80) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _cluster_logs() -> str:
    try:
        result = _cluster("logs", timeout=30)
        return result.stdout + result.stderr
    except Exception as error:  # diagnostics must never mask the real failure
        return f"(could not read the Slurm logs: {error})"


@pytest.fixture
def slurm_cluster(request):
    """A running one-node cluster; its daemons are stopped afterwards whatever happens."""
    missing = [p for p in PROGRAMS if shutil.which(p, path=SEARCH_PATH) is None]
    _require(not missing, f"Slurm is not installed (missing {', '.join(missing)}); "
                          f"apt-get install {PACKAGES}")
    _require(os.geteuid() == 0, "starting slurmctld, slurmd and munged needs root")

    failed_before = request.session.testsfailed
    try:
        started = _cluster("start")
        if started.returncode != 0:
            pytest.fail(f"tests/slurm/cluster.sh start failed ({started.returncode}):\n"
                        f"{started.stdout}{started.stderr}", pytrace=False)
        yield
    finally:
        if request.session.testsfailed > failed_before:
            # Shown even without -s: the Slurm side of a failure is usually in these logs.
            capture = request.config.pluginmanager.getplugin("capturemanager")
            with capture.global_and_fixture_disabled():
                print("\n" + _cluster_logs(), file=sys.stderr)
        stopped = _cluster("stop", timeout=240)
        assert stopped.returncode == 0, f"cluster.sh stop failed:\n{stopped.stdout}{stopped.stderr}"


def _start_pipeline(repo: Path, log: Path, *args: str) -> subprocess.Popen:
    """Start Snakemake in ``repo`` with ``SNAKEMAKE_ARGS`` and ``args``; output to ``log``."""
    venv_bin = Path(sys.executable).parent  # not resolved: that would leave the venv
    env = {**os.environ, "PATH": os.pathsep.join([str(venv_bin), SEARCH_PATH])}
    # The plugin treats a Snakemake started inside a Slurm job differently; this one is not.
    for name in [n for n in env if n.startswith("SLURM_")]:
        del env[name]
    # A session of its own, so a timeout can stop Snakemake and its local jobs together;
    # the Slurm jobs it submitted are cancelled by cluster.sh stop.
    return subprocess.Popen([sys.executable, "-m", "snakemake", *SNAKEMAKE_ARGS, *args],
                            cwd=repo, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _finish_pipeline(process: subprocess.Popen, log: Path) -> int:
    """Wait for Snakemake; its exit status."""
    try:
        return process.wait(timeout=PIPELINE_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        pytest.fail(f"snakemake did not finish within {PIPELINE_TIMEOUT} s:\n"
                    f"{_tail(log.read_text())}", pytrace=False)


def _run_pipeline(repo: Path, log: Path, *args: str) -> int:
    return _finish_pipeline(_start_pipeline(repo, log, *args), log)


def _slurm_logs(repo: Path, rule: str) -> dict[str, list[Path]]:
    """Slurm's job logs of ``rule``: {wildcards: [<logdir>/rule_<rule>/<wildcards>/<id>.log]},
    the log directory being relative to where Snakemake starts (the repository), whatever the
    config's output_dir."""
    profile = yaml.safe_load((repo / "profiles/slurm/config.yaml").read_text())
    logdir = repo / profile.get("slurm-logdir", ".snakemake/slurm_logs")
    jobs = (logdir / f"rule_{rule}").glob("*")
    return {d.name: sorted(d.glob("*.log")) for d in jobs if d.is_dir()}


def _slurm_job(jobid: str) -> dict[str, str] | None:
    """The controller's record of a job (kept MinJobAge s after it ends), or None if purged."""
    shown = subprocess.run(["scontrol", "show", "job", "-o", jobid], capture_output=True,
                           text=True, env={**os.environ, "PATH": SEARCH_PATH})
    if shown.returncode != 0:
        return None
    return dict(re.findall(r"(\w+)=(\S*)", shown.stdout))


def expected_figures(config: dict) -> list[str]:
    """One figure per study and setup, training dynamics for the lr ablation, the global ones."""
    figures = ["figures/compute.pdf", "figures/lr-theory.pdf"]
    for study, spec in config["studies"].items():
        setups = config["setups"] if spec.get("setups", "all") == "all" else spec["setups"]
        for setup in setups:
            figures.append(f"figures/{study}__{setup}.pdf")
            if spec.get("chart") == "lr_ablation":
                figures.append(f"figures/dynamics__{study}__{setup}.pdf")
    return figures


def _gpu_config(repo: Path, **setup) -> None:
    """config/slurm.yaml: config/ci.yaml with training on one (fake) GPU, computing on the CPU."""
    config = yaml.safe_load((repo / "config" / "ci.yaml").read_text())
    config["defaults"]["device"] = "cpu"
    config["resources"]["train"]["gpu"] = 1
    config["setups"]["digits-cnn"].update(setup)
    (repo / "config" / "slurm.yaml").write_text(yaml.safe_dump(config))


def test_ci_config_runs_through_slurm(slurm_cluster, tmp_path):
    repo = copy_repo(tmp_path / "repo")
    _gpu_config(repo)
    log = tmp_path / "snakemake.log"
    returncode = _run_pipeline(repo, log, "--configfile", "config/slurm.yaml")
    output = log.read_text()

    def check(condition, message):
        if not condition:
            pytest.fail(f"{message}\n----- tail of the snakemake output ({log}) -----\n"
                        f"{_tail(output)}", pytrace=False)

    check(returncode == 0, f"snakemake exited with {returncode}")

    for table in ("compression", "training", "compute"):
        path = repo / "results" / "tables" / f"{table}.csv"
        check(path.is_file() and len(path.read_text().splitlines()) >= 2,
              f"{path.relative_to(repo)} is missing or has no rows")

    config = yaml.safe_load((repo / "config" / "slurm.yaml").read_text())
    missing = [f for f in expected_figures(config) if not (repo / f).is_file()
               or (repo / f).read_bytes()[:4] != b"%PDF"]
    check(not missing, f"figures missing or not PDFs: {missing}")
    paper = repo / "paper" / "main.pdf"
    check(paper.is_file() and paper.read_bytes()[:4] == b"%PDF", "paper/main.pdf is missing")

    # Slurm ran every training job, which also swept its run: one job log and one sweep per run.
    runs = {d.name for d in (repo / "results" / "runs").iterdir() if d.is_dir()}
    sweeps = {c.stem for c in (repo / "results" / "compress").glob("*.csv")}
    train_logs = _slurm_logs(repo, "train")
    check(runs and set(train_logs) == runs,
          f"Slurm train logs {sorted(train_logs)} do not match the runs {sorted(runs)}")
    check(sweeps == runs, f"the sweeps {sorted(sweeps)} do not match the runs {sorted(runs)}")
    check(all(train_logs.values()), "a Slurm job log is missing")
    # one preflight job for the GPU setup, before the training jobs; the CPU-only rules
    # (tables, the learning-rate theory) ran where Snakemake runs, not in Slurm jobs
    check(list(_slurm_logs(repo, "preflight")) == ["digits-cnn"], "no preflight job ran in Slurm")
    report = (repo / "results" / "preflight" / "digits-cnn.txt").read_text()
    check(report.splitlines()[-1].endswith("none failed"), f"the preflight failed:\n{report}")
    for rule in ("aggregate", "lr_theory", "figure_study", "paper"):
        check(not (repo / "results" / "logs" / "slurm" / f"rule_{rule}").exists(),
              f"rule {rule} was submitted to Slurm")

    # The controller saw the GPU requests: train asked for one (--set-resources train:gpu=1 ->
    # sbatch --gpus=1).  Records are purged MinJobAge (600 s) after a job ends, so only
    # retained ones are checked, and at least one must be.
    kept = [job for paths in train_logs.values() for p in paths if (job := _slurm_job(p.stem))]
    check(kept, "Slurm no longer knows any training job; cannot check the GPU request")
    for job in kept:
        check(job.get("JobState") == "COMPLETED",
              f"Slurm job {job.get('JobId')} (train) ended {job.get('JobState')}")
        check("gpu" in job.get("TresPerJob", "") + job.get("TresPerNode", ""),
              f"Slurm job {job.get('JobId')} (train) has GPU request "
              f"{job.get('TresPerJob') or job.get('TresPerNode') or 'none'}")


def _checker(log: Path):
    def check(condition, message):
        if not condition:
            pytest.fail(f"{message}\n----- tail of the snakemake output ({log}) -----\n"
                        f"{_tail(log.read_text())}", pytrace=False)
    return check


def test_a_two_process_job_checkpoints_on_sigterm_and_its_retry_resumes(slurm_cluster,
                                                                         tmp_path):
    """One job with both of the node's (fake) GPUs: the train rule runs torchrun with two
    processes (gloo on the CPU).  Mid-run it gets SIGTERM in every process of its job step, as
    `sbatch --signal=TERM@120` delivers it before a time limit; it checkpoints and fails, and
    the profile's retry resumes it to the end."""
    repo = copy_repo(tmp_path / "repo")
    _gpu_config(repo, epochs=20, batch_size=32)  # long enough to signal
    run = "digits-cnn__sgd__linear__s1"
    log = tmp_path / "snakemake.log"
    check = _checker(log)
    process = _start_pipeline(repo, log, f"results/runs/{run}/metrics.json", "--configfile",
                              "config/slurm.yaml", "--set-resources", "train:gpu=2",
                              "preflight:gpu=2")
    history = repo / "results" / "runs" / run / "history.csv"
    deadline = time.time() + PIPELINE_TIMEOUT
    while not history.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    check(history.exists(), "the job never finished an epoch")
    jobs = subprocess.run(["squeue", "-h", "-t", "R", "-o", "%i"], capture_output=True,
                          text=True, env={**os.environ, "PATH": SEARCH_PATH}).stdout.split()
    check(len(jobs) == 1, f"expected the one training job to run, squeue says {jobs}")
    # without --batch/--full, as at a time limit: every job step, not the batch script
    subprocess.run(["scancel", "--signal=TERM", jobs[0]], check=True,
                   env={**os.environ, "PATH": SEARCH_PATH})
    check(_finish_pipeline(process, log) == 0, "snakemake failed")

    metrics = json.loads((repo / "results" / "runs" / run / "metrics.json").read_text())
    check(metrics["processes"] == 2, f"trained in {metrics['processes']} processes, not 2")
    attempts = _slurm_logs(repo, "train")[run]
    check(len(attempts) == 2, f"expected a signalled attempt and its retry: {attempts}")
    train_log = (repo / "results" / "logs" / "train" / f"{run}.log").read_text()
    check(f"resuming results/runs/{run}" in train_log,
          f"the retry did not resume from the checkpoint:\n{_tail(train_log)}")
    check(len(pd.read_csv(history)) == 20, "the resumed run did not finish every epoch")


def test_the_controller_runs_as_a_slurm_job(slurm_cluster, tmp_path):
    """scripts/slurm-controller.sh: Snakemake as a job of its own submits the training job
    (and its preflight) from its node and waits for them."""
    repo = copy_repo(tmp_path / "repo")
    _gpu_config(repo)
    run = "digits-cnn__sgd__linear__s1"
    (repo / "results" / "logs" / "slurm").mkdir(parents=True)
    venv_bin = Path(sys.executable).parent
    env = {**os.environ, "PATH": os.pathsep.join([str(venv_bin), SEARCH_PATH])}
    env = {k: v for k, v in env.items() if not k.startswith("SLURM_")}
    # the node has 2 CPUs: the controller takes one, its jobs the other
    submitted = subprocess.run(
        ["sbatch", "--parsable", "--partition=debug", "--cpus-per-task=1", "--mem=500",
         "--time=30", "scripts/slurm-controller.sh", f"results/runs/{run}/metrics.json",
         *SNAKEMAKE_ARGS[2:], "--jobs", "1", "--configfile", "config/slurm.yaml"],
        cwd=repo, capture_output=True, text=True, env=env, timeout=60)
    assert submitted.returncode == 0, submitted.stderr
    job = submitted.stdout.strip().split(";")[0]
    output = repo / "results" / "logs" / "slurm" / f"controller-{job}.log"
    deadline = time.time() + PIPELINE_TIMEOUT
    while time.time() < deadline:
        state = _slurm_job(job)
        if state is None or state.get("JobState") not in ("PENDING", "RUNNING", "COMPLETING"):
            break
        time.sleep(2)
    log = output.read_text() if output.exists() else "(no controller log)"
    assert state is None or state.get("JobState") == "COMPLETED", f"{state}\n{_tail(log)}"
    assert (repo / "results" / "runs" / run / "metrics.json").is_file(), _tail(log)
    assert list(_slurm_logs(repo, "train")) == [run] and list(_slurm_logs(repo, "preflight"))


def test_the_rehearsal_runs_its_two_process_imagenet_job_through_slurm(slurm_cluster, tmp_path):
    """The paper grid's rehearsal through profiles/slurm, kept to one run: ImageNet's small
    copy is written where Snakemake runs, then its setup's preflight job (cafw doctor on the
    CPU, gloo over two processes) and the training job, in two processes (torchrun with gloo),
    run as Slurm jobs."""
    repo = copy_repo(tmp_path / "repo")
    run = "imagenet-resnet50__sgd__linear__s0"
    log = tmp_path / "snakemake.log"
    check = _checker(log)
    returncode = _run_pipeline(repo, log, f"results/runs/{run}/metrics.json", "--configfile",
                               "config/paper.yaml", "config/rehearsal.yaml")
    check(returncode == 0, f"snakemake exited with {returncode}")

    out = repo / "outputs" / "rehearsal"
    metrics = json.loads((out / "results" / "runs" / run / "metrics.json").read_text())
    check(metrics["processes"] == 2 and metrics["device_type"] == "cpu",
          f"trained in {metrics['processes']} processes on {metrics['device_type']}")
    check(list(_slurm_logs(repo, "train")) == [run], "no Slurm train job")
    check(list(_slurm_logs(repo, "preflight")) == ["imagenet-resnet50"],
          "no Slurm preflight job")
    report = (out / "results" / "preflight" / "imagenet-resnet50.txt").read_text()
    check("GLOO, 2 processes" in report and report.splitlines()[-1].endswith("none failed"),
          f"the preflight:\n{report}")
    check(not _slurm_logs(repo, "dataset"), "the dataset rule ran in Slurm")
    written = (out / "results" / "logs" / "dataset" / "imagenet.log").read_text()
    check("wrote a small ImageNet" in written and "checksums: skipped" in written, written)
