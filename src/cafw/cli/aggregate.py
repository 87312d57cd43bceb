"""``cafw aggregate``: the runs and sweeps collected into tidy tables."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("aggregate", help="collect runs and sweeps into tidy tables")
    p.add_argument("--manifest", type=Path, required=True, help="study x run table")
    p.add_argument("--metrics", type=Path, nargs="+", required=True,
                   help="each run's metrics.json (its directory's name is the run id)")
    p.add_argument("--history", type=Path, nargs="+", required=True,
                   help="each run's history.csv")
    p.add_argument("--sweeps", type=Path, nargs="+", required=True,
                   help="each run's sweeps, <run>.csv")
    p.add_argument("--out", type=Path, required=True, help="directory for the tables")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ..pipeline.aggregate import aggregate

    tables = aggregate(args.manifest, args.metrics, args.history, args.sweeps, args.out)
    for name, table in tables.items():
        print(f"{args.out / (name + '.csv')}: {len(table)} rows")
    return 0
