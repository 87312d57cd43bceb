"""``cafw schema``: the run part of the workflow's config schema, from ``cafw.spec``."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("schema", help="write the run part of the workflow schema")
    p.add_argument("--out", type=Path, default=Path("workflow/schemas/run.schema.yaml"))
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ..io import write_yaml
    from ..spec import json_schema

    write_yaml(args.out, json_schema())
    print(f"wrote {args.out}")
    return 0
