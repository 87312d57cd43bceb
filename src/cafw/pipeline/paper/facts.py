"""The facts of the paper: everything it states, computed from the tables up front by pure
functions, as plain data (numbers, strings, lists) that facts.json records and the templates
render.

A *section* is one block of results: one per study and setup, typed by the study's chart (the
config's classification, read from studies.csv: ``cafw.vocabulary.CHARTS``), with the sections
of the charts drawn beside it (a learning-rate ablation's training dynamics and learning-rate
grid), then the compute and the step-size rules.  Its ``type`` names the template
``templates/sections/<type>.tex.j2`` that renders it: the macros ``table``, ``finding`` and
``caption`` (of the figure whose file is named after the section's ``id``), each where the
section has one.  So a new kind of result is one facts function and one template: a study's
section registers in ``sections.STUDY_SECTIONS`` (its chart's entry names it), a section
beside it in ``sections.BESIDE_SECTIONS``, a section across studies is appended in ``facts``.
"""

from __future__ import annotations

import pandas as pd

from ...vocabulary import CHARTS, ChartEntry
from . import (  # noqa: F401 (ablation, comparison, dynamics, lr_grid, sensitivity register)
    ablation,
    claims,
    comparison,
    compute,
    dynamics,
    lr_grid,
    lr_theory,
    sensitivity,
    tuning,
)
from .curves import curves_of
from .sections import BESIDE_SECTIONS, STUDY_SECTIONS
from .tables import InputError


def facts(tables: dict[str, pd.DataFrame]) -> dict:
    manifest, summary = tables["manifest"], tables["compression_summary"]
    methods = manifest.drop_duplicates("method")
    families = dict(zip(methods["method"], methods["family"]))
    studies, sections = [], []
    for study in tables["studies"].to_dict("records"):
        runs = manifest[manifest["study"] == study["study"]]
        rows = summary[summary["study"] == study["study"]]
        if rows.empty:
            raise InputError(f"compression_summary.csv has no rows of study {study['study']!r}")
        chart = CHARTS[study["chart"]]
        type_ = chart.section
        studies.append({"name": study["study"], "kind": study["kind"], "type": type_,
                        "labels": _distinct(runs["label"]),
                        "schedules": _distinct(runs["schedule"]),
                        "variants": [v for v in _distinct(runs["variant"]) if v],
                        "ratios": sorted({round(float(r), 9) for r in rows["ratio"]})})
        for setup, setup_rows in rows.groupby("setup", sort=False):
            found = claims.of_study(tables["claims"], study["study"], setup)
            section = STUDY_SECTIONS[type_].facts(curves_of(setup_rows, list(families)), study,
                                                  found)
            sections += [section, *_beside(chart, section, tables["tuning"])]
    sections += [compute.facts(tables["compute"], families), lr_theory.facts(tables["lr_theory"])]
    if not tables["tuning"].empty:
        sections.append(tuning.facts(tables["tuning"]))
    if not tables["claims"].empty:
        sections.append(claims.facts(tables["claims"]))
    setups = manifest.drop_duplicates("setup")
    return {
        "counts": {key: int(manifest[column].nunique()) for key, column in (
            ("studies", "study"), ("setups", "setup"), ("runs", "run"), ("seeds", "seed"),
            ("replicates", "replicate"), ("methods", "method"))},
        "seeds": sorted(int(s) for s in manifest["seed"].unique()),
        "protocol": None if tables["claims"].empty else tables["claims"]["protocol"].iloc[0],
        "setups": setups[["setup", "dataset", "model"]].to_dict("records"),
        "methods": [{**row, "k": _number(row["k"]), "value": _number(row["value"])}
                    for row in methods[["method", "label", "family", "rescale", "k",
                                        "value"]].to_dict("records")],
        "studies": studies,
        "sections": sections,
    }


def _beside(chart: ChartEntry, section: dict, tuning_table: pd.DataFrame) -> list[dict]:
    """The sections of the charts drawn beside a study's own on its setup (a learning-rate
    ablation's SFW dynamics, and its learning-rate grid where it was tuned over learning
    rates)."""
    found = (BESIDE_SECTIONS[name](section, tuning_table) for name in chart.beside)
    return [s for s in found if s is not None]


def _distinct(values: pd.Series) -> list:
    return list(dict.fromkeys(values))


def _number(x) -> float | None:
    return None if pd.isna(x) else float(x)
