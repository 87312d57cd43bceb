"""Snakemake run as a subprocess by the commands that drive the whole pipeline (``cafw tune``,
``cafw stability``): one command line, printed, and one clear error if it fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..errors import StepFailed


def run_snakemake(targets: list[str], configfiles: list[Path], snakemake_args: list[str], *,
                  overrides: tuple[str, ...] = (), variables: dict[str, str] | None = None,
                  what: str = "the pipeline") -> None:
    """``snakemake TARGETS --configfile CONFIGFILES [--config OVERRIDES] ARGS`` in this
    directory, with ``variables`` added to the environment."""
    config = ["--config", *overrides] if overrides else []
    command = [sys.executable, "-m", "snakemake", *targets, "--configfile",
               *map(str, configfiles), *config, *snakemake_args]
    variables = variables or {}
    print("$", *(f"{k}={v}" for k, v in variables.items()), " ".join(command), flush=True)
    if subprocess.run(command, env={**os.environ, **variables}).returncode:
        raise StepFailed(f"snakemake failed for {what} (its output is above); fix that, then "
                         "rerun: what finished is kept")
