# The grid (runs, compression jobs, study membership) comes from the config through the
# library, which imports no torch, so planning stays fast.  Curves with a tuning grid are
# trained at every grid point first; the checkpoint `select` then chooses one point per curve
# on validation accuracy, and only then are the study runs of those curves known.
import os

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from cafw.pipeline.grid import (
    check_claims,
    compute_setups,
    compute_spec,
    expand as expand_grid,
)
from cafw.pipeline.selection import read_selection
from cafw.spec import ConfigError
from cafw.vocabulary import KINDS, ON_DISK, PAPER_FILES, PAPER_TABLES

TUNING = "results/tables/tuning.csv"


def checked_grid(config, selection=None):
    """The grid of a config whose every run is valid: one line naming the study, the method
    and the key otherwise."""
    try:
        return expand_grid(config, selection)
    except ConfigError as err:
        raise WorkflowError(f"invalid configuration: {err}") from None


def validated(config):
    """The config, once it passes the schema.  A bad key inside a run is reported by the
    grid instead, in one line; the schema reports everything else.  Defaults are not filled
    in from the schema: they live in cafw.spec, where `cafw train` reads them too."""
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
        check_claims(config)
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
    """For the inputs of rules after the selection: the grid once `select` has run."""
    checkpoints.select.get()
    return grid()


def after_selection(*paths):
    """An input function giving ``paths`` only once the selection is made, so that the
    rule's params and outputs see the whole grid."""
    return lambda w: (selected_grid(), list(paths))[1]


validated(config)
GRID = grid()
SETUPS = list(config["setups"])
COMPUTE_SETUPS = compute_setups(config)
RUN = "results/runs/{run}"
TABLES = expand(
    "results/tables/{name}.csv",
    name=[
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


def dataset_ready(run):
    """The marker of a dataset that must be on disk before the run can train."""
    dataset = grid().runs[run]["dataset"]
    return [f"results/data/{dataset}.ready"] if dataset in ON_DISK else []


def sweep_arguments(run):
    """`cafw train`'s arguments that sweep the trained run: each kind its studies compress it
    with, at the config's ratios, and the kinds that build the deployable model."""
    kinds = grid().kinds[run]
    sweeps = [f"--sweep {kind} {' '.join(map(str, config['ratios'][kind]))}" for kind in kinds]
    physical = [kind for kind in kinds if grid().sweeps[run, kind].physical]
    return " ".join(sweeps + ([f"--physical {' '.join(physical)}"] if physical else []))


def setup_of(run):
    return grid().runs[run]["tags"]["setup"]


def resource(rule_name, key, setup=None):
    """A rule's cluster resource from the config (None: not set, so Snakemake leaves it out);
    a setup may override train's."""
    value = config["resources"][rule_name].get(key)
    if setup is not None:
        value = config["setups"][setup].get("resources", {}).get(key, value)
    return value


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


def train_command(gpus):
    """`cafw train`: one process, or one per GPU under torchrun (one node; NCCL on GPUs, gloo
    on a CPU), which sets the environment each process joins the others with."""
    if gpus <= 1:
        return "cafw train"
    return (f"env TORCH_ELASTIC_SHUTDOWN_TIMEOUT={TORCHRUN_GRACE} "
            f"torchrun --standalone --nproc-per-node {gpus} -m cafw train")


def study_setups(spec):
    return SETUPS if spec.get("setups", "all") == "all" else spec["setups"]


def figure_targets():
    """One figure per study x setup, plus the cross-cutting ones: the SFW dynamics of the
    learning-rate ablation, and its learning-rate grid when its rescalings are tuned."""
    figures = []
    for study, spec in config["studies"].items():
        for setup in study_setups(spec):
            figures.append(f"figures/{study}__{setup}.pdf")
            if spec.get("figure") == "lr_ablation":
                figures.append(f"figures/dynamics__{setup}.pdf")
                if any("tune" in v for v in spec.get("variants", [])):
                    figures.append(f"figures/lr-grid__{study}__{setup}.pdf")
    return list(dict.fromkeys(figures)) + ["figures/compute.pdf", "figures/lr-theory.pdf"]


def figure_kind(study):
    return config["studies"][study].get("figure", "compression")


def ablation_study():
    return next(s for s, spec in config["studies"].items() if spec.get("figure") == "lr_ablation")
