"""``cafw select``: each tuned curve's point in each replicate, chosen on validation accuracy."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("select", help="choose each tuned curve's point in each replicate "
                                           "on validation accuracy (the tuning table)")
    p.add_argument("--plan", type=Path, required=True,
                   help="one row per (curve, replicate, point, run)")
    p.add_argument("--sweeps", type=Path, nargs="*", default=[],
                   help="the tuning runs' sweeps, <run>.csv")
    p.add_argument("--lock", type=Path,
                   help="the tuning lock: its choices stand in for the runs they were made from")
    p.add_argument("--out", type=Path, required=True, help="the tuning table (CSV)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..io import write_csv
    from ..pipeline import lock
    from ..pipeline.selection import FLAGS, select

    plan = pd.read_csv(args.plan, keep_default_na=False, na_values=[""],
                       dtype={"digest": str, "point": str})
    sweeps = pd.concat([pd.read_csv(f).assign(run=Path(f).stem) for f in args.sweeps],
                       ignore_index=True) if args.sweeps else pd.DataFrame(
        columns=["run", "kind", "ratio", "val_accuracy", "test_accuracy"])
    table = select(plan, sweeps, lock.read(args.lock))
    write_csv(table, args.out)
    chosen = table[table["selected"].astype(bool)]
    print(f"{args.out}: {chosen['curve'].nunique()} tuned curves, {len(chosen)} choices "
          f"(one per replicate)")
    for curve, flags in chosen.drop_duplicates("curve")[["curve", "pooled_flags"]].itertuples(
            index=False):
        if flags:
            where = " and ".join(FLAGS[flag] for flag in flags.split(","))
            print(f"flagged: {curve}: its best point over the replicates is {where}; extend "
                  "or refine its grid")
    return 0
