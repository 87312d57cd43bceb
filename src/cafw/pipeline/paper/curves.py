"""Accuracy against compression ratio, per method and setup, from compression_summary.csv.

A ``Stat`` is a mean and standard deviation over seeds of one accuracy, with the table, row and
columns it was read from (numbers.tex quotes that source beside every macro).  A ``Curve`` is one
method (and schedule, variant) on one setup of a study.  "SFW keeps more accuracy than SGD"
compares the accuracies after compression; a difference is called "within one standard
deviation" when it is smaller than the larger of the two.  The text quotes one ratio, the
*headline*: 50% compression, or the nearest ratio that every curve of the study has.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .context import Context, Study
from .latex import Macros
from .prose import signed

HEADLINE = 0.5  # the ratio quoted in the text: 50% compression, or the nearest ratio swept
CURVE_KEYS = ("method", "label", "schedule", "variant", "family", "rescale", "k", "value")
RESCALE_ORDER = ("gradient", "fast_gradient", "diameter", "none")


@dataclass(frozen=True)
class Stat:
    """Mean and standard deviation over seeds of an accuracy (a fraction)."""

    mean: float
    std: float
    seeds: int
    source: str  # table, row and columns it was read from

    @classmethod
    def of(cls, row: pd.Series, metric: str, where: str) -> Stat | None:
        mean = row.get(f"{metric}_mean", math.nan)
        if pd.isna(mean):
            return None
        seeds = row.get("seeds", 1)
        seeds = int(seeds) if pd.notna(seeds) else 1
        return cls(float(mean), float(row.get(f"{metric}_std", math.nan)), seeds,
                   f"{where}: {metric}_mean/_std")

    @property
    def spread(self) -> bool:
        return self.seeds >= 2 and math.isfinite(self.std)

    @property
    def shown(self) -> float:
        """The mean in percent as printed (one decimal): ties and bold are decided on it."""
        return round(100 * self.mean, 1)

    def tex(self) -> str:
        """Math-mode text: '97.0 \\pm 0.2' (percent), or '97.0' without a spread."""
        text = f"{100 * self.mean:.1f}"
        return text + (f" \\pm {100 * self.std:.1f}" if self.spread else "")

    def macro(self) -> str:
        """The value of its macro in numbers.tex."""
        return f"\\ensuremath{{{self.tex()}}}"

    def inline(self) -> str:
        return f"${self.tex()}$\\,\\%"


def beats(a: Stat, b: Stat) -> tuple[bool, bool]:
    """(a's mean above b's, the difference within one standard deviation)."""
    diff = a.mean - b.mean
    sds = [s.std for s in (a, b) if s.spread]
    return diff > 0, bool(sds) and abs(diff) < max(sds)


def versus(a: Stat, b: Stat, unit: str) -> tuple[bool, str]:
    """(a's mean above b's, '(+1.2 <unit>, within one standard deviation)'): the difference
    a minus b in percentage points, as the findings state it."""
    above, within = beats(a, b)
    return above, (f"({signed(100 * (a.mean - b.mean))} {unit}"
                   f"{', within one standard deviation' if within else ''})")


def dense_clause(stat: Stat | None) -> str:
    return f" (dense: {stat.inline()})" if stat is not None else ""


@dataclass
class Curve:
    """Accuracy against compression ratio of one method (and schedule, variant) on one setup."""

    study: str
    setup: str
    keys: dict  # the CURVE_KEYS present: method, label, schedule, variant, family, ...
    rows: pd.DataFrame  # compression_summary rows, sorted by ratio

    method = property(lambda self: str(self.keys.get("method", "")))
    label = property(lambda self: str(self.keys.get("label", "")))
    schedule = property(lambda self: str(self.keys.get("schedule", "")))
    variant = property(lambda self: str(self.keys.get("variant", "")))
    rescale = property(lambda self: str(self.keys.get("rescale", "")))

    @property
    def sfw(self) -> bool:
        return bool(self.keys.get("family"))

    @property
    def ratios(self) -> list[float]:
        return [float(r) for r in self.rows["ratio"]]

    def _where(self, ratio: float | None = None) -> str:
        keys = ", ".join(f"{k}={v}" for k, v in self.keys.items()
                         if k in ("method", "schedule", "variant") and v != "")
        at = f", ratio={ratio:g}" if ratio is not None else ""
        return f"compression_summary.csv study={self.study}, setup={self.setup}, {keys}{at}"

    def at(self, ratio: float) -> Stat | None:
        hit = self.rows[np.isclose(self.rows["ratio"].astype(float), ratio)]
        if hit.empty:
            return None
        return Stat.of(hit.iloc[0], "test_accuracy", self._where(ratio))

    def dense(self) -> Stat | None:
        first = self.rows.iloc[0]
        if pd.notna(first.get("dense_test_accuracy_mean", math.nan)):
            return Stat.of(first, "dense_test_accuracy", self._where())
        return self.at(0.0)


def curves_of(ctx: Context, study: Study, setup: str) -> list[Curve]:
    """The curves of a study on a setup, in the manifest's order of methods."""
    frame = ctx.compression
    if frame is None or "study" not in frame.columns:
        return []
    rows = frame[(frame["study"] == study.name) & (frame["setup"] == setup)]
    keys = [k for k in CURVE_KEYS if k in rows.columns]
    curves = []
    for values, group in rows.groupby(keys, sort=False, dropna=False):
        curves.append(Curve(study.name, setup, dict(zip(keys, values)),
                            group.sort_values("ratio").reset_index(drop=True)))
    return sorted(curves, key=lambda c: ctx.method_rank(c.method))


def study_curves(ctx: Context) -> Iterator[tuple[Study, str, list[Curve]]]:
    """(study, setup, its curves) for every study and setup, in the manifest's order."""
    for study in ctx.studies:
        for setup in study.setups:
            yield study, setup, curves_of(ctx, study, setup)


def common_ratios(curves: list[Curve]) -> list[float]:
    """Ratios > 0 that every curve has (all ratios > 0 when none is common)."""
    sets = [{round(r, 9) for r in c.ratios if r > 0} for c in curves]
    common = set.intersection(*sets) if sets else set()
    return sorted(common or set().union(*sets))


def nearest(ratios: list[float], target: float) -> float | None:
    return min(ratios, key=lambda r: (abs(r - target), r)) if ratios else None


def headline_ratio(curves: list[Curve]) -> float | None:
    return nearest(common_ratios(curves), HEADLINE)


def dense_and_at(curves: list[Curve], ratio: float | None) -> list[list[Stat | None]]:
    """The columns 'Dense' and 'at ratio' (empty without a ratio) of a table of curves."""
    return [[c.dense() for c in curves],
            [c.at(ratio) if ratio is not None else None for c in curves]]


def rescale_rank(curve: Curve) -> int:
    rescale = curve.rescale
    return RESCALE_ORDER.index(rescale) if rescale in RESCALE_ORDER else len(RESCALE_ORDER)


def seeds_text(curves: list[Curve]) -> str:
    """'over 3 seeds', 'over 2--5 seeds', or '' without a seeds column."""
    seeds = sorted({int(s) for c in curves for s in c.rows.get("seeds", [])})
    if not seeds:
        return ""
    n = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]}--{seeds[-1]}"
    return f"over {n} seed{'s' if seeds[-1] != 1 else ''}"


def define_headline_macros(macros: Macros, study: Study, setup: str, curves: list[Curve],
                           ratio: float, noun: str, name: Callable[[Curve], list[str]]) -> None:
    """The headline ratio of a study and setup, and the dense and compressed accuracy of each
    curve, ``name(curve)`` telling the curves apart; ``noun`` says what a curve is."""
    prefix = [study.name, setup]
    macros.define(prefix + ["Ratio"], f"{ratio:g}",
                  f"compression_summary.csv study={study.name}, setup={setup}: ratio nearest "
                  f"{HEADLINE:g} present for every {noun}")
    for c in curves:
        for what, stat in (("Dense", c.dense()), ("Compressed", c.at(ratio))):
            if stat is not None:
                macros.define(prefix + name(c) + [what], stat.macro(), stat.source)
