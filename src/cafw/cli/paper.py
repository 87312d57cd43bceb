"""``cafw paper``: facts.json and the generated LaTeX of paper/main.tex."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("paper", help="facts.json and the generated LaTeX of paper/main.tex")
    p.add_argument("--tables", type=Path, nargs="+", required=True,
                   help="the aggregated tables (CSV) the paper reads, found by file name")
    p.add_argument("--figures", type=Path, nargs="*", default=[],
                   help="the figures (PDF) to include, captioned by their file names")
    p.add_argument("--out", type=Path, required=True, help="directory (paper/generated)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ..pipeline.paper import InputError, generate

    try:
        paths = generate(args.tables, args.figures, args.out)
    except InputError as err:
        print(f"cafw paper: {err}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"wrote {path}")
    return 0
