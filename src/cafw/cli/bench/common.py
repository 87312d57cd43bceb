"""The flags and the closing line that the benchmarks share."""

from __future__ import annotations

import argparse
from pathlib import Path

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
