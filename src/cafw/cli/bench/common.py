"""The flags and the closing line that the benchmarks share."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...errors import ConfigError
from ...vocabulary import MODELS


def add_out(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help="CSV to write")


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, help="default: cuda if available, else cpu")


def add_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", choices=MODELS, default="resnet18",
                   help="the model whose parameters or layers are timed (default resnet18)")


def add_rounds(p: argparse.ArgumentParser, default: int = 7) -> None:
    p.add_argument("--rounds", type=int, default=default,
                   help=f"interleaved timing rounds (default {default})")


def add_pipeline_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pipeline-config", type=Path, default=Path("config/config.yaml"),
                   help="the pipeline config: its lmo_quality section names the study, its "
                        "setups and SFW methods give the runs (learning rate, schedule, k)")


def add_iterations(p: argparse.ArgumentParser) -> None:
    p.add_argument("--iterations", type=int, nargs="+",
                   help="the warm subspace iterations compared (default: 1 2 3 5)")


def lmo_study(pipeline_config: Path) -> dict:
    """The config's ``lmo_quality`` section: the spectral-LMO study that ``lmo-quality``
    and ``lmo-cost`` measure."""
    import yaml

    config = yaml.safe_load(Path(pipeline_config).read_text()) or {}
    if "lmo_quality" not in config:
        raise ConfigError(f"{pipeline_config} has no lmo_quality section; use a config that "
                          "has one (config/config.yaml) or add it (config/README.md)")
    return config["lmo_quality"]


def device(name: str | None) -> str:
    """``--device``, or cuda if available, else cpu."""
    if name is not None:
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def wrote(out: Path) -> int:
    """The benchmark's last line; its exit code."""
    print(f"\nwrote {out}")
    return 0
