"""``cafw stability``: the claims rerun with a second, disjoint replicate set (or other
rounding), both verdicts side by side, with the share of measures whose intervals overlap."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("stability", help="rerun the claims with a disjoint replicate set "
                                              "(tuning included) or other rounding, and write "
                                              "both verdicts side by side")
    p.add_argument("--configfile", type=Path, nargs="+", default=[Path("config/config.yaml")],
                   help="pipeline config files, merged in order as Snakemake merges them")
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
    from ..pipeline.stability import ROUNDING, STABILITY, overlap_share, run, run_rounding
    from .common import snakemake_arguments

    snakemake = snakemake_arguments(args.cores, args.snakemake)
    if args.rounding:
        import torch  # the kernels this CPU runs; the pipeline itself needs no torch

        capability = torch.backends.cpu.get_cpu_capability()
        table, written = run_rounding(args.configfile, snakemake, capability), ROUNDING
        sets = ("kernels_a", "kernels_b")
    else:
        table, written = run(args.configfile, args.seed_offset, snakemake), STABILITY
        sets = ("evaluation_seeds_a", "evaluation_seeds_b")
    for row in table.to_dict("records"):
        same = "same" if row["same_verdict"] else "DIFFERENT"
        pair = f" {row['pair']}:" if row["pair"] else ""
        print(f"{row['claim']} {row['setup']}{pair} {row['measure']}: {row[sets[0]]} "
              f"{row['verdict_a']}, {row[sets[1]]} {row['verdict_b']} ({same}"
              f"{'' if row['overlap'] else ', intervals apart'})")
    claims = table.drop_duplicates(["claim", "setup"])
    print(f"claims with the same verdict: {claims['same_claim_verdict'].sum()} of "
          f"{len(claims)}; measures whose intervals overlap: {overlap_share(table):.0%} of "
          f"{len(table)}")
    print(f"wrote {written} of the config's output_dir")
    return 0
