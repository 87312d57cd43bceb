"""``cafw cost``: the grid's jobs and GPU-hours per stage, before submitting it."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("cost", help="the grid's jobs and GPU-hours per stage, before "
                                         "submitting it")
    p.add_argument("--configfile", type=Path, nargs="+", default=[Path("config/config.yaml")],
                   help="pipeline config files, merged in order as Snakemake merges them")
    p.add_argument("--readme", type=Path,
                   help="instead, rewrite this README's paper-grid paragraph (its cost markers)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ..pipeline.cost import load, text, update_readme

    if args.readme:
        update_readme(args.readme)
        print(f"updated the paper-grid paragraph of {args.readme}")
    else:
        print(text(load(args.configfile), " + ".join(map(str, args.configfile))), end="")
    return 0
