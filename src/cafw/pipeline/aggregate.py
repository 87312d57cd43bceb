"""Collect run directories and sweep CSVs into tidy tables (results/tables/):

    training.csv             one row per run: its metrics.json (tags included)
    training_summary.csv     mean and std over runs per (setup, method, variant, schedule)
    compression.csv          one row per (study, run, kind, ratio), with the run's curve,
                             replicate and tuned point
    compression_summary.csv  mean and std over runs per (study, ..., ratio)
    history.csv              one row per (run, epoch): lr, SFW step size, Frank-Wolfe gap, ...

The manifest (one row per study x run, written from the config) says which run belongs to
which study, curve and replicate, at which tuned point; every other input is a file a
previous stage wrote, passed by path:
``<run>/metrics.json`` and ``<run>/history.csv`` of each run directory, and
``<run>.csv``, the sweeps of each run (one row per kind and ratio).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from ..io import write_csv
from ..vocabulary import (
    COMPRESSION_METRICS,
    LATENCY_COLUMN,
    PHYSICAL_COLUMNS,
    RUN_KEYS,
    SFW_KEYS,
    TRAINING_METRICS,
)


def aggregate(manifest: Path, metrics: list[Path], histories: list[Path], sweeps: list[Path],
              out: Path) -> dict[str, pd.DataFrame]:
    studies = pd.read_csv(manifest, keep_default_na=False, na_values=[""])
    keys = [k for k in RUN_KEYS + SFW_KEYS if k in studies.columns]
    run_ids = studies["run"].drop_duplicates()
    metrics_of, history_of = _by_run(metrics), _by_run(histories)
    sweep_of = {Path(p).stem: Path(p) for p in sweeps}

    training = pd.DataFrame([{"run": run, **_read_json(_file(metrics_of, run, "metrics"))}
                             for run in run_ids])
    training = _with_tags(training, studies, keys)
    history = pd.concat([pd.read_csv(_file(history_of, run, "history")).assign(run=run)
                         for run in run_ids], ignore_index=True)
    history = history.merge(studies.drop_duplicates("run")[["run", *keys, "replicate", "seed"]],
                            on="run")

    sweeps, read = [], {}
    for (run, kind), rows in studies.groupby(["run", "kind"], sort=False):
        if run not in sweep_of:
            raise ValueError(f"no sweeps of run {run} among the sweeps given")
        if run not in read:
            read[run] = pd.read_csv(sweep_of[run])
        sweep = read[run][read[run]["kind"] == kind]
        if sweep.empty:
            raise ValueError(f"{sweep_of[run]} has no {kind} sweep; run `snakemake` again, "
                             "which sweeps the run anew (the studies' kinds changed)")
        sweep = sweep[["ratio", *[c for c in sweep.columns if _measured(c)]]]
        for study in rows["study"]:
            sweeps.append(sweep.assign(study=study, kind=kind, run=run))
    compression = pd.concat(sweeps, ignore_index=True)
    compression = compression.merge(
        studies[["study", "run", "curve", "replicate", "point", *keys, "seed"]],
        on=["study", "run"])
    front = ["study", "kind", *keys, "curve", "replicate", "point", "seed", "run", "ratio"]
    compression = compression[front + [c for c in compression.columns if c not in front]]

    tables = {
        "training": training,
        "training_summary": summarize(training, keys, list(TRAINING_METRICS)),
        "compression": compression,
        "compression_summary": summarize(compression, ["study", "kind", *keys, "ratio"],
                                         list(COMPRESSION_METRICS)),
        "history": history,
    }
    for name, table in tables.items():
        write_csv(table, out / f"{name}.csv")
    return tables


def _measured(column: str) -> bool:
    """A column of a sweep that the compression table keeps, besides the ratio."""
    return (column in COMPRESSION_METRICS or column in PHYSICAL_COLUMNS
            or column in ("params", "macs", "flops", "eval_seconds", "diverged")
            or re.fullmatch(LATENCY_COLUMN, column) is not None)


def summarize(table: pd.DataFrame, by: list[str], metrics: list[str]) -> pd.DataFrame:
    """Mean, standard deviation and count over runs (``seeds``: one per evaluation seed of
    every replicate) of every metric present."""
    present = [m for m in metrics if m in table.columns and table[m].notna().any()]
    grouped = table.groupby(by, dropna=False, sort=False)[present]
    summary = grouped.agg(["mean", "std"])
    summary.columns = [f"{m}_{stat}" for m, stat in summary.columns]
    summary["seeds"] = grouped.size()
    return summary.reset_index()


def _by_run(paths: list[Path]) -> dict[str, Path]:
    """{run id: path} for files ``<run dir>/<name>``; the run id is the directory's name."""
    return {Path(p).parent.name: Path(p) for p in paths}


def _file(of: dict[str, Path], run: str, what: str) -> Path:
    if run not in of:
        raise ValueError(f"run {run} of the manifest has no {what} file among those given")
    return of[run]


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def _with_tags(training: pd.DataFrame, studies: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Identify runs by the manifest's columns (the runs' own tags can differ in type)."""
    tags = studies.drop_duplicates("run")[["run", *keys, "replicate", "seed"]]
    training = training.drop(columns=[c for c in [*keys, "replicate", "seed"]
                                      if c in training.columns])
    merged = tags.merge(training, on="run")
    return merged
