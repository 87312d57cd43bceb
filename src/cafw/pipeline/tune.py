"""Retuning: every tuning choice of a config made anew, from its tuning runs, and recorded in
its tuning lock (``cafw.pipeline.lock``), with the choices that moved.

``cafw tune --configfile CONFIG`` runs the pipeline as far as the tuning table with the lock
unread, so every replicate of every tuned curve is tuned (Snakemake reruns only the tuning runs
that are missing), then writes the lock from the new table and reports which choices differ
from the lock's.  Commit the lock beside the config: a fresh clone then trains only the
evaluation runs, at these points.

    moved = retune([Path("config/config.yaml")], ["--cores", "2"])
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from ..errors import ConfigError
from ..io import write_yaml
from . import lock
from .cost import load
from .invoke import run_snakemake

TUNING = "results/tables/tuning.csv"  # under the config's output_dir


def retune(configfiles: list[Path], snakemake_args: list[str]) -> list[str]:
    """Tune every replicate of the config (merged from ``configfiles`` as Snakemake merges
    them) without its lock, write the lock, and return one line per choice that moved."""
    config = load(configfiles)
    path = config.get("tuning", {}).get("lock")
    if path is None:
        raise ConfigError("the config has no tuning.lock to write the choices to; add e.g. "
                          "tuning: {lock: config/NAME.lock.csv}")
    unlocked = {**config, "tuning": {k: v for k, v in config["tuning"].items() if k != "lock"}}
    with tempfile.TemporaryDirectory() as scratch:
        merged = Path(scratch) / "config.yaml"
        write_yaml(merged, unlocked)
        run_snakemake([TUNING], [merged], snakemake_args, what="the tuning runs")
    tuning = pd.read_csv(Path(config.get("output_dir", ".")) / TUNING,
                         dtype={"digest": str, "point": str})
    before = lock.read(path)
    lock.write(path, tuning)
    return lock.moved(before, tuning)
