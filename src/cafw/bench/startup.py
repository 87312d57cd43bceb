"""Where a pipeline run's job time went: start-up (interpreter, imports, data, model) against
the work each job measured itself, from the files a run left behind.

A job's wall time is its Snakemake ``benchmark:`` file; its work is what it timed in-process:
a training run's ``wall_time_s`` (epochs and evaluations, metrics.json) and its sweep's
``eval_seconds`` (one row per kind and ratio).  The rest is start-up, the sweep's preparation
(filter norms, SVDs, deployable models) and writing the outputs.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd


def _wall(benchmark: Path) -> float:
    with open(benchmark) as handle:
        return float(next(csv.DictReader(handle, delimiter="\t"))["s"])


def split(results: Path) -> pd.DataFrame:
    """One row for the training jobs: jobs, wall seconds, training, sweep evaluation and the
    rest (start-up), in total and per job."""
    results = Path(results)
    benchmarks = sorted((results / "benchmarks" / "train").glob("*.tsv"))
    wall = sum(_wall(b) for b in benchmarks)
    training = sum(json.loads((results / "runs" / b.stem / "metrics.json").read_text())
                   ["wall_time_s"] for b in benchmarks)
    sweeping = sum(_sweep_seconds(results / "compress" / f"{b.stem}.csv") for b in benchmarks)
    startup = wall - training - sweeping
    jobs = len(benchmarks)
    return pd.DataFrame([{"rule": "train", "jobs": jobs, "wall_s": wall, "train_s": training,
                          "sweep_eval_s": sweeping, "startup_s": startup,
                          "startup_share": startup / wall if wall else float("nan"),
                          "startup_per_job_s": startup / max(jobs, 1)}])


def _sweep_seconds(sweep: Path) -> float:
    return float(pd.read_csv(sweep)["eval_seconds"].sum()) if sweep.is_file() else 0.0
