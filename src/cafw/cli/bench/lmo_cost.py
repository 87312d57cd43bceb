"""``cafw bench lmo-cost``: what each number of warm subspace iterations costs, against the
proximal method's full SVDs (``cafw.bench.lmo_quality.cost``)."""

from __future__ import annotations

import argparse

from .common import add_device, add_out, add_rounds, device, wrote
from .lmo_quality import add_iterations, add_pipeline_config


def add_parser(benchmarks: argparse._SubParsersAction) -> None:
    p = benchmarks.add_parser("lmo-cost", help="the optimizer and training steps of SFW "
                                               "spectral-k-support per number of LMO rounds, "
                                               "against ProxSGD's")
    add_out(p)
    add_device(p)
    add_rounds(p)
    add_pipeline_config(p)
    add_iterations(p)
    p.add_argument("--setup", default="cifar-shape-resnet18",
                   help="the config's setup (or benchmark setup) timed")
    p.add_argument("--sfw-method", default="sfw-spectral-k-support",
                   help="the config's SFW method, timed with each number of --iterations")
    p.add_argument("--reference", default="prox-sgd", metavar="METHOD",
                   help="the config's method the ratios are taken to")
    p.add_argument("--baseline", default="sgd", metavar="METHOD",
                   help="the config's method timed besides (it also computes the gradients)")
    p.add_argument("--batch-size", type=int, default=32,
                   help="default: 32, the ResNet-18 trajectories' batch")
    p.add_argument("--steps", type=int, default=2, help="training steps per round")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ...bench.lmo_quality import ITERATIONS, cost

    table = cost(args.pipeline_config, args.setup, baseline=args.baseline,
                 reference=args.reference, sfw=args.sfw_method,
                 iterations=args.iterations or ITERATIONS, batch_size=args.batch_size,
                 steps=args.steps, rounds=args.rounds, device=device(args.device), out=args.out)
    print(table.drop(columns=["device"]).round(4).to_string(index=False))
    return wrote(args.out)
