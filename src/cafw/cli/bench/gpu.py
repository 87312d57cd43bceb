"""``cafw bench gpu``: GPU readiness in one table (``cafw.bench.gpu``,
scripts/gpu-check.sh); exits with 1 if a check failed."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_out, wrote


def add_parser(benchmarks: argparse._SubParsersAction) -> None:
    p = benchmarks.add_parser("gpu", help="GPU readiness: the CUDA tests, SFW steps, epochs, "
                                          "the compute comparison and DDP")
    add_out(p)
    p.add_argument("--tests", type=Path,
                   help="JUnit XML report of `pytest -m cuda` (scripts/gpu-check.sh)")
    p.add_argument("--paper-config", type=Path, default=Path("config/paper.yaml"),
                   help="the pipeline config whose compute methods are timed")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ...bench.gpu import run

    table = run(args.tests, args.paper_config, out=args.out)
    print(f"GPU readiness: {table['device'].iloc[0]}, torch {table['torch'].iloc[0]}\n")
    print(table.drop(columns=["device", "torch"]).to_string(index=False))
    wrote(args.out)
    return int((table["status"] == "FAILED").any())
