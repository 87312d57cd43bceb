"""``cafw claims``: the paper's claims checked on the runs."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("claims", help="check the paper's claims on the runs")
    p.add_argument("--protocol", type=Path, required=True,
                   help="the config's claims and its protocol hash (YAML)")
    p.add_argument("--compression", type=Path, required=True, help="compression.csv")
    p.add_argument("--training", type=Path, required=True,
                   help="training.csv (for claims about convergence)")
    p.add_argument("--tuning", type=Path, required=True,
                   help="tuning.csv (a side of several curves takes the best tuned one)")
    p.add_argument("--compute-rounds", type=Path,
                   help="compute_rounds.csv (for claims about compute)")
    p.add_argument("--out", type=Path, required=True, help="claims.csv")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import pandas as pd
    import yaml

    from ..io import write_csv
    from ..pipeline.claims import claims

    protocol = yaml.safe_load(args.protocol.read_text()) or {}
    rounds = pd.read_csv(args.compute_rounds) if args.compute_rounds else None
    tuning = pd.read_csv(args.tuning, keep_default_na=False, na_values=[""])
    table = claims(protocol.get("claims", {}), pd.read_csv(args.compression),
                   pd.read_csv(args.training), tuning, rounds, protocol.get("protocol", ""))
    write_csv(table, args.out)
    for row in table.itertuples():
        print(f"{row.claim} {row.setup} {row.pair or ''} {row.measure}: {row.effect:+.4g} "
              f"[{row.ci_low:+.4g}, {row.ci_high:+.4g}] over {row.samples} {row.unit} -> "
              f"{row.verdict} (claim: {row.claim_verdict})")
    return 0
