"""``cafw bench BENCHMARK``: benchmarks that print ratios measured side by side, one
subcommand each (a module of this package named as the subcommand, the library's of the same
name in ``cafw.bench``), each writing its table to ``--out``."""

from __future__ import annotations

import argparse

from . import (
    compressed,
    compute,
    gpu,
    lmo_cost,
    lmo_quality,
    optimizer,
    startup,
    sweep,
    train,
)

BENCHMARKS = (optimizer, train, sweep, compute, compressed, startup, gpu, lmo_quality, lmo_cost)


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("bench", help="benchmarks that print ratios measured side by side")
    benchmarks = p.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    for benchmark in BENCHMARKS:
        benchmark.add_parser(benchmarks)
