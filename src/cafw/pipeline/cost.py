"""The grid's cost before submitting: its jobs and GPU-hours per stage (``cafw cost``).

Everything is derived from the grid that Snakemake plans (``cafw.pipeline.grid.expand``), so
the count follows the config's seeds, tuning grids and studies.  Per job:

* **requested** GPU-hours: ``runtime`` x ``gpu`` of its rule (a setup's own resources for
  training), i.e. what Slurm reserves: an upper bound of what the job uses;
* **estimated** GPU-hours, for training jobs of setups whose resources give a measured
  ``epoch_seconds``: epochs x epoch_seconds x GPUs (training only; the evaluation and the
  sweeps that follow in the same job are not included).

Tuning runs are known before the selection.  Study runs of tuned curves are not: they are
counted as each tuned curve's evaluation seeds in every replicate at one chosen point, with no
two curves sharing one, so the count is an upper bound (curves of several studies that choose
the same point share their runs).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..io import write_section
from .grid import compute_setups, curves, expand
from .preflight import PREFLIGHT_MINUTES, preflight_setups
from .rehearsal import rehearsed
from .resources import train_gpus, train_resource

#: the docs page that states the grids' cost (relative to the repository)
PAGE = "docs/cluster.md"
#: its paper-grid paragraph lies between these lines
COST_MARKERS = ("<!-- cost:start -->", "<!-- cost:end -->")
#: the grids whose cost the page states (each a list of config files, merged in order)
PAGE_GRIDS = {"the paper's grid": ["config/paper.yaml"],
                "with reduced tuning": ["config/paper.yaml", "config/paper-reduced.yaml"]}


@dataclass
class Stage:
    name: str
    jobs: int = 0
    requested: float = 0.0  # GPU-hours: runtime x GPUs
    estimated: float | None = None  # GPU-hours from measured epoch times; None: none given
    by_setup: Counter = field(default_factory=Counter)  # setup -> jobs
    hours_by_setup: Counter = field(default_factory=Counter)  # setup -> requested GPU-hours

    def add(self, setup: str, requested: float, estimated: float | None = None) -> None:
        self.jobs += 1
        self.by_setup[setup] += 1
        self.hours_by_setup[setup] += requested
        self.requested += requested
        if estimated is not None:
            self.estimated = (self.estimated or 0.0) + estimated


def load(paths: list[Path]) -> dict:
    """Config files merged in order, as Snakemake merges several --configfile, and rehearsed
    if they say so (``cafw.pipeline.rehearsal``), as the workflow does."""
    from snakemake.utils import update_config

    config: dict = {}
    for path in paths:
        update_config(config, yaml.safe_load(Path(path).read_text()) or {})
    return rehearsed(config)


def stages(config: dict) -> list[Stage]:
    """Preflight, tuning, study runs, compute benchmark and saved models, in pipeline order;
    stages without jobs are left out."""
    known = expand(config)
    chosen = expand(config, {(c.id, r.index): c.points()[0] for c in curves(config) if c.grid
                             for r in c.replicates})
    untuned = known.study_runs()
    # (study, run) of the tuned curves' runs: pairs, so that no two studies share one
    tuned = {(row["study"], row["run"]) for row in chosen.manifest if row["run"] not in untuned}

    preflight = Stage("preflight")
    for setup in preflight_setups(config):
        preflight.add(setup, PREFLIGHT_MINUTES / 60 * train_gpus(config, setup))
    tuning, study = Stage("tuning"), Stage("study runs (at most)")
    for run in known.tuning_runs():
        _add_training(tuning, config, known.runs[run])
    for run in [*untuned, *(run for _, run in sorted(tuned))]:
        _add_training(study, config, chosen.runs[run])
    compute = Stage("compute benchmark")
    for setup in compute_setups(config):
        compute.add(setup, _hours(config["resources"]["compute"]))
    saved = Stage("saved models (at most)")
    for run, _ in chosen.saved_models():
        saved.add(chosen.runs[run]["tags"]["setup"], _hours(config["resources"]["compress"]))
    return [s for s in (preflight, tuning, study, compute, saved) if s.jobs]


def _hours(resources: dict) -> float:
    """Requested GPU-hours of one job: its runtime (minutes) x its GPUs."""
    return (resources.get("runtime") or 0) / 60 * (resources.get("gpu") or 0)


def _add_training(stage: Stage, config: dict, run: dict) -> None:
    setup = run["tags"]["setup"]
    gpus = train_gpus(config, setup)
    requested = (train_resource(config, setup, "runtime") or 0) / 60 * gpus
    epoch_seconds = train_resource(config, setup, "epoch_seconds")
    estimated = None if epoch_seconds is None else run["epochs"] * epoch_seconds / 3600 * gpus
    stage.add(setup, requested, estimated)


def unmeasured(config: dict) -> list[str]:
    """The trained setups without a measured epoch time."""
    return [s for s in config["setups"] if train_resource(config, s, "epoch_seconds") is None]


# -- reports ---------------------------------------------------------------------------------

def _gpu_hours(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}" if value >= 10 else f"{value:,.1f}"


def table(config: dict) -> list[list[str]]:
    """Rows (header first) of stage, jobs, requested GPU-hours (and estimated ones, where the
    config gives measured epoch times), and a total."""
    found = stages(config)
    estimated = [s.estimated for s in found if s.estimated is not None]
    rows = [["stage", "jobs", "GPU-hours requested"] + (["GPU-hours estimated"] if estimated
                                                         else [])]
    for s in found:
        rows.append([s.name, f"{s.jobs:,}", _gpu_hours(s.requested)]
                    + ([_gpu_hours(s.estimated)] if estimated else []))
    rows.append(["total", f"{sum(s.jobs for s in found):,}",
                 _gpu_hours(sum(s.requested for s in found))]
                + ([_gpu_hours(sum(estimated))] if estimated else []))
    return rows


def per_setup(config: dict) -> list[list[str]]:
    """Rows (header first): each trained setup's GPUs and time limit per job, its training
    jobs and their requested GPU-hours."""
    training = [s for s in stages(config) if s.name in ("tuning", "study runs (at most)")]
    rows = [["setup", "GPUs x time per job", "epochs",
             *(s.name.replace("runs", "jobs").replace("tuning", "tuning jobs") for s in training),
             "GPU-hours requested"]]
    for setup in config["setups"]:
        runtime = train_resource(config, setup, "runtime")
        limit = "–" if runtime is None else f"{runtime} min" if runtime < 120 else \
            f"{runtime / 60:g} h"
        rows.append([setup, f"{train_gpus(config, setup)} x {limit}",
                     str(config["setups"][setup].get("epochs", "–")),
                     *(str(s.by_setup[setup]) for s in training),
                     _gpu_hours(sum(s.hours_by_setup[setup] for s in training))])
    return rows


def _markdown_table(rows: list[list[str]]) -> list[str]:
    return (["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
            + ["| " + " | ".join(row) + " |" for row in rows[1:]] + [""])


NOTES = ("Requested GPU-hours are each job's `runtime` x `gpu` from the config's `resources`: "
         "the time limits Slurm reserves, an upper bound of what the jobs use. Study runs of "
         "tuned curves are an upper bound until tuning has chosen: each tuned curve's "
         "evaluation seeds in every replicate at one chosen point, with no two curves sharing "
         "a run (curves of several studies that choose the same point share theirs).")


def text(config: dict, name: str) -> str:
    """The plain-text report of ``cafw cost``."""
    lines = [f"{name}: jobs and GPU-hours per stage", ""]
    lines += _aligned(table(config)) + [""] + _aligned(per_setup(config)) + [""]
    lines.append(NOTES.replace("`", ""))
    missing = unmeasured(config)
    if missing:
        lines.append(f"No measured epoch time for {', '.join(missing)} (resources."
                     "epoch_seconds, e.g. seconds_per_epoch of results/tables/training.csv "
                     "on the cluster's GPUs): their estimate is left out.")
    return "\n".join(lines) + "\n"


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                      enumerate(zip(row, widths))).rstrip() for row in rows]


def markdown(grids: dict[str, list[str]], root: Path = Path(".")) -> str:
    """The docs page's paper-grid paragraph: a table of stages per grid, then the notes.
    ``root``: the repository, which the grids' config files are relative to."""
    lines = [f"*Generated by `cafw cost --docs`, which rewrites {PAGE}; do not edit by hand.*",
             ""]
    for name, paths in grids.items():
        config = load([root / p for p in paths])
        lines += [f"**{name[0].upper()}{name[1:]}** (`cafw cost --configfile "
                  f"{' '.join(paths)}`):", ""]
        lines += _markdown_table(table(config)) + _markdown_table(per_setup(config))
    lines.append(NOTES)
    return "\n".join(lines) + "\n"


def update_page(root: Path = Path("."), grids: dict[str, list[str]] = PAGE_GRIDS) -> None:
    """Rewrite the docs page's paper-grid paragraph (between its cost markers) in the
    repository ``root``."""
    write_section(root / PAGE, "paper-grid", *COST_MARKERS, markdown(grids, root))
