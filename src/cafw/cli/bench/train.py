"""``cafw bench train``: training throughput, this project's input pipeline against the
reference's, and the optimizer's share of a step (``cafw.bench.train``)."""

from __future__ import annotations

import argparse

from .common import add_device, add_out, add_rounds, device, wrote


def add_parser(benchmarks: argparse._SubParsersAction) -> None:
    p = benchmarks.add_parser("train", help="training throughput: the input pipelines and "
                                            "the optimizer's share of a step")
    add_out(p)
    add_device(p)
    add_rounds(p)
    p.add_argument("--batch-size", type=int, default=128)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ...bench.train import run

    table = run(batch_size=args.batch_size, rounds=args.rounds, device=device(args.device),
                out=args.out)
    print(table.round(4).to_string(index=False))
    return wrote(args.out)
