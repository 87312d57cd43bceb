"""The command line's layout: every command's handler lives in the ``cafw.cli`` module of the
command's name, and every benchmark's in ``cafw.cli.bench`` beside its library module of the
same name in ``cafw.bench``, so a command's code is found from its name."""

import argparse
import importlib.util

from cafw.cli import build_parser


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def _module(command: str) -> str:
    return command.replace("-", "_")


def test_every_command_lives_in_the_cli_module_of_its_name():
    for name, parser in _subcommands(build_parser()).items():
        if name == "bench":  # a group: its benchmarks have the handlers
            continue
        assert parser.get_default("handler").__module__ == f"cafw.cli.{_module(name)}", name


def test_every_benchmark_has_its_cli_and_library_module_of_its_name():
    benchmarks = _subcommands(_subcommands(build_parser())["bench"])
    assert benchmarks
    for name, parser in benchmarks.items():
        assert parser.get_default("handler").__module__ == f"cafw.cli.bench.{_module(name)}"
        assert importlib.util.find_spec(f"cafw.bench.{_module(name)}"), name
