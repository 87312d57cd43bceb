"""``cafw bench startup``: the training jobs' time split into process start and training
(``cafw.bench.startup``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_out, wrote


def add_parser(benchmarks: argparse._SubParsersAction) -> None:
    p = benchmarks.add_parser("startup", help="the training jobs' start-up share of their time")
    add_out(p)
    p.add_argument("--results", type=Path, default=Path("results"),
                   help="the results folder of a finished pipeline run")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ...bench.startup import split
    from ...io import write_csv

    table = split(args.results)
    write_csv(table, args.out)
    print(table.round(3).to_string(index=False))
    return wrote(args.out)
