"""``cafw data``: dataset utilities."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("data", help="dataset utilities")
    p.add_argument("action", choices=["download"])
    p.add_argument("name")
    p.add_argument("--root", type=Path, default=Path("data"))
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ..data import download

    download(args.name, args.root)
    print(f"{args.name} is ready under {args.root}")
    return 0
