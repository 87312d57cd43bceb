"""``cafw lr-theory``: SFW's step-size rules on a problem with known smoothness and
diameter (``cafw.lr_theory``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("lr-theory", help="step-size rules on a problem with known "
                                              "smoothness and diameter")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--dimension", type=int, default=100)
    p.add_argument("--iterations", type=int, default=20000)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--noise", type=float, default=0.1)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ..lr_theory import run, slopes

    table = run(dimension=args.dimension, iterations=args.iterations, seeds=args.seeds,
                noise=args.noise, out=args.out)
    print("log-log slope of the best Frank-Wolfe gap against the horizon T "
          "(O(1/sqrt(T)) is -0.5):")
    print(slopes(table).round(3).to_string())
    return 0
