"""``cafw bench BENCHMARK``: benchmarks that print ratios measured side by side, one
subcommand each (a module of this package, the library's in ``cafw.bench``), each writing
its table to ``--out``."""

from __future__ import annotations

import argparse

from . import (
    compressed,
    compute,
    gpu_check,
    lmo_cost,
    lmo_quality,
    optimizer,
    startup,
    sweep,
    training,
)

BENCHMARKS = (optimizer, training, sweep, compute, compressed, startup, gpu_check, lmo_quality,
              lmo_cost)


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("bench", help="benchmarks that print ratios measured side by side")
    benchmarks = p.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    for benchmark in BENCHMARKS:
        benchmark.add_parser(benchmarks)
