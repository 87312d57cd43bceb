"""``cafw bench lmo-quality``: how exact the spectral LMOs are along real SFW training
trajectories (``cafw.bench.lmo_quality``), as the pipeline config's ``lmo_quality``
section names them."""

from __future__ import annotations

import argparse

from ...errors import ConfigError
from .common import (
    add_device,
    add_iterations,
    add_out,
    add_pipeline_config,
    device,
    lmo_study,
    wrote,
)


def add_parser(benchmarks: argparse._SubParsersAction) -> None:
    p = benchmarks.add_parser("lmo-quality", help="how exact the spectral LMOs are along real "
                                                  "SFW training runs")
    add_out(p)
    add_device(p)
    add_pipeline_config(p)
    add_iterations(p)
    p.add_argument("--setups", nargs="+", metavar="SETUP",
                   help="the setups whose trajectories are measured (default: all of "
                        "lmo_quality.trajectories)")
    p.add_argument("--steps", type=int,
                   help="steps of every trajectory (default: lmo_quality.trajectories)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ...bench.lmo_quality import ITERATIONS, Trajectories, run

    section = lmo_study(args.pipeline_config)
    trajectories = section["trajectories"]
    unknown = set(args.setups or ()) - set(trajectories)
    if unknown:
        raise ConfigError(f"--setups {', '.join(sorted(unknown))}: not in lmo_quality."
                          f"trajectories; choose from {', '.join(trajectories)}")
    measured = [Trajectories(setup, **{**trajectories[setup],
                                       "methods": tuple(trajectories[setup]["methods"])})
                for setup in args.setups or trajectories]
    table = run(args.pipeline_config, measured, section["families"], steps=args.steps,
                iterations=args.iterations or ITERATIONS, device=device(args.device),
                out=args.out)
    columns = ["setup", "trajectory", "family", "method", "iterations", "q_mean", "q_p5",
               "q_min", "samples", "time_vs_svd"]
    print(table[columns].round(4).to_string(index=False))
    return wrote(args.out)
