# The grid (runs, compression jobs, study membership) comes from the config through the
# library, which imports no torch, so planning stays fast.  Curves with a tuning grid are
# trained at every grid point first; the checkpoint `select` then chooses one point per curve
# on validation accuracy, and only then are the study runs of those curves known.
import os
import shutil
import sys

from snakemake.exceptions import WorkflowError
from snakemake.settings.types import DeploymentMethod
from snakemake.utils import validate

from cafw.pipeline.grid import (
    check_baseline,
    check_claims,
    compute_setups,
    compute_runs,
    expand as expand_grid,
)
from cafw.pipeline import lock
from cafw.pipeline.preflight import PREFLIGHT_MINUTES, preflight_setups, requirement
from cafw.pipeline.protocol import protocol_hash
from cafw.pipeline.rehearsal import rehearsed
from cafw.pipeline.resources import train_processes
from cafw.pipeline.selection import read_selection
from cafw.pipeline.studies import figures, study_chart, table as studies_table
from cafw.pipeline.workdir import command_path
from cafw.spec import ConfigError
from cafw.vocabulary import KINDS, ON_DISK, PAPER_FILES, PAPER_TABLES
from cafw.warm import start_server

TUNING = "results/tables/tuning.csv"
# The repository, for envs/cafw.post-deploy.sh (the conda env's install of cafw): Snakemake
# runs it in the working directory, which a config's output_dir moves elsewhere.
os.environ.update(CAFW_REPO=workflow.basedir)
# Jobs inherit this PATH (Slurm's too: sbatch exports the environment).
os.environ.update(PATH=command_path(os.environ.get("PATH", ""), sys.executable))
if shutil.which("cafw") is None and not (
    DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
):
    raise WorkflowError(
        f"cafw is not installed beside {sys.executable}, which runs Snakemake, nor on "
        "PATH, so no job could run it: install it there (bash scripts/setup.sh), or run "
        "the Snakemake of its environment (source .venv/bin/activate)"
    )


def lock_path():
    """The config's tuning lock (relative to the repository), or None without one."""
    path = config.get("tuning", {}).get("lock")
    return None if path is None else os.path.join(workflow.basedir, path)


def checked_grid(config, selection=None, locked=True):
    """The grid of a config whose every run is valid (one line naming the study, the method
    and the key otherwise), with the choices of its tuning lock unless not ``locked``."""
    try:
        recorded = lock.choices(lock.read(lock_path())) if locked else None
        return expand_grid(config, selection, recorded)
    except ConfigError as err:
        raise WorkflowError(f"invalid configuration: {err}") from None
    except ValueError as err:  # a file that is not a tuning lock
        raise WorkflowError(str(err)) from None


def validated(config):
    """The config, once it passes the schema, as its `rehearsal` section says if it has one
    (cafw.pipeline.rehearsal).  A bad key inside a run is reported by the grid instead, in one
    line; the schema reports everything else.  Defaults are not filled in from the schema:
    they live in cafw.spec, where `cafw train` reads them too."""
    try:
        validate(config, "../schemas/config.schema.yaml", set_default=False)
    except WorkflowError:
        try:
            expand_grid(config)
        except ConfigError as err:
            raise WorkflowError(f"invalid configuration: {err}") from None
        except Exception:
            pass  # a structural error: the schema's message says more
        raise
    try:
        config = rehearsed(config)
        check_claims(config)
        check_baseline(config)
    except ConfigError as err:
        raise WorkflowError(f"invalid configuration: {err}") from None
    return config


_grids = {}


def grid():
    """The whole grid as far as it is known: with the study runs of the tuned curves once
    the tuning table exists (re-read whenever it changes)."""
    stamp = os.path.getmtime(TUNING) if os.path.exists(TUNING) else None
    if stamp not in _grids:
        _grids.clear()
        _grids[stamp] = checked_grid(config, read_selection(TUNING) if stamp else None)
    return _grids[stamp]


def selected_grid():
    """For the inputs of rules after the selection: the grid once `select` has run.  Where
    the tuning lock makes every choice, the grid is known before and nothing waits, so a dry
    run already lists every evaluation run."""
    if not GRID.all_locked():
        checkpoints.select.get()
    return grid()


def after_selection(*paths):
    """An input function giving ``paths`` only once the selection is made, so that the
    rule's params and outputs see the whole grid."""
    return lambda w: (selected_grid(), list(paths))[1]


# Local jobs fork from a server that has imported torch and the library once (cafw.warm): a
# digits run would spend about 3 of its 8 seconds on those imports.  The server is imported
# with the environment Snakemake gives a training job; jobs of another thread count, and a
# cluster executor's jobs (which run elsewhere), start cold, as every job does where
# CAFW_WARM=off.
onstart:
    if workflow.local_exec and not workflow.remote_exec:
        start_server(threads("train"))


config.update(validated(config))
GRID = grid()
# what the preflight checks: the same before and after tuning
UNSELECTED = checked_grid(config, locked=False)
PREFLIGHT_SETUPS = preflight_setups(config)
SETUPS = list(config["setups"])
COMPUTE_SETUPS = compute_setups(config)
RUN = "results/runs/{run}"
TABLES = expand(
    "results/tables/{name}.csv",
    name=[
        "studies",
        "manifest",
        "training",
        "training_summary",
        "compression",
        "compression_summary",
        "history",
        "compute",
        "compute_rounds",
        "lr_theory",
        "tuning",
        "claims",
    ],
)


wildcard_constraints:
    run="[^/]+",
    kind="|".join(KINDS),
    dataset="|".join(ON_DISK),
    setup="|".join(COMPUTE_SETUPS),
    study="|".join(config["studies"]),


def planned(run):
    """The `cafw train` config of ``run``, or one line saying the grid has no such run."""
    try:
        return grid().runs[run]
    except KeyError:
        raise WorkflowError(
            f"{run} is not a run of this config's grid: results/tables/manifest.csv and "
            "tuning_plan.csv list the runs (the seeds of a run follow its replicate; see "
            "the config's replicates block)"
        ) from None


def dataset_ready(run):
    """The marker of a dataset that must be on disk before the run can train."""
    dataset = planned(run)["dataset"]
    return [f"results/data/{dataset}.ready"] if dataset in ON_DISK else []


def dataset_ready_of(setup):
    """The marker of the dataset a setup (or benchmark setup) reads, if it lives on disk."""
    setups = {**config["setups"], **config.get("benchmark_setups", {})}
    dataset = setups[setup]["dataset"]
    return [f"results/data/{dataset}.ready"] if dataset in ON_DISK else []


def dataset_command(dataset):
    """How the `dataset` rule makes an on-disk dataset ready (downloaded for CIFAR, checked
    for ImageNet); in a rehearsal, a small copy written in its on-disk format instead."""
    small = config.get("rehearsal", {}).get("datasets", {}).get(dataset)
    if small is None:
        return f"cafw data download {dataset}"
    sizes = f"--train-images {small['train_images']} --test-images {small['test_images']}"
    classes = f" --classes {small['classes']}" if "classes" in small else ""
    return f"cafw data write {dataset} {sizes}{classes}"


def preflight_of(run):
    """The preflight report a training job waits for: its setup's, if it has one."""
    setup = setup_of(run)
    return [ancient(f"results/preflight/{setup}.txt")] if setup in PREFLIGHT_SETUPS else []


def sweep_arguments(run):
    """`cafw train`'s arguments that sweep the trained run: each kind its studies compress it
    with, at the config's ratios, and the kinds that build the deployable model (timed at the
    config's latency batches)."""
    kinds = grid().kinds[run]
    sweeps = [f"--sweep {kind} {' '.join(map(str, config['ratios'][kind]))}" for kind in kinds]
    physical = [kind for kind in kinds if grid().sweeps[run, kind].physical]
    if physical:
        sweeps += [f"--physical {' '.join(physical)}", latency_arguments()]
    return " ".join(filter(None, sweeps))


def latency_arguments():
    """The config's latency batches as `cafw train` and `cafw compress` take them (none:
    their default)."""
    batches = config.get("latency_batches")
    return f"--latency-batches {' '.join(map(str, batches))}" if batches else ""


def setup_of(run):
    return planned(run)["tags"]["setup"]


def resource(rule_name, key, setup=None):
    """A rule's cluster resource from the config (None: not set, so Snakemake leaves it out);
    a setup may override train's."""
    value = config["resources"][rule_name].get(key)
    if setup is not None:
        value = config["setups"][setup].get("resources", {}).get(key, value)
    return value


#: resources Snakemake converts between units, so that a job cannot leave them at None
CONVERTED = ("runtime", "mem_mb")


def job_resources(rule_name, setup_of_job=None):
    """A rule's cluster resources from the config, each a function of the job's wildcards
    (``setup_of_job``: the job's setup, whose resources override train's).  runtime and
    mem_mb are left out where the config sets neither, so Snakemake's and the cluster's
    defaults apply."""
    setup = setup_of_job or (lambda w: None)
    keyed = lambda key: (lambda w: resource(rule_name, key, setup(w)))  # noqa: E731
    out = {
        "gpu": lambda w: gpus(rule_name, setup(w)),
        "cpus_per_gpu": keyed("cpus_per_gpu"),
        "nodes": keyed("nodes"),
        "slurm_extra": lambda w: slurm_extra(rule_name, setup(w)),
    }
    setups = SETUPS if setup_of_job else [None]
    for key in CONVERTED:
        unset = [s for s in setups if resource(rule_name, key, s) is None]
        if len(unset) < len(setups):
            if unset:
                raise WorkflowError(
                    f"invalid configuration: resources.{rule_name}.{key} is "
                    f"set for some setups but not for {', '.join(unset)}; "
                    f"give resources.{rule_name} a {key} for them"
                )
            out[key] = keyed(key)
    return out


def gpus(rule_name, setup=None):
    """GPUs per job (0 where the config leaves gpu out, as the schema allows)."""
    return resource(rule_name, "gpu", setup) or 0


def threads(rule_name, setup=None):
    """Threads per job of a rule (1 where the config leaves them out)."""
    return resource(rule_name, "threads", setup) or 1


# Slurm sends SIGTERM this many seconds before a training job's time limit, to every process
# of the job step, so `cafw train` checkpoints at its next check point and exits; the retry
# resumes.  torchrun passes the signal on to its processes and kills them only after
# TORCHRUN_GRACE seconds (its default, 30, can be too short for a checkpoint).
SIGTERM_LEAD = 120
TORCHRUN_GRACE = 100


def slurm_extra(rule_name, setup=None):
    """sbatch options beyond the resources: the config's, after the early SIGTERM for train."""
    signal = [f"--signal=TERM@{SIGTERM_LEAD}"] if rule_name == "train" else []
    extra = resource(rule_name, "slurm_extra", setup)
    return " ".join(signal + ([extra] if extra else [])) or None


def train_command(setup, gpus):
    """`cafw train`: one process, or several under torchrun (one node; one per GPU of the
    job with NCCL, or the setup's `processes` with gloo on the CPU), which sets the
    environment each process joins the others with."""
    processes = train_processes(config, setup, gpus)
    if processes == 1:
        return "cafw train"
    return (
        f"env TORCH_ELASTIC_SHUTDOWN_TIMEOUT={TORCHRUN_GRACE} "
        f"torchrun --standalone --nproc-per-node {processes} -m cafw train"
    )


def figure_targets():
    """Every figure of the config (cafw.pipeline.studies says which)."""
    return [f"figures/{figure.stem}.pdf" for figure in figures(config)]


def figure_chart(study):
    return study_chart(config["studies"][study])


# The figure rules (figures.smk) share one skeleton (their tables in; a PDF and the PNG that
# the report shows out; one `cafw figure` call) and differ only in what this table says: the
# files' stem (a figure per study and setup has both in it), the tables it reads, the chart
# that `cafw figure` draws (a study's own chart, or the rule's name) and, for a figure of the
# whole config, where the report files it (a study's figures are filed under the study).
FIGURE_RULES = {
    "study": dict(
        stem="{study}__{setup}",
        tables=["results/tables/compression.csv"],
        chart=lambda w: figure_chart(w.study),
    ),
    "dynamics": dict(
        stem="dynamics__{study}__{setup}",
        tables=["results/tables/history.csv", "results/tables/manifest.csv"],
        label="training dynamics",
    ),
    "compute": dict(stem="compute", tables=["results/tables/compute.csv"], subcategory="compute"),
    "lr_theory": dict(
        stem="lr-theory",
        tables=["results/tables/lr_theory.csv"],
        subcategory="learning-rate theory",
    ),
    "lr_grid": dict(stem="lr-grid__{study}__{setup}", tables=[TUNING], label="learning-rate grid"),
}


def figure_report(figure):
    """The report's entry for the figure's PNG: a study's figures are filed under the study
    and labelled with it and the setup (and the figure, where a study has several)."""
    if "{study}" not in figure["stem"]:
        return dict(subcategory=figure["subcategory"])
    labels = {"study": "{study}", "setup": "{setup}"}
    if "label" in figure:
        labels["figure"] = figure["label"]
    return dict(subcategory="{study}", labels=labels)


def figure_selection(figure):
    """What the rule's `cafw figure` call adds for a study's figure: the study and setup.  A
    param, because a param is bound as the rule is defined, and the shell command of a rule
    defined in a loop is formatted only when its job runs, after the loop has moved on."""
    if "{study}" not in figure["stem"]:
        return ""
    return lambda w: f"--study {w.study} --setup {w.setup} "


def paper_targets():
    """paper/main.pdf where latexmk can build it (on PATH, or from envs/paper.yaml under
    --sdm conda); else the paper's generated sources, and one notice: TeX is optional."""
    with_conda = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
    if with_conda or shutil.which("latexmk"):
        return ["paper/main.pdf"]
    if workflow.is_main_process:
        print(
            "cafw: latexmk is not on PATH, so everything but paper/main.pdf is built "
            "(docs/install.md)",
            file=sys.stderr,
        )
    return expand("paper/generated/{name}", name=PAPER_FILES)
