"""``cafw train``: one run into a directory, optionally followed by its compression sweeps."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from ..vocabulary import KINDS
from .common import main_process


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("train", help="train one run into a directory (under torchrun: "
                                          "on every process it starts)")
    p.add_argument("--config", required=True, type=Path, help="run config (YAML)")
    p.add_argument("--out", required=True, type=Path, help="run directory")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/checkpoint.pt if present (a finished run is kept)")
    p.add_argument("--sweep", nargs="+", action=SweepArgument, default=[],
                   metavar=("KIND", "RATIO"),
                   help="then sweep the trained model's compression at these ratios, in the "
                        "same process (repeatable, one kind each; see `cafw compress`)")
    p.add_argument("--physical", nargs="+", choices=KINDS, default=[], metavar="KIND",
                   help="the swept kinds that also build the deployable model at every ratio")
    p.add_argument("--sweep-out", type=Path, metavar="CSV",
                   help="the sweeps' rows, every kind in one CSV")
    p.add_argument("--latency-batches", type=int, nargs="+", metavar="B",
                   help="batch sizes of the physical sweeps' latency columns (default: 1 256)")
    p.add_argument("--record-divergence", action="store_true",
                   help="a training loss that becomes NaN or infinite ends the run as a "
                        "finished one with the scores of a model that learned nothing, "
                        "instead of an error (the pipeline's tuning grids reach it)")
    p.set_defaults(handler=handle)


class SweepArgument(argparse.Action):
    """``--sweep KIND RATIO [RATIO ...]``, repeatable: a list of (kind, ratios)."""

    def __call__(self, parser, namespace, values, option_string=None):
        kind, *ratios = values
        if kind not in KINDS:
            parser.error(f"{option_string}: unknown kind {kind!r}; choose one of "
                         f"{', '.join(KINDS)}")
        try:
            ratios = [float(r) for r in ratios]
        except ValueError:
            parser.error(f"{option_string} {kind}: the ratios must be numbers, got {ratios}")
        if not ratios:
            parser.error(f"{option_string} {kind}: give at least one ratio")
        getattr(namespace, self.dest).append((kind, ratios))


def handle(args: argparse.Namespace) -> int:
    from ..spec import load_run
    from ..train import checkpoint, train

    if bool(args.sweep) != bool(args.sweep_out):
        raise ConfigError("--sweep and --sweep-out go together: the kinds and ratios to "
                          "sweep, and the CSV to write them to")
    unswept = sorted(set(args.physical) - {kind for kind, _ in args.sweep})
    if unswept:
        raise ConfigError(f"--physical {' '.join(unswept)}: not swept; add --sweep "
                          f"{unswept[0]} RATIO ...")
    config = load_run(args.config)
    metrics = train(config, args.out, resume=args.resume, keep_checkpoint=bool(args.sweep),
                    record_divergence=args.record_divergence)
    if main_process():
        diverged = f", diverged in {metrics['diverged']}" if "diverged" in metrics else ""
        print(f"{args.out}: test accuracy {metrics['test_accuracy']:.4f} "
              f"({metrics['seconds_per_epoch']:.2f} s/epoch on {metrics['device']}{diverged})")
        if args.sweep:
            _sweep_trained(args)
            checkpoint.discard(args.out)
    return 0


def _sweep_trained(args: argparse.Namespace) -> None:
    """The compression sweeps of the run just trained, in the same process: the pipeline saves
    a process start (interpreter, torch, data) per run."""
    from ..compress.latency import LATENCY_BATCHES
    from ..compress.sweep import sweep
    from ..io import write_records

    batches = args.latency_batches or LATENCY_BATCHES
    rows = [row for kind, ratios in args.sweep
            for row in sweep(args.out, kind, ratios, physical=kind in args.physical,
                             latency_batches=batches)]
    write_records(rows, args.sweep_out)
    print(f"{args.sweep_out}: {len(rows)} rows ({', '.join(k for k, _ in args.sweep)})")
