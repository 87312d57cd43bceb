"""The files of a run directory: its config, resume checkpoint, trained weights and metrics,
written atomically, read with weights_only=True, and reported clearly when missing or
corrupt.

    run.yaml       the run config, every default filled in (the only config of the run)
    checkpoint.pt  resume state while training; deleted when the run finishes
    model.pt       the trained weights (state_dict)
    history.csv    one row per finished epoch, rewritten after each
    metrics.json   final metrics; written last, so it marks a finished run
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from ..errors import CheckpointError
from ..io import atomic_write, write_yaml
from ..spec import RunSpec, load_run

RUN_CONFIG = "run.yaml"
CHECKPOINT = "checkpoint.pt"
WEIGHTS = "model.pt"
HISTORY = "history.csv"
METRICS = "metrics.json"


def save(path: Path, state: dict) -> None:
    # temp file + rename: a kill mid-write leaves the old file intact
    atomic_write(path, lambda f: torch.save(state, f), binary=True)


def discard(run_dir: Path) -> None:
    """Delete the resume checkpoint of a finished run."""
    (Path(run_dir) / CHECKPOINT).unlink(missing_ok=True)


def load(path: Path, what: str, remedy: str) -> dict:
    """``torch.load(path, weights_only=True)``, turning every failure into one message."""
    if not path.is_file():
        raise CheckpointError(f"{what} {path} does not exist; {remedy}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as err:
        raise CheckpointError(f"{what} {path} is corrupt or not a PyTorch file "
                              f"({type(err).__name__}: {str(err).splitlines()[0][:200]}); "
                              f"{remedy}") from None


def load_metrics(path: Path) -> dict:
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path} is unreadable ({err}); delete it to train the run "
                              "again") from None


def write_run_config(out: Path, spec: RunSpec) -> None:
    """``out/run.yaml`` for ``spec``, unless it already says exactly that (the pipeline
    writes it before training; rewriting an input would look like a change to Snakemake)."""
    path = out / RUN_CONFIG
    if path.is_file():
        try:
            if load_run(path) == spec:
                return
        except ValueError:
            pass  # not a valid config: replaced below
    write_yaml(path, spec.to_dict())


def read_finished(run_dir: Path) -> tuple[RunSpec, dict, dict]:
    """The config, metrics and trained weights of a finished run of ``cafw train``."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory {run_dir} does not exist")
    for name in (METRICS, RUN_CONFIG):
        if not (run_dir / name).is_file():
            raise CheckpointError(f"{run_dir} is not a finished run of `cafw train` (no "
                                  f"{name}); train it first")
    metrics = load_metrics(run_dir / METRICS)
    spec = load_run(run_dir / RUN_CONFIG)
    state = load(run_dir / WEIGHTS, "trained weights", "train the run again")
    return spec, metrics, state
