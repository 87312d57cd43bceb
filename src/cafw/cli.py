"""The ``cafw`` command line: one subcommand per pipeline stage.

Heavy imports happen inside the subcommands, so ``cafw --help`` and argument errors are fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__
from .errors import (CheckpointError, ConfigError, DatasetError, DeviceError, Interrupted,
                     StepFailed, TrainingDiverged)
from .extras import missing_extra
from .gpu_slots import NotEnoughGPUs
from .vocabulary import FIGURES, KINDS


def _train(args) -> int:
    from .spec import load_run
    from .train import checkpoint, train

    if bool(args.sweep) != bool(args.sweep_out):
        raise ConfigError("--sweep and --sweep-out go together: the kinds and ratios to "
                          "sweep, and the CSV to write them to")
    unswept = sorted(set(args.physical) - {kind for kind, _ in args.sweep})
    if unswept:
        raise ConfigError(f"--physical {' '.join(unswept)}: not swept; add --sweep "
                          f"{unswept[0]} RATIO ...")
    config = load_run(args.config)
    metrics = train(config, args.out, resume=args.resume, keep_checkpoint=bool(args.sweep))
    if _main_process():
        print(f"{args.out}: test accuracy {metrics['test_accuracy']:.4f} "
              f"({metrics['seconds_per_epoch']:.2f} s/epoch on {metrics['device']})")
        if args.sweep:
            _sweep_trained(args)
            checkpoint.discard(args.out)
    return 0


def _sweep_trained(args) -> None:
    """The compression sweeps of the run just trained, in the same process: the pipeline saves
    a process start (interpreter, torch, data) per run."""
    from .compress.sweep import sweep
    from .io import write_records

    rows = [row for kind, ratios in args.sweep
            for row in sweep(args.out, kind, ratios, physical=kind in args.physical)]
    write_records(rows, args.sweep_out)
    print(f"{args.sweep_out}: {len(rows)} rows ({', '.join(k for k, _ in args.sweep)})")


class _SweepArgument(argparse.Action):
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


def _main_process() -> bool:
    """False in all but one of the processes torchrun starts, which print the same lines."""
    return os.environ.get("RANK", "0") == "0"


def _compress(args) -> int:
    from .compress.latency import LATENCY_BATCHES
    from .compress.sweep import sweep

    rows = sweep(args.run, args.kind, args.ratios, args.out, bn_recalibration=args.bn_recalibrate,
                 physical=args.physical, save_dir=args.save, save_ratios=args.save_ratios,
                 latency_batches=args.latency_batches or LATENCY_BATCHES, device=args.device)
    columns = ["kind", "ratio", "val_accuracy", "test_accuracy", "params", "flops",
               "physical_test_accuracy", "physical_params", "physical_bytes", "saved_to"]
    columns = [c for c in columns if c in rows[0]]
    print("  ".join(columns))
    for row in rows:
        print("  ".join(f"{row[c]:.4g}" if isinstance(row[c], float) else str(row[c])
                        for c in columns))
    return 0


def _bench(args) -> int:
    import pandas as pd

    pd.set_option("display.width", 200)
    args.device = args.device or ("cuda" if _has_cuda() else "cpu")
    if args.what == "optimizer":
        from .bench.optimizer import goal_report, run

        table = run(model_name=args.model, batch_size=args.batch_size or 128, rounds=args.rounds,
                    device=args.device, out=args.out)
        columns = ["method", "median_ms", "ratio_to_sgd", "ratio_to_forward_backward",
                   "ops_per_step", "syncs_per_step"]
        print(table[columns].round(4).to_string(index=False))
        if args.device == "cpu":
            print("(host syncs on the CPU: the k-sets' top-k selection reads counts on the host,"
                  " which is free there; the accelerator path has none)")
        print()
        print(goal_report(table).to_string(index=False))
    elif args.what == "train":
        from .bench.training import run

        table = run(batch_size=args.batch_size or 128, rounds=args.rounds, device=args.device,
                    out=args.out)
        print(table.round(4).to_string(index=False))
    elif args.what == "sweep":
        from .bench.sweep import run

        table = run(model=args.model, train_size=args.train_size,
                    batch_size=args.batch_size or 128,
                    device=args.device, out=args.out)
        print(table.round(3).to_string(index=False))
        print(f"\ngoal: a {table['ratios'].iloc[0]}-ratio sweep costs <= 1.5 training epochs")
    elif args.what == "compute":
        from .bench.compute import run

        table = run(args.config, steps=args.steps or 10, rounds=args.rounds, out=args.out,
                    rounds_out=args.rounds_out)
        print(table.round(4).to_string(index=False))
    elif args.what == "lmo-quality":
        from .bench.lmo_quality import ITERATIONS, run

        table = run(args.pipeline_config, setups=args.setups, steps=args.steps,
                    iterations=args.iterations or ITERATIONS, device=args.device, out=args.out)
        columns = ["setup", "trajectory", "family", "method", "iterations", "q_mean", "q_p5",
                   "q_min", "samples", "time_vs_svd"]
        print(table[columns].round(4).to_string(index=False))
    elif args.what == "lmo-cost":
        from .bench.lmo_quality import ITERATIONS, cost

        table = cost(args.pipeline_config, iterations=args.iterations or ITERATIONS,
                     batch_size=args.batch_size or 32,
                     steps=args.steps or 2, rounds=args.rounds, device=args.device,
                     out=args.out)
        print(table.drop(columns=["device"]).round(4).to_string(index=False))
    elif args.what == "startup":
        from .bench.startup import split
        from .io import write_csv

        table = split(args.results)
        write_csv(table, args.out)
        print(table.round(3).to_string(index=False))
    elif args.what == "compressed":
        from .bench.compressed import run
        from .compress.latency import LATENCY_BATCHES

        table = run(model=args.model, kind=args.kind, ratio=args.ratio,
                    batches=args.latency_batches or LATENCY_BATCHES, rounds=args.rounds,
                    device=args.device, out=args.out)
        print(table.round(3).to_string(index=False))
    elif args.what == "gpu":
        from .bench.gpu_check import run

        table = run(args.tests, args.paper_config, out=args.out)
        print(f"GPU readiness: {table['device'].iloc[0]}, torch {table['torch'].iloc[0]}\n")
        print(table.drop(columns=["device", "torch"]).to_string(index=False))
        print(f"\nwrote {args.out}")
        return int((table["status"] == "FAILED").any())
    print(f"\nwrote {args.out}")
    return 0


def _aggregate(args) -> int:
    from .pipeline.aggregate import aggregate

    tables = aggregate(args.manifest, args.metrics, args.history, args.sweeps, args.out)
    for name, table in tables.items():
        print(f"{args.out / (name + '.csv')}: {len(table)} rows")
    return 0


def _select(args) -> int:
    import pandas as pd

    from .io import write_csv
    from .pipeline.selection import select

    plan = pd.read_csv(args.plan, keep_default_na=False, na_values=[""])
    sweeps = pd.concat([pd.read_csv(f).assign(run=Path(f).stem) for f in args.sweeps],
                       ignore_index=True) if args.sweeps else pd.DataFrame(
        columns=["run", "kind", "ratio"])
    table = select(plan, sweeps)
    write_csv(table, args.out)
    chosen = table[table["selected"].astype(bool)].drop_duplicates("curve")
    print(f"{args.out}: {len(chosen)} tuned curves")
    return 0


def _claims(args) -> int:
    import pandas as pd
    import yaml

    from .io import write_csv
    from .pipeline.claims import claims

    spec = yaml.safe_load(args.spec.read_text()) or {}
    rounds = pd.read_csv(args.compute_rounds) if args.compute_rounds else None
    table = claims(spec, pd.read_csv(args.compression), pd.read_csv(args.training), rounds)
    write_csv(table, args.out)
    for row in table.itertuples():
        print(f"{row.claim} {row.setup} {row.measure}: {row.effect:+.4g} [{row.ci_low:+.4g}, "
              f"{row.ci_high:+.4g}] over {row.samples} {row.unit} -> {row.verdict} "
              f"(claim: {row.claim_verdict})")
    return 0


def _stability(args) -> int:
    from .pipeline.stability import ROUNDING, STABILITY, run, run_rounding

    snakemake = ["--cores", str(args.cores), *args.snakemake]
    if args.rounding:
        table, written = run_rounding(args.configfile, snakemake), ROUNDING
        sets = ("kernels_a", "kernels_b")
    else:
        table, written = run(args.configfile, args.seed_offset, snakemake), STABILITY
        sets = ("seeds_a", "seeds_b")
    for row in table.to_dict("records"):
        same = "same" if row["same_verdict"] else "DIFFERENT"
        pair = f" {row['pair']}:" if row["pair"] else ""
        print(f"{row['claim']} {row['setup']}{pair} {row['measure']}: {row[sets[0]]} "
              f"{row['verdict_a']}, {row[sets[1]]} {row['verdict_b']} ({same})")
    print(f"wrote {written} of the config's output_dir")
    return 0


def _figure(args) -> int:
    from .pipeline.figures import draw

    draw(args.kind, args.tables, args.out, study=args.study, setup=args.setup)
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")
    return 0


def _lr_theory(args) -> int:
    from .lr_theory import run, slopes

    table = run(dimension=args.dimension, iterations=args.iterations, seeds=args.seeds,
                noise=args.noise, out=args.out)
    print("log-log slope of the best Frank-Wolfe gap against the horizon T "
          "(O(1/sqrt(T)) is -0.5):")
    print(slopes(table).round(3).to_string())
    return 0


def _paper(args) -> int:
    from .pipeline.paper import InputError, generate

    try:
        paths = generate(args.tables, args.figures, args.out)
    except InputError as err:
        print(f"cafw paper: {err}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"wrote {path}")
    return 0


def _on_gpus(args) -> int:
    from .gpu_slots import exec_on_gpus

    if not args.command:
        raise SystemExit("cafw on-gpus: give the command to run, e.g. cafw on-gpus 1 cafw train ...")
    exec_on_gpus(args.count, args.command)
    return 0  # not reached: the command replaced this process


def _schema(args) -> int:
    from .io import write_yaml
    from .spec import json_schema

    write_yaml(args.out, json_schema())
    print(f"wrote {args.out}")
    return 0


def _readme(args) -> int:
    from .pipeline.paper.readme import update

    update(args.outputs, args.readme)
    print(f"updated the results section of {args.readme} from {', '.join(map(str, args.outputs))}")
    return 0


def _cost(args) -> int:
    from .pipeline.cost import load, text, update_readme

    if args.readme:
        update_readme(args.readme)
        print(f"updated the paper-grid paragraph of {args.readme}")
    else:
        print(text(load(args.configfile), " + ".join(map(str, args.configfile))), end="")
    return 0


def _doctor(args) -> int:
    from .doctor import run

    return run(args)


def _data(args) -> int:
    from .data import download

    download(args.name, args.root)
    print(f"{args.name} is ready under {args.root}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cafw", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"cafw {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("train", help="train one run into a directory (under torchrun: "
                                          "on every process it starts)")
    p.add_argument("--config", required=True, type=Path, help="run config (YAML)")
    p.add_argument("--out", required=True, type=Path, help="run directory")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/checkpoint.pt if present (a finished run is kept)")
    p.add_argument("--sweep", nargs="+", action=_SweepArgument, default=[],
                   metavar=("KIND", "RATIO"),
                   help="then sweep the trained model's compression at these ratios, in the "
                        "same process (repeatable, one kind each; see `cafw compress`)")
    p.add_argument("--physical", nargs="+", choices=KINDS, default=[], metavar="KIND",
                   help="the swept kinds that also build the deployable model at every ratio")
    p.add_argument("--sweep-out", type=Path, metavar="CSV",
                   help="the sweeps' rows, every kind in one CSV")
    p.set_defaults(handler=_train)

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
    p.set_defaults(handler=_compress)

    p = commands.add_parser("bench", help="benchmarks that print ratios measured side by side")
    p.add_argument("what", choices=["optimizer", "train", "sweep", "compute", "compressed",
                                    "startup", "gpu", "lmo-quality", "lmo-cost"])
    p.add_argument("--out", type=Path, required=True, help="CSV to write")
    p.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    p.add_argument("--model", default="resnet18")
    p.add_argument("--batch-size", type=int,
                   help="default 128; lmo-cost: 32 (the ResNet-18 trajectories' batch)")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--config", type=Path,
                   help="compute: YAML mapping method -> run config (one setup)")
    p.add_argument("--rounds-out", type=Path,
                   help="compute: CSV of every round's step times (the ratios' intervals)")
    p.add_argument("--steps", type=int,
                   help="compute, lmo-cost: training steps per round (default 10, 2); "
                        "lmo-quality: steps of every trajectory (default: the whole digits "
                        "run, 200 ResNet-18 steps)")
    p.add_argument("--train-size", type=int, default=1000,
                   help="sweep: training images (the test set is a fifth, as CIFAR's)")
    p.add_argument("--results", type=Path, default=Path("results"),
                   help="startup: the results folder of a finished pipeline run")
    p.add_argument("--kind", choices=["filter", "lowrank"], default="filter",
                   help="compressed: physically pruned filters or a factorised low-rank model")
    p.add_argument("--ratio", type=float, default=0.5, help="compressed: compression ratio")
    p.add_argument("--latency-batches", type=int, nargs="+", metavar="B",
                   help="compressed: batch sizes timed (default: 1 256)")
    p.add_argument("--tests", type=Path,
                   help="gpu: JUnit XML report of `pytest -m cuda` (scripts/gpu-check.sh)")
    p.add_argument("--paper-config", type=Path, default=Path("config/paper.yaml"),
                   help="gpu: the pipeline config whose compute methods are timed")
    p.add_argument("--pipeline-config", type=Path, default=Path("config/config.yaml"),
                   help="lmo-quality, lmo-cost: the pipeline config whose setups and SFW "
                        "methods (learning rate, schedule, k) are used")
    p.add_argument("--setups", nargs="+", choices=["digits-cnn", "cifar-shape-resnet18"],
                   help="lmo-quality: the setups whose trajectories are measured (default: both)")
    p.add_argument("--iterations", type=int, nargs="+",
                   help="lmo-quality, lmo-cost: the warm subspace iterations compared "
                        "(default: 1 2 3 5)")
    p.set_defaults(handler=_bench)

    p = commands.add_parser("aggregate", help="collect runs and sweeps into tidy tables")
    p.add_argument("--manifest", type=Path, required=True, help="study x run table")
    p.add_argument("--metrics", type=Path, nargs="+", required=True,
                   help="each run's metrics.json (its directory's name is the run id)")
    p.add_argument("--history", type=Path, nargs="+", required=True,
                   help="each run's history.csv")
    p.add_argument("--sweeps", type=Path, nargs="+", required=True,
                   help="each run's sweeps, <run>.csv")
    p.add_argument("--out", type=Path, required=True, help="directory for the tables")
    p.set_defaults(handler=_aggregate)

    p = commands.add_parser("select", help="choose each tuned curve's point on validation "
                                           "accuracy (the tuning table)")
    p.add_argument("--plan", type=Path, required=True, help="one row per (curve, point, run)")
    p.add_argument("--sweeps", type=Path, nargs="*", default=[],
                   help="the tuning runs' sweeps, <run>.csv")
    p.add_argument("--out", type=Path, required=True, help="the tuning table (CSV)")
    p.set_defaults(handler=_select)

    p = commands.add_parser("claims", help="check the paper's claims on the runs")
    p.add_argument("--spec", type=Path, required=True, help="the config's claims (YAML)")
    p.add_argument("--compression", type=Path, required=True, help="compression.csv")
    p.add_argument("--training", type=Path, required=True,
                   help="training.csv (for claims about convergence)")
    p.add_argument("--compute-rounds", type=Path,
                   help="compute_rounds.csv (for claims about compute)")
    p.add_argument("--out", type=Path, required=True, help="claims.csv")
    p.set_defaults(handler=_claims)

    p = commands.add_parser("stability", help="rerun the claims with a disjoint set of seeds "
                                              "(or other rounding) and write both verdicts "
                                              "side by side")
    p.add_argument("--configfile", type=Path, default=Path("config/config.yaml"))
    rerun = p.add_mutually_exclusive_group()
    rerun.add_argument("--seed-offset", type=int, default=1000,
                       help="added to every seed, the tuning seeds included (default 1000)")
    rerun.add_argument("--rounding", action="store_true",
                       help="rerun the same seeds with the CPU kernels of a lower instruction "
                            "set instead (other rounding) and write rounding.csv")
    p.add_argument("--cores", default="all", help="snakemake --cores")
    p.add_argument("snakemake", nargs=argparse.REMAINDER,
                   help="further snakemake arguments, after --")
    p.set_defaults(handler=_stability)

    p = commands.add_parser("figure", help="draw one figure (PDF and PNG) from the tables")
    p.add_argument("kind", choices=FIGURES)
    p.add_argument("--tables", type=Path, nargs="+", required=True,
                   help="the aggregated tables (CSV) the figure reads")
    p.add_argument("--out", type=Path, required=True, help="the PDF (a PNG is written beside)")
    p.add_argument("--study")
    p.add_argument("--setup")
    p.set_defaults(handler=_figure)

    p = commands.add_parser("lr-theory", help="step-size rules on a problem with known "
                                              "smoothness and diameter")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--dimension", type=int, default=100)
    p.add_argument("--iterations", type=int, default=20000)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--noise", type=float, default=0.1)
    p.set_defaults(handler=_lr_theory)

    p = commands.add_parser("paper", help="facts.json and the generated LaTeX of paper/main.tex")
    p.add_argument("--tables", type=Path, nargs="+", required=True,
                   help="the aggregated tables (CSV) the paper reads, found by file name")
    p.add_argument("--figures", type=Path, nargs="*", default=[],
                   help="the figures (PDF) to include, captioned by their file names")
    p.add_argument("--out", type=Path, required=True, help="directory (paper/generated)")
    p.set_defaults(handler=_paper)

    p = commands.add_parser("readme", help="regenerate the README's results section")
    p.add_argument("--outputs", type=Path, nargs="+", default=[Path(".")],
                   help="the output_dir of each config to show, side by side (each holds "
                        "paper/generated/facts.json and, from cafw stability, "
                        "results/tables/stability.csv)")
    p.add_argument("--readme", type=Path, default=Path("README.md"))
    p.set_defaults(handler=_readme)

    p = commands.add_parser("on-gpus", help="run a command on free GPUs of this host (GPU "
                                            "slots for local Snakemake runs)")
    p.add_argument("count", type=int, help="GPUs to take (0: run the command as it is)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="the command and its arguments")
    p.set_defaults(handler=_on_gpus)

    p = commands.add_parser("schema", help="write the run part of the workflow schema")
    p.add_argument("--out", type=Path, default=Path("workflow/schemas/run.schema.yaml"))
    p.set_defaults(handler=_schema)

    p = commands.add_parser("cost", help="the grid's jobs and GPU-hours per stage, before "
                                         "submitting it")
    p.add_argument("--configfile", type=Path, nargs="+", default=[Path("config/config.yaml")],
                   help="pipeline config files, merged in order as Snakemake merges them")
    p.add_argument("--readme", type=Path,
                   help="instead, rewrite this README's paper-grid paragraph (its cost markers)")
    p.set_defaults(handler=_cost)

    p = commands.add_parser("doctor", help="check this machine against what a config's grid "
                                           "needs (a preflight)")
    from .doctor import add_arguments

    add_arguments(p)
    p.set_defaults(handler=_doctor)

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
    def report(message: str) -> None:
        if _main_process():
            print(f"cafw: {message}", file=sys.stderr)

    try:
        return args.handler(args)
    except ModuleNotFoundError as err:
        missing = missing_extra(err)
        if missing is None:
            raise
        print(f"cafw {args.command}: {missing}", file=sys.stderr)
        return 1
    except ConfigError as err:
        report(f"invalid configuration: {err}")
        return 2
    except (DatasetError, DeviceError, CheckpointError, TrainingDiverged, NotEnoughGPUs,
            StepFailed) as err:
        report(str(err))
        return 1
    except Interrupted as err:
        report(str(err))
        return err.exit_code or 1


if __name__ == "__main__":
    sys.exit(main())
