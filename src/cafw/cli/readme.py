"""``cafw readme``: the README's results section, regenerated."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("readme", help="regenerate the README's results section")
    p.add_argument("--outputs", type=Path, nargs="+", default=[Path(".")],
                   help="the output_dir of each config to show, side by side (each holds "
                        "paper/generated/facts.json and, from cafw stability, "
                        "results/tables/stability.csv)")
    p.add_argument("--readme", type=Path, default=Path("README.md"))
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ..pipeline.paper.readme import update

    update(args.outputs, args.readme)
    print(f"updated the results section of {args.readme} from {', '.join(map(str, args.outputs))}")
    return 0
