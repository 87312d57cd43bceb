"""Accuracy against compression ratio, the building block of every study's facts.

A *stat* is the mean, standard deviation and number of runs (``seeds``: one per evaluation seed
of every replicate) of an accuracy (a fraction) in compression_summary.csv, as plain data; its
std is None with a single run.  A
``MeasuredCurve`` is what one curve of a study on a setup (``cafw.pipeline.grid.Curve``: a
method with its schedule, variant and SFW settings) measured.  The text quotes
one ratio, the *headline*: 50 % compression, or the nearest ratio that every curve has.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...vocabulary import CURVE_KEYS, SFW_KEYS
from .tables import InputError

HEADLINE = 0.5
KEYS = (*CURVE_KEYS, *SFW_KEYS)  # tell a study's curves on one setup apart


def stat(row: pd.Series, metric: str) -> dict | None:
    mean, std, seeds = row[f"{metric}_mean"], row[f"{metric}_std"], int(row["seeds"])
    if pd.isna(mean):
        return None
    return {"mean": float(mean), "std": float(std) if seeds > 1 and pd.notna(std) else None,
            "seeds": seeds}


@dataclass(frozen=True, eq=False)
class MeasuredCurve:
    keys: dict  # KEYS -> value
    rows: pd.DataFrame  # its compression_summary rows, by ratio

    def __getitem__(self, key: str):
        return self.keys[key]

    @property
    def sfw(self) -> bool:
        return bool(self["family"])

    def at(self, ratio: float, split: str = "test") -> dict | None:
        """The accuracy at ``ratio`` on the test split (reported) or the validation split
        (what every choice among curves reads)."""
        hit = self.rows[np.isclose(self.rows["ratio"], ratio)]
        return stat(hit.iloc[0], f"{split}_accuracy") if len(hit) else None

    def dense(self) -> dict | None:
        return stat(self.rows.iloc[0], "dense_test_accuracy")

    def identity(self) -> dict:
        """The keys as plain data: k and value None where the method has none."""
        return {key: None if pd.isna(v) else float(v) if key in ("k", "value") else v
                for key, v in self.keys.items()} | {"sfw": self.sfw}

    def summary(self, ratio: float) -> dict:
        """Who it is, and its accuracy dense and at ``ratio``: what a finding quotes."""
        return {**self.identity(), "dense": self.dense(), "compressed": self.at(ratio)}


def curves_of(rows: pd.DataFrame, methods: list[str]) -> list[MeasuredCurve]:
    """The curves in ``rows`` (one study on one setup), in the order of ``methods``."""
    groups = rows.groupby(list(KEYS), sort=False, dropna=False)
    curves = [MeasuredCurve(dict(zip(KEYS, values)), group.sort_values("ratio"))
              for values, group in groups]
    return sorted(curves, key=lambda c: methods.index(c["method"]))


def nearest(ratios: list[float], target: float) -> float:
    return min(ratios, key=lambda r: (abs(r - target), r))


def compressed_ratios(curves: list[MeasuredCurve]) -> list[float]:
    """The ratios > 0 that every curve has (all ratios > 0 when none is common)."""
    sets = [{round(r, 9) for r in c.rows["ratio"] if r > 0} for c in curves]
    return sorted(set.intersection(*sets) or set.union(*sets))


def headline(curves: list[MeasuredCurve]) -> float:
    ratios = compressed_ratios(curves)
    if not ratios:
        rows = curves[0].rows.iloc[0]
        raise InputError(f"compression_summary.csv: study {rows['study']!r} on setup "
                         f"{rows['setup']!r} has no compression ratio above 0 to report")
    return nearest(ratios, HEADLINE)


def section(type_: str, curves: list[MeasuredCurve], ratio: float, ratios: list[float],
            group=lambda curve: None) -> dict:
    """The facts every study has: which study, setup and kind, its headline ``ratio``, and
    its table: each curve with its cells (dense, then at each of ``ratios``), the best cell of
    each column within a ``group`` flagged as the highest *shown* mean (percent, one
    decimal), so that of two numbers that print alike neither is bold alone."""
    first = curves[0].rows.iloc[0]
    rows = [{**c.identity(), "cells": [c.dense(), *(c.at(r) for r in ratios)]} for c in curves]
    for key in dict.fromkeys(map(group, curves)):
        members = [row for row, c in zip(rows, curves) if group(c) == key]
        for column in range(1 + len(ratios)):
            cells = [m["cells"][column] for m in members if m["cells"][column] is not None]
            best = max(round(100 * c["mean"], 1) for c in cells) if len(cells) > 1 else None
            for cell in cells:
                cell["best"] = round(100 * cell["mean"], 1) == best
    seeds = sorted({int(s) for c in curves for s in c.rows["seeds"]})
    return {"type": type_, "id": f"{first['study']}__{first['setup']}", "study": first["study"],
            "setup": first["setup"], "kind": first["kind"], "dataset": first["dataset"],
            "model": first["model"], "ratio": ratio, "ratios": ratios, "seeds": seeds,
            "curves": rows}
