"""``cafw bench compressed``: latency of physically compressed models against the dense one
(``cafw.bench.compressed``)."""

from __future__ import annotations

import argparse

from ...vocabulary import PHYSICAL_KINDS
from .common import add_device, add_model, add_out, add_rounds, device, wrote


def add_parser(benchmarks: argparse._SubParsersAction) -> None:
    p = benchmarks.add_parser("compressed", help="latency of a physically compressed model "
                                                 "against the dense one")
    add_out(p)
    add_device(p)
    add_rounds(p)
    add_model(p)
    p.add_argument("--kind", choices=PHYSICAL_KINDS, default="filter",
                   help="physically pruned filters or a factorised low-rank model")
    p.add_argument("--ratio", type=float, default=0.5, help="compression ratio")
    p.add_argument("--latency-batches", type=int, nargs="+", metavar="B",
                   help="batch sizes timed (default: 1 256)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ...bench.compressed import run
    from ...compress.latency import LATENCY_BATCHES

    table = run(model=args.model, kind=args.kind, ratio=args.ratio,
                batches=args.latency_batches or LATENCY_BATCHES, rounds=args.rounds,
                device=device(args.device), out=args.out)
    print(table.round(3).to_string(index=False))
    return wrote(args.out)
