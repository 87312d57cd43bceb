"""``cafw tune``: every tuning choice of a config made anew and written to its tuning lock."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("tune", help="tune every replicate of a config anew (its lock "
                                         "unread), write its tuning lock and report the "
                                         "choices that moved")
    p.add_argument("--configfile", type=Path, nargs="+", default=[Path("config/config.yaml")],
                   help="pipeline config files, merged in order as Snakemake merges them")
    p.add_argument("--cores", default="all", help="snakemake --cores")
    p.add_argument("snakemake", nargs=argparse.REMAINDER,
                   help="further snakemake arguments, after --")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ..pipeline.tune import retune
    from .common import snakemake_arguments

    moved = retune(args.configfile, snakemake_arguments(args.cores, args.snakemake))
    for line in moved:
        print(f"moved: {line}")
    print(f"{len(moved)} choice{'s' if len(moved) != 1 else ''} moved; the lock is written "
          "(commit it beside the config)")
    return 0
