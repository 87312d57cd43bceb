"""Cost of a compression sweep relative to one training epoch (goal:
a 20-ratio sweep should cost at most 1.5 epochs).

A run is trained for one epoch on CIFAR-shaped random data with CIFAR's 5:1 train/test split
(scaled down by ``train_size``, which leaves the ratio of the two costs unchanged), then every
kind is swept over 20 ratios; both times come from this process.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pandas as pd

from ..compress.sweep import sweep
from ..io import write_csv
from ..spec import load_run
from ..train import train
from ..train.checkpoint import METRICS
from ..vocabulary import KINDS

RATIOS = [round(0.05 * i, 2) for i in range(20)]


def run(model: str = "resnet18", train_size: int = 1000, batch_size: int = 128,
        device: str = "auto", out: Path | None = None) -> pd.DataFrame:
    config = load_run({
        "dataset": "synthetic", "model": model, "epochs": 1, "batch_size": batch_size,
        "device": device, "dataset_options": {"shape": [3, 32, 32], "train_size": train_size,
                                              "test_size": train_size // 5,
                                              "augment": "crop_flip"},
        "optimizer": {"name": "sgd", "lr": 0.05}})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        train(config, run_dir, log=lambda line: None)
        epoch_seconds = json.loads((run_dir / METRICS).read_text())["seconds_per_epoch"]
        for kind in KINDS:
            start = time.perf_counter()
            sweep(run_dir, kind, RATIOS, Path(tmp) / f"{kind}.csv", device=device)
            seconds = time.perf_counter() - start
            rows.append({"kind": kind, "ratios": len(RATIOS), "sweep_seconds": seconds,
                         "epoch_seconds": epoch_seconds,
                         "epochs_per_sweep": seconds / epoch_seconds,
                         "model": model, "train_size": train_size, "test_size": train_size // 5})
    table = pd.DataFrame(rows)
    if out is not None:
        write_csv(table, out)
    return table
