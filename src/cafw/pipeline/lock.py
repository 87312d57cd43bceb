"""The tuning lock: a config's tuning choices, recorded beside it and committed, so that a fresh
clone, on any machine, trains only the evaluation runs, at the recorded points.

The lock is the tuning table (``selection.select``) less the curves' tags: one row per tuned
curve, replicate and grid point, with the digest of the replicate's tuning runs (their resolved
configs and the study's ratios: ``grid.Grid.digests``), the point's scores, and whether it was
the replicate's choice.  The pipeline reads a replicate's choice from the lock while the grid's
digest for that replicate is the recorded one; a change of grid, seeds, epochs or anything else
the tuning runs depend on makes the replicate's tuning run again, in the pipeline.  So the lock
records results of the tuning rule, never a choice made by hand; its choices are a draw of the
protocol's randomness like any other, which the claims' intervals over the replicates cover.

``cafw tune --configfile CONFIG`` retunes every replicate without reading the lock, writes the
lock from the new tuning table and reports which choices moved.

    lock = read(path)              # the recorded rows (none if the file does not exist)
    choices(lock)                  # {(curve, replicate): (digest, point)} for grid.expand
    write(path, tuning)            # from tuning.csv
    moved(old, new)                # one line per choice that differs
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..io import write_csv
from .grid import Lock, point_text
from .selection import POINT, REPORTED, SCORES

COLUMNS = [*POINT, "digest", "seeds", *SCORES, *REPORTED, "selected"]


def read(path: str | Path | None) -> pd.DataFrame:
    """The lock's rows; none where there is no lock (``path`` None or not a file)."""
    if path is None or not Path(path).is_file():
        return pd.DataFrame(columns=COLUMNS)
    table = pd.read_csv(path, dtype={"digest": str, "point": str})
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path} is not a tuning lock (no column {missing[0]!r}); rewrite it "
                         "with `cafw tune`")
    return table


def choices(lock: pd.DataFrame) -> Lock:
    """{(curve id, replicate): (digest, chosen point)} of the lock's rows."""
    chosen = lock[lock["selected"].astype(str) == "True"]
    return {(row.curve, int(row.replicate)): (row.digest, json.loads(row.point))
            for row in chosen.itertuples()}


def write(path: str | Path, tuning: pd.DataFrame) -> None:
    """The lock of a tuning table (every row, which the tuning of ``cafw tune`` made)."""
    write_csv(tuning[COLUMNS].sort_values(POINT[:2], kind="stable"), path)


def moved(old: pd.DataFrame, new: pd.DataFrame) -> list[str]:
    """One line per (curve, replicate) whose choice differs between two locks (or tuning
    tables), in the new one's order; a replicate only one of them has counts as moved."""
    before, after = choices(old), choices(new)
    lines = []
    for key in [*after, *(k for k in before if k not in after)]:
        a, b = before.get(key, (None, None))[1], after.get(key, (None, None))[1]
        if a != b:
            lines.append(f"{key[0]} replicate {key[1]}: {_text(a)} -> {_text(b)}")
    return lines


def _text(point: dict | None) -> str:
    return "(none)" if point is None else point_text(point)
