"""``cafw doctor``: this machine checked against what a config's grid needs (a preflight;
``cafw.doctor``)."""

from __future__ import annotations

import argparse


def add_parser(commands: argparse._SubParsersAction) -> None:
    from ..doctor import add_arguments

    p = commands.add_parser("doctor", help="check this machine against what a config's grid "
                                           "needs (a preflight)")
    add_arguments(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ..doctor import run

    return run(args)
