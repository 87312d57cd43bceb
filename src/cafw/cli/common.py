"""What several subcommands share."""

from __future__ import annotations

import os


def snakemake_arguments(cores: str, rest: list[str]) -> list[str]:
    """Snakemake's arguments of a command that runs it: ``--cores`` and whatever followed
    ``--`` on the command line (the separator itself would end Snakemake's options)."""
    return ["--cores", str(cores), *(rest[1:] if rest[:1] == ["--"] else rest)]


def main_process() -> bool:
    """False in all but one of the processes torchrun starts, which print the same lines."""
    return os.environ.get("RANK", "0") == "0"
