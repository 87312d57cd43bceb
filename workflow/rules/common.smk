# The grid (runs, compression jobs, study membership) comes from the config through the
# library, which imports no torch, so planning stays fast.
import os

from cafw.pipeline.grid import compute_setups, compute_spec, expand as expand_grid

GRID = expand_grid(config)
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
        "lr_theory",
    ],
)


wildcard_constraints:
    run="[^/]+",
    kind="filter|lowrank|unstructured",
    dataset="cifar10|cifar100|imagenet",
    setup="|".join(COMPUTE_SETUPS),
    study="|".join(config["studies"]),


def dataset_ready(run):
    """The marker of a dataset that must be on disk before the run can train."""
    dataset = GRID.runs[run]["dataset"]
    return [f"results/data/{dataset}.ready"] if dataset in ("cifar10", "cifar100", "imagenet") else []


def setup_of(run):
    return GRID.runs[run]["tags"]["setup"]


def resource(rule_name, key, setup=None):
    """A rule's cluster resource from the config; a setup may override train's."""
    value = config["resources"][rule_name][key]
    if setup is not None:
        value = config["setups"][setup].get("resources", {}).get(key, value)
    return value


def study_setups(spec):
    return SETUPS if spec.get("setups", "all") == "all" else spec["setups"]


def figure_targets():
    """One figure per study x setup, plus the cross-cutting ones."""
    figures = []
    for study, spec in config["studies"].items():
        for setup in study_setups(spec):
            figures.append(f"figures/{study}__{setup}.pdf")
            if spec.get("figure") == "lr_ablation":
                figures.append(f"figures/dynamics__{setup}.pdf")
    return figures + ["figures/compute.pdf", "figures/lr-theory.pdf"]


def figure_kind(study):
    return config["studies"][study].get("figure", "compression")


def ablation_study():
    return next(s for s, spec in config["studies"].items() if spec.get("figure") == "lr_ablation")
