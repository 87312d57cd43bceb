"""The ``cafw`` command line: one subcommand per pipeline stage.

Heavy imports happen inside the subcommands, so ``cafw --help`` and argument errors are fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _train(args) -> int:
    from .train import load_config, train

    config = load_config(args.config)
    metrics = train(config, args.out, resume=args.resume)
    print(f"{args.out}: test accuracy {metrics['test_accuracy']:.4f} "
          f"({metrics['seconds_per_epoch']:.2f} s/epoch on {metrics['device']})")
    return 0


def _compress(args) -> int:
    from .compress.sweep import sweep

    frame = sweep(args.run, args.kind, args.ratios, args.out, bn_recalibration=args.bn_recalibrate,
                  physical=args.physical, device=args.device)
    print(frame[["kind", "ratio", "test_accuracy", "params", "flops"]].to_string(index=False))
    return 0


def _bench(args) -> int:
    import pandas as pd

    pd.set_option("display.width", 200)
    if args.what == "optimizer":
        from .bench.optimizer import goal_report, run

        table = run(model_name=args.model, batch_size=args.batch_size, rounds=args.rounds,
                    device=args.device, out=args.out)
        columns = ["method", "median_ms", "ratio_to_sgd", "ratio_to_forward_backward",
                   "ops_per_step", "syncs_per_step"]
        print(table[columns].round(4).to_string(index=False))
        print()
        print(goal_report(table).to_string(index=False))
    else:
        from .bench.training import run

        table = run(batch_size=args.batch_size, rounds=args.rounds, device=args.device,
                    out=args.out)
        print(table.round(4).to_string(index=False))
    print(f"\nwrote {args.out}")
    return 0


def _data(args) -> int:
    from .data import download

    download(args.name, args.root)
    print(f"{args.name} is ready under {args.root}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cafw", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("train", help="train one run into a directory")
    p.add_argument("--config", required=True, type=Path, help="run config (YAML)")
    p.add_argument("--out", required=True, type=Path, help="run directory")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/checkpoint.pt if present (a finished run is kept)")
    p.set_defaults(handler=_train)

    p = commands.add_parser("compress", help="one-shot compression sweep of a trained run")
    p.add_argument("--run", required=True, type=Path, help="run directory of `cafw train`")
    p.add_argument("--kind", required=True, choices=["filter", "lowrank", "unstructured"])
    p.add_argument("--ratios", required=True, type=float, nargs="+",
                   help="compression ratios in [0, 1)")
    p.add_argument("--out", required=True, type=Path, help="CSV to write")
    p.add_argument("--bn-recalibrate", action="store_true",
                   help="also report accuracy after recomputing BatchNorm statistics")
    p.add_argument("--physical", action="store_true",
                   help="also build the physically smaller model (filter pruning) and time it")
    p.add_argument("--device", default="auto")
    p.set_defaults(handler=_compress)

    p = commands.add_parser("bench", help="benchmarks that print ratios measured side by side")
    p.add_argument("what", choices=["optimizer", "train"])
    p.add_argument("--out", type=Path, required=True, help="CSV to write")
    p.add_argument("--device", default="cuda" if _has_cuda() else "cpu")
    p.add_argument("--model", default="resnet18")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--rounds", type=int, default=7)
    p.set_defaults(handler=_bench)

    p = commands.add_parser("data", help="dataset utilities")
    p.add_argument("action", choices=["download"])
    p.add_argument("name")
    p.add_argument("--root", type=Path, default=Path("data"))
    p.set_defaults(handler=_data)
    return parser


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .data import DatasetError
    from .train import CheckpointError, ConfigError, Interrupted, TrainingDiverged

    try:
        return args.handler(args)
    except ConfigError as err:
        print(f"cafw: invalid configuration: {err}", file=sys.stderr)
        return 2
    except (DatasetError, CheckpointError, TrainingDiverged) as err:
        print(f"cafw: {err}", file=sys.stderr)
        return 1
    except Interrupted as err:
        print(f"cafw: {err}", file=sys.stderr)
        return err.exit_code or 1


if __name__ == "__main__":
    sys.exit(main())
