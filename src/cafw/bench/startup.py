"""Where a pipeline run's job time went: start-up (interpreter, imports, data, model) against
the work each job measured itself, from the files a run left behind.

A job's wall time is its Snakemake ``benchmark:`` file; its work is what it timed in-process:
a training run's ``wall_time_s`` (epochs and evaluations, metrics.json) and a sweep's
``eval_seconds`` (one row per ratio).  The difference is start-up and writing the outputs.
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
    """One row per rule (train, compress): jobs, wall seconds, in-process work, start-up."""
    results = Path(results)
    rows = []
    for rule, work in (("train", _train_work), ("compress", _sweep_work)):
        benchmarks = sorted((results / "benchmarks" / rule).rglob("*.tsv"))
        wall = sum(_wall(b) for b in benchmarks)
        busy = sum(work(results, b.relative_to(results / "benchmarks" / rule)) for b in benchmarks)
        rows.append({"rule": rule, "jobs": len(benchmarks), "wall_s": wall, "work_s": busy,
                     "startup_s": wall - busy, "startup_share": (wall - busy) / wall if wall else
                     float("nan"), "startup_per_job_s": (wall - busy) / max(len(benchmarks), 1)})
    return pd.DataFrame(rows)


def _train_work(results: Path, benchmark: Path) -> float:
    metrics = results / "runs" / benchmark.with_suffix("") / "metrics.json"
    return json.loads(metrics.read_text())["wall_time_s"]


def _sweep_work(results: Path, benchmark: Path) -> float:
    sweep = pd.read_csv(results / "compress" / benchmark.with_suffix(".csv"))
    return float(sweep["eval_seconds"].sum())
