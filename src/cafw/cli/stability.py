"""``cafw stability``: the claims rerun with other seeds (or other rounding), both verdicts
side by side."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("stability", help="rerun the claims with a disjoint set of seeds "
                                              "(or other rounding) and write both verdicts "
                                              "side by side")
    p.add_argument("--configfile", type=Path, default=Path("config/config.yaml"))
    rerun = p.add_mutually_exclusive_group()
    rerun.add_argument("--seed-offset", type=int, default=1000,
                       help="added to every seed, the tuning seeds included (default 1000)")
    rerun.add_argument("--rounding", action="store_true",
                       help="rerun the same seeds with the CPU kernels of a lower instruction "
                            "set instead (other rounding) and write rounding.csv")
    p.add_argument("--cores", default="all", help="snakemake --cores")
    p.add_argument("snakemake", nargs=argparse.REMAINDER,
                   help="further snakemake arguments, after --")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ..pipeline.stability import ROUNDING, STABILITY, run, run_rounding

    snakemake = ["--cores", str(args.cores), *args.snakemake]
    if args.rounding:
        table, written = run_rounding(args.configfile, snakemake), ROUNDING
        sets = ("kernels_a", "kernels_b")
    else:
        table, written = run(args.configfile, args.seed_offset, snakemake), STABILITY
        sets = ("seeds_a", "seeds_b")
    for row in table.to_dict("records"):
        same = "same" if row["same_verdict"] else "DIFFERENT"
        pair = f" {row['pair']}:" if row["pair"] else ""
        print(f"{row['claim']} {row['setup']}{pair} {row['measure']}: {row[sets[0]]} "
              f"{row['verdict_a']}, {row[sets[1]]} {row['verdict_b']} ({same})")
    print(f"wrote {written} of the config's output_dir")
    return 0
