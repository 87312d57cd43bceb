"""``cafw bench optimizer``: SFW's step for every constraint family and ProxSGD's, relative
to SGD's (``cafw.bench.optimizer``)."""

from __future__ import annotations

import argparse

from .common import add_device, add_model, add_out, add_rounds, device, wrote


def add_parser(benchmarks: argparse._SubParsersAction) -> None:
    p = benchmarks.add_parser("optimizer", help="per-step cost of every optimizer on a model's "
                                                "parameters with real gradients")
    add_out(p)
    add_device(p)
    add_rounds(p)
    add_model(p)
    p.add_argument("--batch-size", type=int, default=128)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ...bench.optimizer import goal_report, run

    on = device(args.device)
    table = run(model_name=args.model, batch_size=args.batch_size, rounds=args.rounds,
                device=on, out=args.out)
    columns = ["method", "median_ms", "ratio_to_sgd", "ratio_to_forward_backward",
               "ops_per_step", "syncs_per_step"]
    print(table[columns].round(4).to_string(index=False))
    if on == "cpu":
        print("(host syncs on the CPU: the k-sets' top-k selection reads counts on the host,"
              " which is free there; the accelerator path has none)")
    print()
    print(goal_report(table).to_string(index=False))
    return wrote(args.out)
