"""``cafw bench lmo-cost``: what each number of warm subspace iterations costs, against the
proximal method's full SVDs (``cafw.bench.lmo_cost``); the methods and the setup are
the pipeline config's ``lmo_quality.cost`` unless a flag names others."""

from __future__ import annotations

import argparse

from .common import (
    add_device,
    add_iterations,
    add_out,
    add_pipeline_config,
    add_rounds,
    device,
    lmo_study,
    wrote,
)


def add_parser(benchmarks: argparse._SubParsersAction) -> None:
    p = benchmarks.add_parser("lmo-cost", help="the optimizer and training steps of SFW "
                                               "spectral-k-support per number of LMO rounds, "
                                               "against ProxSGD's")
    add_out(p)
    add_device(p)
    add_rounds(p)
    add_pipeline_config(p)
    add_iterations(p)
    p.add_argument("--setup", help="the config's setup timed (default: lmo_quality.cost)")
    p.add_argument("--sfw-method", help="the config's SFW method, timed with each number of "
                                        "--iterations (default: lmo_quality.cost.sfw)")
    p.add_argument("--reference", metavar="METHOD", help="the config's method the ratios are "
                                                         "taken to (default: lmo_quality.cost)")
    p.add_argument("--baseline", metavar="METHOD", help="the config's method timed besides; it "
                                                        "also computes the gradients (default: "
                                                        "lmo_quality.cost)")
    p.add_argument("--batch-size", type=int, help="default: lmo_quality.cost.batch_size")
    p.add_argument("--steps", type=int, default=2, help="training steps per round")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ...bench.lmo_cost import run
    from ...bench.lmo_quality import ITERATIONS

    chosen = lmo_study(args.pipeline_config)["cost"]
    table = run(args.pipeline_config, args.setup or chosen["setup"],
                 baseline=args.baseline or chosen["baseline"],
                 reference=args.reference or chosen["reference"],
                 sfw=args.sfw_method or chosen["sfw"],
                 iterations=args.iterations or ITERATIONS,
                 batch_size=args.batch_size or chosen["batch_size"], steps=args.steps,
                 rounds=args.rounds, device=device(args.device), out=args.out)
    print(table.drop(columns=["device"]).round(4).to_string(index=False))
    return wrote(args.out)
