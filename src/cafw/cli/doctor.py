"""``cafw doctor``: this machine checked against what a config's grid needs (a preflight;
the checks are ``cafw.doctor``'s)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("doctor", help="check this machine against what a config's grid "
                                           "needs (a preflight)")
    p.add_argument("--configfile", type=Path, nargs="+", default=[Path("config/config.yaml")],
                   help="pipeline config files, merged in order as Snakemake merges them")
    p.add_argument("--workflow-profile", type=Path, metavar="DIR",
                   help="the Snakemake profile the grid will run with: a Slurm one adds the "
                        "Slurm checks")
    p.add_argument("--requirement", type=Path, metavar="YAML",
                   help="check one setup's requirement instead (the pipeline's preflight job: "
                        "results/preflight/<setup>.yaml)")
    p.add_argument("--steps", type=int, default=5, help="timed training steps (default 5)")
    p.add_argument("--out", type=Path, help="also write the report to this file")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Print the report (and write it to ``--out``); exit with 1 if a check failed."""
    from ..doctor import FAILED, render, run_checks
    from ..io import write_text

    checks = run_checks(args.configfile, args.workflow_profile, args.requirement, args.steps)
    report = render(checks)
    print(report, end="")
    if args.out:
        write_text(args.out, report)
    return int(any(check.status == FAILED for check in checks))
