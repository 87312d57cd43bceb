"""What a node must provide for a GPU setup's training jobs, decided from the config alone.

The pipeline runs one short preflight job per GPU setup (a setup whose training asks for
``gpu > 0``, or whose resources say ``preflight: true``) on the kind of node its training jobs
get, before any of them: ``cafw doctor`` checks that node against the setup's requirement
(written by the rule ``preflight_config``), so a broken node or a torch that cannot use its
GPUs costs one short job, not the grid.  CPU-only configs get no preflight job, unless they
ask for one (a rehearsal keeps the preflight jobs of the grid it rehearses, on the CPU).

Torch-free, like the grid: Snakemake evaluates it while planning.
"""

from __future__ import annotations

from ..vocabulary import FAMILIES
from .grid import Grid
from .resources import train_gpus, train_processes, train_resource

#: the time limit of a preflight job (Slurm's --time): a few training steps and the checks
PREFLIGHT_MINUTES = 15


def preflight_setups(config: dict) -> list[str]:
    """The setups that get a preflight job: those whose training jobs ask for GPUs, unless
    their resources say otherwise (``preflight``)."""
    def wanted(setup: str) -> bool:
        asked = train_resource(config, setup, "preflight")
        return train_gpus(config, setup) > 0 if asked is None else asked
    return [setup for setup in config["setups"] if wanted(setup)]


def requirement(config: dict, grid: Grid, setup: str) -> dict:
    """What the node of ``setup``'s training jobs must do: its GPUs and processes per job, and
    the costliest SFW run of the setup (the one whose steps ``cafw doctor`` times), with the
    job's time."""
    runs = [run for run in grid.runs.values() if run["tags"]["setup"] == setup]
    return {"setup": setup, "gpus": train_gpus(config, setup),
            "processes": train_processes(config, setup),
            "runtime_minutes": train_resource(config, setup, "runtime"),
            "run": costliest(runs)}


def costliest(runs: list[dict]) -> dict:
    """The run whose optimizer step costs most: SFW over the spectral families (a subspace
    iteration per conv layer and step), then any SFW, then the first run."""
    def rank(run: dict) -> int:
        optimizer = run["optimizer"]
        if optimizer["name"] != "sfw":
            return 0
        return 2 if FAMILIES[optimizer["constraint"]["family"]].spectral else 1
    return max(runs, key=rank)
