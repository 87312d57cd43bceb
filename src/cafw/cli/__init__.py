"""The ``cafw`` command line: one subcommand per pipeline stage.

Each subcommand is a module of this package with ``add_parser(commands)``, which adds its
parser and its handler; ``COMMANDS`` lists them in the order ``cafw --help`` shows them.
Heavy imports happen inside the handlers, so ``cafw --help`` and argument errors are fast.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..errors import (
    CheckpointError,
    ConfigError,
    DatasetError,
    DeviceError,
    Interrupted,
    StepFailed,
    TrainingDiverged,
)
from ..extras import missing_extra
from ..gpu_slots import NotEnoughGPUs
from . import (
    aggregate,
    bench,
    claims,
    compress,
    cost,
    data,
    doctor,
    figure,
    lr_theory,
    on_gpus,
    paper,
    readme,
    schema,
    select,
    stability,
    train,
    tune,
)
from .common import main_process

COMMANDS = (train, compress, bench, aggregate, select, tune, claims, stability, figure,
            lr_theory, paper, readme, on_gpus, schema, cost, doctor, data)

# failures that a message explains: the command prints it and exits with 1
EXPLAINED_ERRORS = (DatasetError, DeviceError, CheckpointError, TrainingDiverged, NotEnoughGPUs,
            StepFailed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cafw", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"cafw {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None, warm: bool = True) -> int:
    """Run ``cafw argv``: in a child of the warm server where one runs (``cafw.warm``; not
    with ``warm=False``), else here."""
    argv = sys.argv[1:] if argv is None else argv
    if warm:
        from ..warm import run_warm

        code = run_warm(argv)
        if code is not None:
            return code
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ModuleNotFoundError as err:
        missing = missing_extra(err)
        if missing is None:
            raise
        print(f"cafw {args.command}: {missing}", file=sys.stderr)
        return 1
    except ConfigError as err:
        _report(f"invalid configuration: {err}")
        return 2
    except EXPLAINED_ERRORS as err:
        _report(str(err))
        return 1
    except Interrupted as err:
        _report(str(err))
        return err.exit_code or 1


def _report(message: str) -> None:
    """One line on stderr, from the main process only (under torchrun all fail alike)."""
    if main_process():
        print(f"cafw: {message}", file=sys.stderr)
