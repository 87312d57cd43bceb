"""Atomic file writes: a reader (or a job killed half-way) never sees a partial file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import yaml


@contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> IO:
    """Write to a temporary file beside ``path`` and rename it over ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, write: Callable[[IO], None], binary: bool = False) -> None:
    with atomic_open(path, "wb" if binary else "w") as handle:
        write(handle)


def write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text))


def write_json(path: str | Path, data: dict) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_yaml(path: str | Path, data: dict) -> None:
    write_text(path, yaml.safe_dump(data, sort_keys=False))


def write_csv(frame, path: str | Path) -> None:
    atomic_write(path, lambda f: frame.to_csv(f, index=False))


def save_torch(obj, path: str | Path) -> None:
    import torch

    atomic_write(path, lambda f: torch.save(obj, f), binary=True)
