"""``cafw cost``: the grid's jobs and GPU-hours per stage, before submitting it."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("cost", help="the grid's jobs and GPU-hours per stage, before "
                                         "submitting it")
    p.add_argument("--configfile", type=Path, nargs="+", default=[Path("config/config.yaml")],
                   help="pipeline config files, merged in order as Snakemake merges them")
    p.add_argument("--docs", action="store_true",
                   help="instead, rewrite the paper-grid paragraph of the docs page that states "
                        "the paper grids' cost (docs/cluster.md; run in the repository)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ..pipeline.cost import PAGE, load, text, update_page

    if args.docs:
        update_page()
        print(f"updated the paper-grid paragraph of {PAGE}")
    else:
        print(text(load(args.configfile), " + ".join(map(str, args.configfile))), end="")
    return 0
