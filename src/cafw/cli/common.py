"""What several subcommands share."""

from __future__ import annotations

import os


def main_process() -> bool:
    """False in all but one of the processes torchrun starts, which print the same lines."""
    return os.environ.get("RANK", "0") == "0"
