"""``cafw compress``: the one-shot compression sweep of a trained run."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..vocabulary import KINDS

# the columns printed, those of the sweep's rows in this order
SWEEP_COLUMNS = ("kind", "ratio", "val_accuracy", "test_accuracy", "params", "flops",
           "physical_test_accuracy", "physical_params", "physical_bytes", "saved_to")


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("compress", help="one-shot compression sweep of a trained run")
    p.add_argument("--run", required=True, type=Path, help="run directory of `cafw train`")
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("--ratios", required=True, type=float, nargs="+",
                   help="compression ratios in [0, 1)")
    p.add_argument("--out", required=True, type=Path, help="CSV to write")
    p.add_argument("--bn-recalibrate", action="store_true",
                   help="also report accuracy after recomputing BatchNorm statistics")
    p.add_argument("--physical", action="store_true",
                   help="also build the deployable model at every ratio (filter: physically "
                        "pruned, needs the [prune] extra; lowrank: factorised) and report its "
                        "parameters, FLOPs, bytes, accuracy and latency")
    p.add_argument("--save", type=Path, metavar="DIR",
                   help="write the compressed model of each saved ratio to DIR/<kind>-<ratio>/ "
                        "(model.pt and spec.json; cafw.compress.load_compressed reads it)")
    p.add_argument("--save-ratios", type=float, nargs="+", metavar="RATIO",
                   help="the ratios to save (default with --save: every ratio)")
    p.add_argument("--latency-batches", type=int, nargs="+", metavar="B",
                   help="batch sizes of the latency columns (default: 1 256)")
    p.add_argument("--device", help="default: the run's own (its run.yaml)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ..compress.latency import LATENCY_BATCHES
    from ..compress.sweep import sweep

    rows = sweep(args.run, args.kind, args.ratios, args.out, bn_recalibration=args.bn_recalibrate,
                 physical=args.physical, save_dir=args.save, save_ratios=args.save_ratios,
                 latency_batches=args.latency_batches or LATENCY_BATCHES, device=args.device)
    columns = [c for c in SWEEP_COLUMNS if c in rows[0]]
    print("  ".join(columns))
    for row in rows:
        print("  ".join(f"{row[c]:.4g}" if isinstance(row[c], float) else str(row[c])
                        for c in columns))
    return 0
