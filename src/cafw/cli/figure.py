"""``cafw figure``: one figure (PDF and PNG) drawn from the tables."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..vocabulary import CHARTS


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("figure", help="draw one figure (PDF and PNG) from the tables")
    p.add_argument("chart", choices=CHARTS, help="the type of figure")
    p.add_argument("--tables", type=Path, nargs="+", required=True,
                   help="the aggregated tables (CSV) the figure reads")
    p.add_argument("--out", type=Path, required=True, help="the PDF (a PNG is written beside)")
    p.add_argument("--study")
    p.add_argument("--setup")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ..pipeline.figures import draw

    draw(args.chart, args.tables, args.out, study=args.study, setup=args.setup)
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")
    return 0
