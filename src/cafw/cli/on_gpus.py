"""``cafw on-gpus``: a command run on free GPUs of this host (the GPU slots of local
Snakemake runs)."""

from __future__ import annotations

import argparse


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("on-gpus", help="run a command on free GPUs of this host (GPU "
                                            "slots for local Snakemake runs)")
    p.add_argument("count", type=int, help="GPUs to take (0: run the command as it is)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="the command and its arguments")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ..gpu_slots import exec_on_gpus

    if not args.command:
        raise SystemExit("cafw on-gpus: give the command to run, e.g. "
                         "cafw on-gpus 1 cafw train ...")
    exec_on_gpus(args.count, args.command)
    return 0  # not reached: the command replaced this process
