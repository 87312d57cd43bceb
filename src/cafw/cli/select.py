"""``cafw select``: each tuned curve's point, chosen on validation accuracy."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("select", help="choose each tuned curve's point on validation "
                                           "accuracy (the tuning table)")
    p.add_argument("--plan", type=Path, required=True, help="one row per (curve, point, run)")
    p.add_argument("--sweeps", type=Path, nargs="*", default=[],
                   help="the tuning runs' sweeps, <run>.csv")
    p.add_argument("--out", type=Path, required=True, help="the tuning table (CSV)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..io import write_csv
    from ..pipeline.selection import select

    plan = pd.read_csv(args.plan, keep_default_na=False, na_values=[""])
    sweeps = pd.concat([pd.read_csv(f).assign(run=Path(f).stem) for f in args.sweeps],
                       ignore_index=True) if args.sweeps else pd.DataFrame(
        columns=["run", "kind", "ratio"])
    table = select(plan, sweeps)
    write_csv(table, args.out)
    chosen = table[table["selected"].astype(bool)].drop_duplicates("curve")
    print(f"{args.out}: {len(chosen)} tuned curves")
    return 0
