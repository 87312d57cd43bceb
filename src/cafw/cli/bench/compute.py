"""``cafw bench compute``: the training step of each method of one setup, timed in
interleaved rounds (``cafw.bench.compute``; the pipeline's compute comparison)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_out, add_rounds, wrote


def add_parser(benchmarks: argparse._SubParsersAction) -> None:
    p = benchmarks.add_parser("compute", help="training steps of each method of one setup, "
                                              "relative to a baseline method's")
    add_out(p)
    add_rounds(p)
    p.add_argument("--config", type=Path, required=True,
                   help="YAML {setup, methods: {method: {label, run}}, baseline}: the run "
                        "configs of one setup (the pipeline writes it)")
    p.add_argument("--baseline", metavar="METHOD",
                   help="the method the step times are relative to (default: the config's "
                        "'baseline')")
    p.add_argument("--steps", type=int, default=10, help="training steps per round")
    p.add_argument("--rounds-out", type=Path,
                   help="CSV of every round's step times (the ratios' intervals)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ...bench.compute import run

    table = run(args.config, baseline=args.baseline, steps=args.steps, rounds=args.rounds,
                out=args.out, rounds_out=args.rounds_out)
    print(table.round(4).to_string(index=False))
    return wrote(args.out)
