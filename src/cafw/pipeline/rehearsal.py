"""A rehearsal of a grid: the same setups, studies, methods, variants, schedules, claims,
figures and paper, every run shrunk to toy size on a CPU and trained on small copies of its
datasets in their real on-disk formats (``config/rehearsal.yaml``; docs/cluster.md,
"Rehearsing a grid").

    config = rehearsed(merged)    # a config without a `rehearsal` section is returned as is

Snakemake merges config files mapping by mapping, so an overlay can change a setup only by
naming it.  The ``rehearsal`` section says instead what to do to every setup, method and study
of whichever grid it is merged over, and this module does it once, before anything else reads
the config (the workflow, ``cafw cost`` and ``cafw doctor``):

* ``run``: run keys set on ``defaults`` and on every setup and benchmark setup, over their
  own (the epochs, batches, CPU threads, data root ...); the schedules' epoch counts are
  brought inside the rehearsal's epochs;
* ``datasets``: the small copy of each on-disk dataset that the ``dataset`` rule writes
  instead of downloading it, and the ``dataset_options`` of the runs on it;
* ``resources``: no job asks for a GPU; each takes the rehearsal's threads, time and memory.
  A setup whose training asks for several GPUs trains in ``processes`` processes on the CPU
  (torchrun with gloo, as on GPUs with NCCL), and a setup that gets a preflight job in the
  grid keeps it (``cafw doctor`` then checks what a CPU can: torch, the data, timed steps);
* ``tune_values``: every tuned key keeps its first values, so that tuning still chooses;
* ``ratios``: each kind keeps 0, the ratios that the claims and ``save_ratios`` name, then
  its largest, up to this many.

The replicates are thinned by the overlay's own ``replicates`` block.  Torch-free, like
the grid: Snakemake evaluates it while planning.
"""

from __future__ import annotations

import copy

from ..errors import GridError
from ..vocabulary import ON_DISK
from .preflight import preflight_setups
from .resources import train_processes

#: run keys that make a setup what it is: a rehearsal keeps them
STRUCTURE = ("dataset", "model")
#: resources that only mean something with GPUs
GPU_RESOURCES = ("cpus_per_gpu",)


def rehearsed(config: dict) -> dict:
    """``config`` as its ``rehearsal`` section says (module docstring), or ``config``
    itself where it has none."""
    plan = config.get("rehearsal")
    if plan is None:
        return config
    _check(config, plan)
    out = copy.deepcopy(config)
    out["defaults"] = {**out.get("defaults", {}), **plan["run"]}
    for section in ("setups", "benchmark_setups"):
        for setup in out.get(section, {}).values():
            setup.update(plan["run"])
            options = plan["datasets"].get(setup["dataset"], {}).get("options", {})
            if options:
                setup["dataset_options"] = {**setup.get("dataset_options", {}), **options}
    if "epochs" in plan["run"]:
        out["schedules"] = {name: _within(schedule, plan["run"]["epochs"])
                            for name, schedule in out["schedules"].items()}
    out["resources"] = {rule: _on_cpu(requested, plan["resources"])
                        for rule, requested in config["resources"].items()}
    preflight = preflight_setups(config)
    for name, setup in out["setups"].items():
        processes = min(train_processes(config, name), plan["processes"])
        resources = _on_cpu(setup.get("resources", {}), plan["resources"])
        resources.pop("processes", None)
        if processes > 1:
            resources["processes"] = processes
        if "threads" in plan["resources"]:
            resources["threads"] = plan["resources"]["threads"] * processes
        setup["resources"] = {**resources, "preflight": name in preflight}
    for method in out["methods"].values():
        if "tune" in method:
            method["tune"] = _first(method["tune"], plan["tune_values"])
    for study in out["studies"].values():
        for variant in study.get("variants", []):
            if "tune" in variant:
                variant["tune"] = _first(variant["tune"], plan["tune_values"])
    out["ratios"] = {kind: _kept_ratios(config, kind, plan["ratios"])
                     for kind in config["ratios"]}
    return out


def _check(config: dict, plan: dict) -> None:
    """What the schema cannot say: the rehearsal keeps each setup's dataset and model, and
    has a small copy of every on-disk dataset the grid reads (the alternative would be the
    download)."""
    kept = [key for key in (*STRUCTURE, "dataset_options") if key in plan["run"]]
    if kept:
        raise GridError(f"rehearsal.run sets {', '.join(kept)}: a rehearsal keeps each setup's "
                        "dataset and model, and takes dataset options from "
                        "rehearsal.datasets.<dataset>.options")
    setups = {**config["setups"], **config.get("benchmark_setups", {})}
    for name, setup in setups.items():
        dataset = setup["dataset"]
        if dataset in ON_DISK and dataset not in plan["datasets"]:
            raise GridError(f"setup {name!r} trains on {dataset}, of which the rehearsal has no "
                            f"small copy: add rehearsal.datasets.{dataset} (train_images, "
                            "test_images), or it would be downloaded")


def _within(schedule: dict, epochs: int) -> dict:
    """A schedule whose epoch counts lie inside ``epochs``: the warm-up shortened to end
    before the last epoch and milestones past the end dropped (none left: the default halfway
    and three quarters), as the run config requires, and the step decay's step shortened
    likewise, so that the rehearsal decays as the grid does."""
    out = dict(schedule)
    if out.get("warmup_epochs"):
        out["warmup_epochs"] = min(out["warmup_epochs"], epochs - 1)
    if "milestones" in out:
        milestones = [m for m in out.pop("milestones") if m < epochs]
        if milestones:
            out["milestones"] = milestones
    if out.get("step_size"):
        out["step_size"] = min(out["step_size"], max(epochs - 1, 1))
    return out


def _on_cpu(resources: dict, plan: dict) -> dict:
    """A rule's or setup's resources without GPUs, with the rehearsal's threads, time and
    memory."""
    kept = {k: v for k, v in resources.items() if k not in GPU_RESOURCES}
    return {**kept, **plan, "gpu": 0}


def _first(grid: dict, count: int) -> dict:
    return {key: values[:count] for key, values in grid.items()}


def _kept_ratios(config: dict, kind: str, count: int) -> list[float]:
    """Up to ``count`` of the kind's ratios, in their order: 0 (the dense model), those the
    claims and save_ratios of its studies name (all of them, even beyond ``count``), then the
    largest."""
    studies = {name for name, study in config["studies"].items() if study["kind"] == kind}
    named = {0.0}
    for claim in config.get("claims", {}).values():
        if claim["study"] in studies:
            named |= {claim[key] for key in ("ratio", "up_to") if key in claim}
    for study in studies:
        named |= set(config["studies"][study].get("save_ratios", []))
    ratios = config["ratios"][kind]
    kept = {r for r in ratios if r in named}
    for ratio in sorted(ratios, reverse=True):
        if len(kept) >= count:
            break
        kept.add(ratio)
    return [r for r in ratios if r in kept]
