"""The facts of the paper: everything it states, computed from the tables up front by pure
functions, as plain data (numbers, strings, lists) that facts.json records and the templates
render.

A *section* is one block of results: one per study and setup, typed by what the study varies,
then the training dynamics, the compute and the step-size rules.  Its ``type`` names the
template ``templates/sections/<type>.tex.j2`` that renders it: the macros ``table``,
``finding`` and ``caption`` (of the figure whose file is named after the section's ``id``),
each where the section has one.  So a new kind of result is one facts function and one
template: a study type is added to ``STUDIES`` (and told apart in ``curves.study_type``), a
section across studies is appended in ``facts``.
"""

from __future__ import annotations

import pandas as pd

from . import ablation, claims, comparison, compute, lr_theory, sensitivity, tuning
from .curves import curves_of, study_type
from .tables import InputError

STUDIES = {"comparison": comparison.facts, "ablation": ablation.facts,
           "sensitivity": sensitivity.facts}  # study type -> facts(curves of a setup)


def facts(tables: dict[str, pd.DataFrame]) -> dict:
    manifest, summary = tables["manifest"], tables["compression_summary"]
    methods = manifest.drop_duplicates("method")
    families = dict(zip(methods["method"], methods["family"]))
    studies, sections = [], []
    for study, runs in manifest.groupby("study", sort=False):
        rows = summary[summary["study"] == study]
        if rows.empty:
            raise InputError(f"compression_summary.csv has no rows of study {study!r}")
        type_ = study_type(rows)
        studies.append({"name": study, "kind": runs["kind"].iloc[0], "type": type_,
                        "labels": _distinct(runs["label"]),
                        "schedules": _distinct(runs["schedule"]),
                        "variants": [v for v in _distinct(runs["variant"]) if v],
                        "ratios": sorted({round(float(r), 9) for r in rows["ratio"]})})
        sections += [STUDIES[type_](curves_of(setup_rows, list(families)))
                     for _, setup_rows in rows.groupby("setup", sort=False)]
    dynamics = {}  # setup -> the SFW dynamics of the ablations on it (one figure per setup)
    for s in sections:
        if s["type"] == "ablation":
            dynamics.setdefault(s["setup"], {
                "type": "dynamics", "id": f"dynamics__{s['setup']}", "setup": s["setup"],
                "dataset": s["dataset"], "model": s["model"], "studies": []})["studies"].append(
                    s["study"])
    sections += dynamics.values()
    sections += [compute.facts(tables["compute"], families), lr_theory.facts(tables["lr_theory"])]
    if not tables["tuning"].empty:
        sections.append(tuning.facts(tables["tuning"]))
    if not tables["claims"].empty:
        sections.append(claims.facts(tables["claims"]))
    setups = manifest.drop_duplicates("setup")
    return {
        "counts": {key: int(manifest[column].nunique()) for key, column in (
            ("studies", "study"), ("setups", "setup"), ("runs", "run"), ("seeds", "seed"),
            ("methods", "method"))},
        "seeds": sorted(int(s) for s in manifest["seed"].unique()),
        "setups": setups[["setup", "dataset", "model"]].to_dict("records"),
        "methods": [{**row, "k": _number(row["k"]), "value": _number(row["value"])}
                    for row in methods[["method", "label", "family", "rescale", "k",
                                        "value"]].to_dict("records")],
        "studies": studies,
        "sections": sections,
    }


def _distinct(values: pd.Series) -> list:
    return list(dict.fromkeys(values))


def _number(x) -> float | None:
    return None if pd.isna(x) else float(x)
