"""Atomic file writes: a reader (or a job killed half-way) never sees a partial file."""

from __future__ import annotations

import csv
import json
import math
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
    # mkstemp makes the file private (0600); a result is as readable as open() would make it,
    # for the group that shares a cluster's results
    os.fchmod(fd, 0o666 & ~_umask())
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[IO], None], binary: bool = False) -> None:
    with atomic_open(path, "wb" if binary else "w") as handle:
        write(handle)


def write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text))


def write_bytes(path: str | Path, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data), binary=True)


def write_section(path: str | Path, name: str, start: str, end: str, body: str) -> None:
    """Replace the text between the marker lines ``start`` and ``end`` of a file (a README's
    generated section ``name``) with ``body``."""
    text = Path(path).read_text()
    if start not in text or end not in text:
        raise ValueError(f"{path} has no {name} section: add the lines {start} and {end} "
                         "where it should go")
    head, rest = text.split(start, 1)
    write_text(path, f"{head}{start}\n{body}{end}{rest.split(end, 1)[1]}")


def write_json(path: str | Path, data: dict) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_yaml(path: str | Path, data: dict) -> None:
    write_text(path, yaml.safe_dump(data, sort_keys=False))


def write_csv(frame, path: str | Path) -> None:
    atomic_write(path, lambda f: frame.to_csv(f, index=False))


def write_rows(rows: list[dict], path: str | Path, columns: list[str] | None = None) -> None:
    """A table of rows (dicts, or sequences in the order of ``columns``) as a CSV.  ``columns``
    is the header of a table without rows, which readers still parse by name."""
    import pandas as pd  # the [train] extra: only the workflow's tables need it

    write_csv(pd.DataFrame(rows, columns=None if rows else columns), path)


def write_records(records: list[dict], path: str | Path) -> None:
    """Rows of a table as CSV, columns in order of first appearance, without pandas (a
    training or sweep job would otherwise import it only to write its last file).  Missing
    values and NaN are written empty, as pandas writes them."""
    columns = list(dict.fromkeys(key for record in records for key in record))

    def cell(value):
        return "" if value is None or (isinstance(value, float) and math.isnan(value)) else value

    def write(handle):
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([cell(record.get(c)) for c in columns] for record in records)

    atomic_write(path, write)

