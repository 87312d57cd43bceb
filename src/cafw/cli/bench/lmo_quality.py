"""``cafw bench lmo-quality``: how exact the spectral LMOs are along real SFW training
trajectories (``cafw.bench.lmo_quality.run``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_device, add_out, device, wrote

# The study the README reports ("Spectral LMOs: exact enough, cheap enough"), in the names of
# config/config.yaml.  Spectral family -> the SFW method whose constraint gives its k:
FAMILY_METHODS = {"nuclear": "sfw-nuclear", "spectral_k_support": "sfw-spectral-k-support"}
# setup -> its trajectories: the SFW methods trained, steps (None: the whole training run),
# batch size (None: the setup's own), and every how many steps the LMOs are timed (the
# ResNet's full SVDs dominate its time)
TRAJECTORIES = {
    "digits-cnn": {"methods": ("sfw-nuclear", "sfw-spectral-k-support")},
    "cifar-shape-resnet18": {"methods": ("sfw-spectral-k-support",), "steps": 200,
                             "batch_size": 32, "time_every": 8},
}


def add_pipeline_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pipeline-config", type=Path, default=Path("config/config.yaml"),
                   help="the pipeline config whose setups and SFW methods (learning rate, "
                        "schedule, k) are used")


def add_iterations(p: argparse.ArgumentParser) -> None:
    p.add_argument("--iterations", type=int, nargs="+",
                   help="the warm subspace iterations compared (default: 1 2 3 5)")


def add_parser(benchmarks: argparse._SubParsersAction) -> None:
    p = benchmarks.add_parser("lmo-quality", help="how exact the spectral LMOs are along real "
                                                  "SFW training runs")
    add_out(p)
    add_device(p)
    add_pipeline_config(p)
    add_iterations(p)
    p.add_argument("--setups", nargs="+", choices=TRAJECTORIES, default=list(TRAJECTORIES),
                   help="the setups whose trajectories are measured (default: all)")
    p.add_argument("--steps", type=int,
                   help="steps of every trajectory (default: the whole digits run, 200 "
                        "ResNet-18 steps)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ...bench.lmo_quality import ITERATIONS, Trajectories, run

    trajectories = [Trajectories(setup, **TRAJECTORIES[setup]) for setup in args.setups]
    table = run(args.pipeline_config, trajectories, FAMILY_METHODS, steps=args.steps,
                iterations=args.iterations or ITERATIONS, device=device(args.device),
                out=args.out)
    columns = ["setup", "trajectory", "family", "method", "iterations", "q_mean", "q_p5",
               "q_min", "samples", "time_vs_svd"]
    print(table[columns].round(4).to_string(index=False))
    return wrote(args.out)
