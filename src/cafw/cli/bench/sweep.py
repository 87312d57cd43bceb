"""``cafw bench sweep``: a compression sweep's time relative to a training epoch
(``cafw.bench.sweep``)."""

from __future__ import annotations

import argparse

from .common import add_device, add_model, add_out, device, wrote


def add_parser(benchmarks: argparse._SubParsersAction) -> None:
    p = benchmarks.add_parser("sweep", help="a compression sweep relative to a training epoch")
    add_out(p)
    add_device(p)
    add_model(p)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--train-size", type=int, default=1000,
                   help="training images (the test set is a fifth, as CIFAR's)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ...bench.sweep import run

    table = run(model=args.model, train_size=args.train_size, batch_size=args.batch_size,
                device=device(args.device), out=args.out)
    print(table.round(3).to_string(index=False))
    print(f"\ngoal: a {table['ratios'].iloc[0]}-ratio sweep costs <= 1.5 training epochs")
    return wrote(args.out)
